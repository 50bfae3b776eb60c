/**
 * Issue 16 benchmark (`npm run bench -- multicluster`): one gitgate managing 3 clusters — the hub it
 * runs in and two remote control planes registered by cluster Secrets — × 1,000 objects each (one
 * GitApp per cluster, bench/lib/manifests.ts's files), against the same build managing 1 cluster ×
 * 1,000 objects, in the same run. gitgate is its own process (lib/gitgate-process.ts), so its RSS is
 * its own. Reported per setup: GitApps applied → all Synced, RSS after sync, admission throughput
 * as a ratio to the fixed-answer server (admission.ts), and decision p99 as a client sees it (one
 * review at a time), with each remote cluster's kube-apiserver client certificate on
 * `/validate/<cluster>` against the hub's `/validate`. Every wait is bounded; never fails on a timing.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GitApp } from "../src/api/gitapp.js";
import { ClusterClient } from "../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../src/cluster/transport.js";
import { createCA, createServingCert } from "../src/certs/index.js";
import type { KubeObject } from "../src/manifest/object.js";
import { kubeconfigYaml, type ControlPlane } from "../src/testenv/controlplane.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { pinnedTools, type Tools } from "../src/testenv/tools.js";
import { LoadClient, minimalServer, type Target } from "./admission.js";
import { procCpuSeconds, spawnGitgate, type GitgateProcess, type LogLine } from "./lib/gitgate-process.js";
import type { LoadRequest, LoadResult } from "./lib/load-client.js";
import { liveReviews } from "./lib/live-reviews.js";
import { syncManifestFiles } from "./lib/manifests.js";
import { othersCpuPct, sampleCpu } from "./lib/noise.js";
import { boundedBy, fmt, median, nowMs, poll, runs, sleep, table, verdict } from "./lib/stats.js";
import { startControlPlaneWithRetry } from "./lib/world.js";

const MAIN =
  process.env.GITGATE_BENCH_GITGATE_MAIN ?? new URL("../src/cli/main.js", import.meta.url).pathname;
const NS = "gitgate-system";
const APPS_NAMESPACE = "default";
const REMOTES = ["dev", "staging"] as const;
const ROUNDS = 3;
const CONCURRENCY = 100;
/** Shorter than admission.ts (3,000 + 20,000): two setups × four paths share the run. */
const WARMUP = 2_000;
const REQUESTS = 10_000;
/** Decision latency: one review in flight, so the client sees the decision, not a queue. */
const LATENCY_WARMUP = 300;
const LATENCY_REQUESTS = 2_000;
const SYNC_TIMEOUT_MS = 300_000;
const LOAD_TIMEOUT_MS = 120_000;
const RSS_TARGET_MIB = 250;
const WITHIN = 0.1;

interface Scene {
  hub: ControlPlane;
  remote: Record<(typeof REMOTES)[number], ControlPlane>;
  git: GitServer;
  tools: Tools;
  admin: ClusterClient;
  scratch: string;
  repoURL: string;
  commit: string;
  clientCA: string;
}

/** One cluster as the bench addresses it: where its GitApp deploys and how its API server posts. */
interface Member {
  name: string;
  cp: ControlPlane;
  /** undefined: the hub (the cluster gitgate runs in). */
  cluster?: string;
  namespace: string;
  app: string;
}

interface PathResult {
  path: string;
  gitgate: LoadResult[];
  /** gitgate's process CPU over each timed throughput run, % of one core. */
  gitgateCpuPct: number[];
  fixed: LoadResult[];
  latency?: LoadResult;
  outcomes: Record<string, number>;
}

interface SetupResult {
  label: string;
  syncSeconds: number;
  rssMiB: number;
  peakMiB: number;
  /** gitgate's process CPU over the 5 s after all Synced, % of one core (should be ~0: nothing to do). */
  idleCpuPct: number;
  paths: PathResult[];
  othersPct: number;
}

const rps = (r: LoadResult): number => r.completed / r.seconds;

