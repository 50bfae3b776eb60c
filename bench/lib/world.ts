/**
 * What a benchmark runs against: a real control plane (optionally without kube-controller-manager),
 * a real Git smart-HTTP server, pinned tools, and gitgate's runtime in this process — the same
 * composition as test/harness/env.ts, with the knobs the benchmarks need.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRuntime, type Runtime } from "../../src/runtime/runtime.js";
import { ClusterClient } from "../../src/cluster/client.js";
import { loadKubeConfig, Transport, type RequestSpec } from "../../src/cluster/transport.js";
import { DEFAULT_CONFIG } from "../../src/config/load.js";
import type { GitgateConfig } from "../../src/config/schema.js";
import { createLogger, type LogLevel } from "../../src/log/logger.js";
import { startControlPlane, type ControlPlane } from "../../src/testenv/controlplane.js";
import { startGitServer, type GitServer } from "../../src/testenv/git-server.js";
import { pinnedTools, type Tools } from "../../src/testenv/tools.js";
import { sleep } from "./stats.js";

export interface WorldOptions {
  webhook: boolean;
  /** kube-controller-manager turns Deployments into ReplicaSets and Pods: load that has nothing to do with sync. */
  controllerManager: boolean;
  config?: (config: GitgateConfig) => void;
}

export interface World {
  cp: ControlPlane;
  git: GitServer;
  tools: Tools;
  gitgate: Runtime;
  admin: ClusterClient;
  stop(): Promise<void>;
}

/** The first start after a rebuild of the cached binaries can fail; retry a few times. */
export async function startControlPlaneWithRetry(
  controllerManager: boolean,
  webhookClientName?: string,
): Promise<ControlPlane> {
  let last: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startControlPlane({
        controllerManager,
        ...(webhookClientName ? { webhookClientName } : {}),
      });
    } catch (err) {
      last = err;
      console.error(
        `[bench] control plane failed to start (attempt ${attempt}/3): ${String(err).split("\n")[0]}`,
      );
      if (attempt < 3) await sleep(20_000);
    }
  }
  throw last;
}

export async function startWorld(opts: WorldOptions): Promise<World> {
  const [cp, git, tools] = await Promise.all([
    startControlPlaneWithRetry(opts.controllerManager),
    startGitServer(),
    pinnedTools(),
  ]);
  const cacheDir = await mkdtemp(join(tmpdir(), "gitgate-bench-cache-"));
  const admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
  const config = structuredClone(DEFAULT_CONFIG);
  config.clusterName = "bench";
  config.webhook.enabled = opts.webhook;
  config.leaderElection.enabled = false;
  config.sync.minInterval = "1s";
  config.enforcement.exemptGroups = ["system:masters", "platform-admins"];
  opts.config?.(config);
  let gitgate: Runtime;
  try {
    gitgate = await startRuntime({
      config,
      logger: createLogger((process.env.GITGATE_BENCH_LOG as LogLevel | undefined) ?? "silent"),
      kubeconfig: cp.kubeconfigs.gitgate,
      webhookAddress: "127.0.0.1:0",
      tools,
      cacheDir,
      alerts: { emit: () => undefined },
      installCrds: true,
    });
  } catch (err) {
    admin.transport.close();
    await Promise.all([cp.stop(), git.stop()]);
    throw err;
  }
  return {
    cp,
    git,
    tools,
    gitgate,
    admin,
    stop: async () => {
      await gitgate.stop().catch(() => undefined);
      admin.transport.close();
      await Promise.all([cp.stop(), git.stop()]);
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

export interface WriteRecord {
  at: number;
  method: RequestSpec["method"];
  path: string;
}

/**
 * Records every non-GET request a Transport sends (request() goes through stream(), so wrapping
 * stream() sees each call once). Watches and lists are GETs and are not counted.
 */
export function recordWrites(transport: Transport): { writes: WriteRecord[]; restore(): void } {
  const writes: WriteRecord[] = [];
  const original = transport.stream.bind(transport);
  transport.stream = (spec) => {
    if (spec.method !== "GET") writes.push({ at: performance.now(), method: spec.method, path: spec.path });
    return original(spec);
  };
  return { writes, restore: () => void (transport.stream = original) };
}
