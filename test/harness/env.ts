/**
 * A whole gitgate world for integration tests: a real control plane, a real Git smart-HTTP server,
 * pinned helm/kubectl, and gitgate itself running in this process as its service account.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AlertEvent, AlertSink } from "../../src/manifest/event.js";
import { ClusterClient } from "../../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../../src/cluster/transport.js";
import { DEFAULT_CONFIG } from "../../src/config/load.js";
import type { GitgateConfig } from "../../src/config/schema.js";
import { startRuntime, type Runtime } from "../../src/runtime/runtime.js";
import { createLogger, type LogLevel, type Logger } from "../../src/log/logger.js";
import type { KubeObject } from "../../src/manifest/object.js";
import type { GitApp } from "../../src/api/gitapp.js";
import {
  DEFAULT_IDENTITIES,
  startControlPlane,
  type ControlPlane,
  type Identity,
} from "../../src/testenv/controlplane.js";
import { startGitServer, type GitServer } from "../../src/testenv/git-server.js";
import { startNodeCluster, type Node } from "../../src/testenv/node.js";
import { kubectl, type KubectlResult } from "../../src/testenv/kubectl.js";
import { pinnedTools, type PinnedTools } from "../../src/testenv/tools.js";
import { startAll } from "./start-all.js";

export interface EnvOptions {
  webhook?: boolean;
  config?: (config: GitgateConfig) => void;
  alerts?: AlertSink;
  /** Deliver through the configured channels (config.alerts.channels) instead of recording. */
  realAlerts?: boolean;
  logLevel?: LogLevel;
  logger?: Logger;
  /**
   * A real node next to the control plane (src/testenv/node.ts): Pods run. Opt-in, one per machine;
   * the control plane then listens on the machine's address.
   */
  node?: boolean;
  /** Serve the dashboard (src/dashboard/) on a free loopback port: `gitgate.dashboardUrl`. */
  dashboard?: boolean;
  /** Token identities beyond DEFAULT_IDENTITIES (no RBAC unless the test binds some). */
  extraIdentities?: Identity[];
  /**
   * Run kube-controller-manager (default true). A test that writes Job status itself, acting as
   * the Job controller, turns it off: the real one would overwrite that status (1.20's Job
   * controller GETs the Job and replaces its whole status with what it computed before).
   */
  controllerManager?: boolean;
}

export interface TestEnv {
  cp: ControlPlane;
  /** With `node: true`: the node (containerd, kubelet, kube-scheduler, kube-proxy). */
  node?: Node;
  git: GitServer;
  tools: PinnedTools;
  gitgate: Runtime;
  /** API client as admin. */
  admin: ClusterClient;
  /** Alerts gitgate emitted (unless `alerts` was given). */
  alerts: AlertEvent[];
  kubectl(identity: string, args: string[], stdin?: string): Promise<KubectlResult>;
  applyGitApp(name: string, spec: GitApp["spec"], namespace?: string): Promise<void>;
  getGitApp(name: string, namespace?: string): Promise<GitApp | undefined>;
  get(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined>;
  /** Restarts gitgate with the same world (e.g. after changing config). */
  restart(opts?: EnvOptions): Promise<void>;
  stop(): Promise<void>;
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(
    `timed out waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ""}`,
  );
}

/** A Secret in `default` with these string values (base64-encoded here), applied as admin. */
export async function applySecret(env: TestEnv, name: string, data: Record<string, string>): Promise<void> {
  const encoded = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
  );
  await env.admin.apply(
    { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "default" }, data: encoded },
    { fieldManager: "test", force: true },
  );
}

export function condition(
  app: GitApp | undefined,
  type: string,
): { status: string; reason: string; message: string } | undefined {
  return app?.status?.conditions?.find((c) => c.type === type);
}