async function setUp(): Promise<Scene> {
  const t0 = nowMs();
  const [hub, dev, staging, git, tools] = await Promise.all([
    startControlPlaneWithRetry(false),
    startControlPlaneWithRetry(false, "dev-apiserver"),
    startControlPlaneWithRetry(false, "staging-apiserver"),
    startGitServer(),
    pinnedTools(),
  ]);
  const admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: hub.kubeconfigs.admin })));
  const scratch = await mkdtemp(join(tmpdir(), "gitgate-bench-mc-"));
  const { commit } = await git.createRepo("shop", syncManifestFiles());
  // Every API server's webhook client CA in one bundle, as test/harness/fleet.ts wires it.
  const clientCA = join(scratch, "webhook-clients.pem");
  const bundle = await Promise.all(
    [hub, dev, staging].map((cp) => readFile(cp.webhookClient.caPath, "utf8")),
  );
  await writeFile(clientCA, bundle.join(""));
  console.log(`[multicluster] 3 control planes, Git server up in ${fmt((nowMs() - t0) / 1000, 1)} s`);
  return {
    hub,
    remote: { dev, staging },
    git,
    tools,
    admin,
    scratch,
    repoURL: git.repoURL("shop"),
    commit,
    clientCA,
  };
}

async function tearDown(scene: Scene): Promise<void> {
  scene.admin.transport.close();
  await Promise.all(
    [scene.hub, ...Object.values(scene.remote)].map((cp) => cp.stop().catch(() => undefined)),
  );
  await scene.git.stop().catch(() => undefined);
  await rm(scene.scratch, { recursive: true, force: true });
}

/** A config file per setup (its own Git cache); webhooks served with client CA, not registered. */
async function writeConfig(scene: Scene, label: string): Promise<string> {
  const path = join(scene.scratch, `gitgate-${label}.json`);
  await writeFile(
    path,
    JSON.stringify({
      clusterName: "hub",
      leaderElection: { enabled: false },
      enforcement: { exemptGroups: ["system:masters"] },
      sync: { minInterval: "1s", cacheDir: join(scene.scratch, `cache-${label}`) },
      render: { helm: scene.tools.helm, kubectl: scene.tools.kubectl },
      tenancy: { platformNamespaces: [APPS_NAMESPACE] },
      // As sync.ts's webhook-off phase and scale.ts: /validate served (with mutual TLS, the client
      // CA bundle of all three API servers), webhooks not registered, so the sync is not gated.
      webhook: { register: false, clientCA: scene.clientCA },
      hooks: { allowUnsigned: true },
    }),
  );
  return path;
}

async function startGitgate(scene: Scene, config: string): Promise<{ proc: GitgateProcess; caPem: string }> {
  let listening = false;
  const problems: string[] = [];
  const proc = await spawnGitgate({
    main: MAIN,
    kubeconfig: scene.hub.kubeconfigs.gitgate ?? "",
    config,
    onLog: (line: LogLine) => {
      if (line.msg === "webhook server listening") listening = true;
      if (typeof line.level === "number" && line.level >= 40 && problems.length < 20)
        problems.push(JSON.stringify(line).slice(0, 300));
    },
  });
  await Promise.race([
    poll("gitgate listening", () => (listening ? true : undefined), 20, 120_000),
    proc.exited.then((code) => {
      throw new Error(`gitgate exited (${code}): ${problems.join("; ")}`);
    }),
  ]);
  const secret = await scene.admin.get({
    apiVersion: "v1",
    kind: "Secret",
    namespace: NS,
    name: "gitgate-webhook-tls",
  });
  const caPem = Buffer.from(String((secret?.data as Record<string, string>)["ca.crt"]), "base64").toString();
  return { proc, caPem };
}

/** The Secret that registers a remote cluster, binding its kube-apiserver's client certificate. */
async function register(scene: Scene, name: (typeof REMOTES)[number]): Promise<void> {
  const cp = scene.remote[name];
  await scene.admin.apply(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `cluster-${name}`, namespace: NS, labels: { "gitgate.io/secret-type": "cluster" } },
      stringData: {
        name,
        kubeconfig: kubeconfigYaml(cp.server, cp.caPem, "gitgate", cp.tokens.gitgate ?? ""),
        webhookClientNames: cp.webhookClient.commonName,
      },
    },
    { fieldManager: "bench", force: true },
  );
}

function gitApp(scene: Scene, member: Member): KubeObject {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name: member.app, namespace: APPS_NAMESPACE },
    spec: {
      source: { repoURL: scene.repoURL, revision: "main", path: "shop" },
      destination: { namespace: member.namespace, ...(member.cluster ? { cluster: member.cluster } : {}) },
      sync: { interval: "1h", prune: true, selfHeal: true, createNamespace: true },
    },
  };
}

/** How many of `members`' GitApps are Synced=True at the commit. */
async function syncedCount(scene: Scene, members: Member[]): Promise<number> {
  const { items } = await scene.admin.list({
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    namespace: APPS_NAMESPACE,
  });
  const wanted = new Set(members.map((m) => m.app));
  return (items as GitApp[]).filter(
    (app) =>
      wanted.has(app.metadata.name ?? "") &&
      app.status?.revision === scene.commit &&
      app.status?.conditions?.find((c) => c.type === "Synced")?.status === "True",
  ).length;
}

/**
 * One load, bounded in time (the child is killed by the caller's stop on a timeout); with `pid`,
 * that process's CPU over the timed part is returned in `cpuPct`.
 */
async function load(
  client: LoadClient,
  spec: LoadRequest,
  pid?: number,
): Promise<LoadResult & { cpuPct: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  let cpu = Number.NaN;
  let started = 0;
  const onStarted = (): void => {
    cpu = pid === undefined ? Number.NaN : procCpuSeconds(pid);
    started = nowMs();
  };
  const result = await boundedBy(
    client.run(spec, onStarted),
    LOAD_TIMEOUT_MS,
    () => `load on ${spec.url} took over ${LOAD_TIMEOUT_MS} ms`,
  );
  const used = pid === undefined ? Number.NaN : procCpuSeconds(pid) - cpu;
  return { ...result, cpuPct: (used / ((nowMs() - started) / 1000)) * 100 };
}

/**
 * Throughput rounds (gitgate's path and the fixed-answer server alternated, order rotating), then
 * decision latency one at a time, for each member's path, with that member's client certificate.
 */
async function admission(
  client: LoadClient,
  fixed: Target,
  fixedCa: string,
  proc: GitgateProcess,
  caPem: string,
  members: Member[],
): Promise<PathResult[]> {
  const results: PathResult[] = [];
  for (const member of members) {
    const path = member.cluster ? `/validate/${member.cluster}` : "/validate";
    const bodies = (await liveReviews(member.cp.kubeconfigs.admin ?? "", member.namespace)).map(
      (r) => r.body,
    );
    if (bodies.length === 0) throw new Error(`no Deployments synced to ${member.name}`);
    const base = {
      concurrency: CONCURRENCY,
      warmup: WARMUP,
      count: REQUESTS,
      size: "standard" as const,
      bodies,
      cert: member.cp.webhookClient.cert,
      key: member.cp.webhookClient.key,
    };
    const gitgateSpec: LoadRequest = { ...base, url: `https://127.0.0.1:${proc.port}${path}`, caPem };
    const fixedSpec: LoadRequest = { ...base, url: fixed.url, caPem: fixedCa };
    const result: PathResult = {
      path: `${member.name}: ${path}`,
      gitgate: [],
      gitgateCpuPct: [],
      fixed: [],
      outcomes: {},
    };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ["gitgate", "fixed"] : ["fixed", "gitgate"];
      for (const which of order) {
        const r = await load(client, which === "gitgate" ? gitgateSpec : fixedSpec, proc.pid);
        if (which === "gitgate") result.gitgateCpuPct.push(r.cpuPct);
        (which === "gitgate" ? result.gitgate : result.fixed).push(r);
        if (which === "gitgate")
          for (const [k, v] of Object.entries(r.outcomes)) result.outcomes[k] = (result.outcomes[k] ?? 0) + v;
        console.log(
          `[multicluster] ${result.path} round ${round + 1}: ${which} ${fmt(rps(r), 0)} reviews/s, p99 ${fmt(r.latencyMs.p99, 1)} ms, gitgate CPU ${fmt(r.cpuPct, 0)} %, ${JSON.stringify(r.outcomes)}`,
        );
      }
    }
    result.latency = await load(client, {
      ...gitgateSpec,
      concurrency: 1,
      warmup: LATENCY_WARMUP,
      count: LATENCY_REQUESTS,
    });
    console.log(
      `[multicluster] ${result.path} one at a time: p50 ${fmt(result.latency.latencyMs.p50, 2)} ms, p99 ${fmt(result.latency.latencyMs.p99, 2)} ms, ${JSON.stringify(result.latency.outcomes)}`,
    );
    results.push(result);
  }
  return results;
}