export async function startEnv(opts: EnvOptions = {}): Promise<TestEnv> {
  clearTimeout(aliveTimer); // another environment: the file is not done
  const [cluster, git, tools] = await startAll([
    opts.node
      ? startNodeCluster()
      : startControlPlane({
          ...(opts.extraIdentities ? { identities: [...DEFAULT_IDENTITIES, ...opts.extraIdentities] } : {}),
          ...(opts.controllerManager === false ? { controllerManager: false } : {}),
        }).then((cp) => ({ cp, node: undefined, stop: () => cp.stop() })),
    startGitServer(),
    pinnedTools(),
  ] as const).catch((err: unknown) => {
    reportIfStillAlive(); // a part that cannot be stopped is named, not waited on for the file timeout
    throw err;
  });
  const { cp, node } = cluster;
  const cacheDir = await mkdtemp(join(tmpdir(), "gitgate-cache-"));
  const admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
  const alerts: AlertEvent[] = [];

  const start = async (o: EnvOptions): Promise<Runtime> => {
    const config = structuredClone(DEFAULT_CONFIG);
    config.clusterName = "testenv";
    config.webhook.enabled = o.webhook ?? false;
    config.leaderElection.enabled = false;
    // Tests keep their platform GitApps in "default"; tenancy.test.ts uses tenant namespaces.
    config.tenancy = { platformNamespaces: ["default"] };
    config.sync.minInterval = "1s";
    config.enforcement.breakGlass.groups = ["sre-oncall"];
    config.enforcement.exemptGroups = ["system:masters", "platform-admins"];
    config.dashboard.enabled = o.dashboard ?? false;
    requireApiserverClientCert(config, cp);
    o.config?.(config);
    return startRuntime({
      config,
      logger:
        o.logger ??
        createLogger(o.logLevel ?? (process.env.GITGATE_TEST_LOG as LogLevel | undefined) ?? "silent"),
      kubeconfig: cp.kubeconfigs.gitgate,
      webhookAddress: "127.0.0.1:0",
      dashboardAddress: "127.0.0.1:0",
      tools,
      cacheDir,
      alerts: o.realAlerts ? undefined : (o.alerts ?? { emit: (e) => alerts.push(e) }),
      installCrds: true,
    });
  };

  let gitgate: Runtime;
  try {
    gitgate = await start(opts);
  } catch (err) {
    await Promise.all([cluster.stop(), git.stop()]);
    reportIfStillAlive();
    throw err;
  }

  const env: TestEnv = {
    cp,
    node,
    git,
    tools,
    get gitgate() {
      return gitgate;
    },
    admin,
    alerts,
    kubectl: (identity, args, stdin) =>
      kubectl(cp.binaries.kubectl, cp.kubeconfigs[identity] ?? "", args, stdin),
    applyGitApp: async (name, spec, namespace = "default") => {
      await admin.apply(
        { apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", metadata: { name, namespace }, spec },
        { fieldManager: "test", force: true },
      );
    },
    getGitApp: async (name, namespace = "default") =>
      (await admin.get({ apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", namespace, name })) as
        GitApp | undefined,
    get: (apiVersion, kind, namespace, name) => admin.get({ apiVersion, kind, namespace, name }),
    restart: async (o = opts) => {
      await gitgate.stop();
      gitgate = await start(o);
      const running = gitgate;
      await waitFor("gitgate ready after restart", () => running.isReady());
    },
    stop: async () => {
      await gitgate.stop().catch(() => undefined);
      admin.transport.close();
      await Promise.all([cluster.stop(), git.stop()]);
      await rm(cacheDir, { recursive: true, force: true });
      reportIfStillAlive();
    },
  };
  return env;
}

/**
 * mTLS on, as in production: gitgate's admission routes answer only the client certificate
 * kube-apiserver presents (the control plane's admission config). A test posting a review itself
 * presents `cp.webhookClient`'s certificate; one that wants it off sets `webhook.clientCA` undefined.
 */
function requireApiserverClientCert(config: GitgateConfig, cp: ControlPlane): void {
  config.webhook.clientCA = cp.webhookClient.caPath;
}

/** Armed when an environment stops, disarmed when the next one starts (see reportIfStillAlive). */
let aliveTimer: NodeJS.Timeout | undefined;

/**
 * A test file whose process outlives its last environment by a minute is held by something never
 * closed: say what, and end the process with the exit code its tests set (node:test sets 1 on a
 * failure), so a leaked handle is reported instead of hanging the whole suite. The timer is
 * unref'd: a clean exit prints nothing.
 */
function reportIfStillAlive(): void {
  clearTimeout(aliveTimer);
  aliveTimer = setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles();
    const what = handles.map((h) => {
      const s = h as {
        constructor?: { name?: string };
        remoteAddress?: string;
        remotePort?: number;
        localPort?: number;
      };
      return [s.constructor?.name, s.remoteAddress, s.remotePort ?? s.localPort].filter(Boolean).join(" ");
    });
    // Timers and requests are not handles; node names every kind of resource still alive.
    const resources = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap");
    process.stderr.write(
      `test process still alive 60 s after its environment stopped; handles: ${what.join(", ")}; ` +
        `resources: ${resources.join(", ")}\n`,
    );
    process.exit();
  }, 60_000).unref();
}

/** Waits until the GitApp reports Synced=True at `commit` (or any commit when omitted). */
export async function waitSynced(
  env: TestEnv,
  name: string,
  commit?: string,
  namespace = "default",
  timeoutMs = 30_000,
): Promise<GitApp> {
  return waitFor(
    `GitApp ${name} synced${commit ? ` at ${commit.slice(0, 7)}` : ""}`,
    async () => {
      const app = await env.getGitApp(name, namespace);
      const synced = condition(app, "Synced");
      return synced?.status === "True" && (!commit || app?.status?.revision === commit) ? app : undefined;
    },
    timeoutMs,
  );
}