/** One setup: a fresh gitgate process, its GitApps applied, all Synced, RSS, admission. */
async function runSetup(scene: Scene, label: string, members: Member[]): Promise<SetupResult> {
  console.log(`\n[multicluster] setup: ${label}`);
  const before = sampleCpu();
  const { proc, caPem } = await startGitgate(
    scene,
    await writeConfig(scene, label.replace(/[^a-z0-9]+/g, "-")),
  );
  const client = new LoadClient();
  const ca = createCA("gitgate-bench-mc-ca", 30);
  const fixed = await minimalServer(createServingCert(ca, ["localhost"], ["127.0.0.1"], 30));
  try {
    for (const m of members) if (m.cluster) await register(scene, m.cluster as (typeof REMOTES)[number]);
    await sleep(2000);
    console.log(`[multicluster] gitgate RSS before the GitApps: ${fmt(proc.memory().rssMiB, 0)} MiB`);
    proc.resetPeak();
    const started = nowMs();
    for (const m of members)
      await scene.admin.apply(gitApp(scene, m), { fieldManager: "bench", force: true });
    let synced = 0;
    await poll(
      `${members.length} GitApps Synced`,
      async () => ((synced = await syncedCount(scene, members)) >= members.length ? true : undefined),
      200,
      SYNC_TIMEOUT_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; ${synced} of ${members.length} synced`);
    });
    const syncSeconds = (nowMs() - started) / 1000;
    const peakMiB = proc.peakRssMiB();
    const cpu = procCpuSeconds(proc.pid);
    await sleep(5000);
    const idleCpuPct = ((procCpuSeconds(proc.pid) - cpu) / 5) * 100;
    const rssMiB = proc.memory().rssMiB;
    console.log(
      `[multicluster] ${label}: all Synced in ${fmt(syncSeconds)} s; RSS ${fmt(rssMiB, 0)} MiB (peak ${fmt(peakMiB, 0)}); gitgate CPU over the next 5 s ${fmt(idleCpuPct, 0)} %`,
    );
    const paths = await admission(client, fixed, ca.cert, proc, caPem, members);
    return {
      label,
      syncSeconds,
      rssMiB,
      peakMiB,
      idleCpuPct,
      paths,
      othersPct: othersCpuPct(before, sampleCpu()),
    };
  } finally {
    client.stop();
    await fixed.close();
    await proc.stop();
  }
}

/** Reviews per second of gitgate's own CPU (median over runs): its cost per review, whatever the machine's load. */
function perCpuSecond(p: PathResult): number {
  return median(p.gitgate.map((r, i) => rps(r) / ((p.gitgateCpuPct[i] ?? Number.NaN) / 100)));
}

function ratioOf(p: PathResult): number {
  return median(p.gitgate.map(rps)) / median(p.fixed.map(rps));
}

function report(single: SetupResult, multi: SetupResult): void {
  const base = single.paths[0] as PathResult;
  const baseRatio = ratioOf(base);
  const baseP99 = base.latency?.latencyMs.p99 ?? Number.NaN;
  const rows: string[][] = [["measurement", "1 cluster", "3 clusters", "target", ""]];
  rows.push([
    "GitApps applied → all Synced (1,000 objects per cluster)",
    `${fmt(single.syncSeconds)} s`,
    `${fmt(multi.syncSeconds)} s`,
    "(info)",
    "",
  ]);
  rows.push([
    "gitgate peak RSS during the sync",
    `${fmt(single.peakMiB, 0)} MiB`,
    `${fmt(multi.peakMiB, 0)} MiB`,
    "(info)",
    "",
  ]);
  rows.push([
    "gitgate RSS after sync (VmRSS of its process, 5 s later)",
    `${fmt(single.rssMiB, 0)} MiB`,
    `${fmt(multi.rssMiB, 0)} MiB`,
    `≤ ${RSS_TARGET_MIB} MB`,
    verdict(multi.rssMiB * 1.048576 <= RSS_TARGET_MIB),
  ]);
  rows.push([
    "gitgate CPU over the 5 s after all Synced (nothing left to do)",
    `${fmt(single.idleCpuPct, 0)} %`,
    `${fmt(multi.idleCpuPct, 0)} %`,
    "(info)",
    "",
  ]);
  for (const p of multi.paths) {
    const ratio = ratioOf(p);
    const p99 = p.latency?.latencyMs.p99 ?? Number.NaN;
    rows.push([
      `throughput ratio gitgate / fixed answer — ${p.path} (runs ${runs(p.gitgate.map(rps), 0)} vs ${runs(p.fixed.map(rps), 0)})`,
      fmt(baseRatio),
      fmt(ratio),
      `≥ ${fmt(baseRatio * (1 - WITHIN))}`,
      verdict(ratio >= baseRatio * (1 - WITHIN)),
    ]);
    rows.push([
      `decision p99, one review at a time — ${p.path} (p50 ${fmt(p.latency?.latencyMs.p50 ?? Number.NaN)} ms)`,
      `${fmt(baseP99)} ms`,
      `${fmt(p99)} ms`,
      `≤ ${fmt(baseP99 * (1 + WITHIN))} ms`,
      verdict(p99 <= baseP99 * (1 + WITHIN)),
    ]);
    rows.push([
      `  gitgate process CPU during the throughput runs; reviews per CPU-second — ${p.path}`,
      `${fmt(median(base.gitgateCpuPct), 0)} %; ${fmt(perCpuSecond(base), 0)}`,
      `${fmt(median(p.gitgateCpuPct), 0)} %; ${fmt(perCpuSecond(p), 0)}`,
      "(info)",
      "",
    ]);
    rows.push([
      `  outcomes of the throughput runs — ${p.path}`,
      JSON.stringify(base.outcomes),
      JSON.stringify(p.outcomes),
      "",
      "",
    ]);
  }
  console.log(
    `\n1 cluster: hub /validate (runs ${runs(base.gitgate.map(rps), 0)} reviews/s vs fixed ${runs(base.fixed.map(rps), 0)}; p50 ${fmt(base.latency?.latencyMs.p50 ?? Number.NaN)} ms one at a time). ` +
      `Throughput: ${REQUESTS} reviews per run after ${WARMUP} warmup, ${CONCURRENCY} in flight, ${ROUNDS} rounds, medians; latency: ${LATENCY_REQUESTS} reviews one at a time after ${LATENCY_WARMUP}.`,
  );
  console.log(table(rows));
  console.log(
    `other processes' CPU (% of one core, machine has 2): 1 cluster ${fmt(single.othersPct, 0)} %, 3 clusters ${fmt(multi.othersPct, 0)} %`,
  );
}

export async function benchMulticluster(): Promise<void> {
  console.log(
    `\n== Multi-cluster (issue 16): 3 clusters × 1,000 objects vs 1 × 1,000, gitgate as its own process ==`,
  );
  const scene = await setUp();
  try {
    const single = await runSetup(scene, "1 cluster", [
      { name: "hub", cp: scene.hub, namespace: "mc-single", app: "shop-single" },
    ]);
    const multi = await runSetup(scene, "3 clusters", [
      { name: "hub", cp: scene.hub, namespace: "mc-hub", app: "shop-hub" },
      ...REMOTES.map((r) => ({
        name: r,
        cp: scene.remote[r],
        cluster: r,
        namespace: `mc-${r}`,
        app: `shop-${r}`,
      })),
    ]);
    report(single, multi);
  } finally {
    await tearDown(scene);
  }
}
