/**
 * Issue 18 soak (`npm run bench -- soak`): 500 concurrent keep-alive HTTPS clients, each on its own
 * connection and presenting kube-apiserver's client certificate, post AdmissionReviews (live
 * Deployments of three synced GitApps, ~1,000 objects; 10 % violations, denied) to gitgate's
 * /validate for 60 s. gitgate is its own process (lib/gitgate-process.ts) with the webhook served
 * under mutual TLS (webhook.clientCA + clientNames), on a real control plane; the clients run in a
 * child process (lib/load-client.ts runSoak), so neither shares the other's event loop.
 * Reported: requests, errors by kind, throughput, latency percentiles and max, gitgate's RSS
 * before / peak / right after / a minute after, and other processes' CPU; then the same load for
 * 20 s against the floor (lib/floor-server.ts: mutual TLS, parse, answer), gitgate stopped, and
 * gitgate's maximum latency as a ratio to the floor's. Every wait is bounded;
 * never fails on a timing. GITGATE_BENCH_SOAK_SECONDS shortens the load (and the wait after it).
 */
import { fork } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCA, createServingCert } from "../src/certs/certs.js";
import { ClusterClient } from "../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../src/cluster/transport.js";
import type { KubeObject } from "../src/manifest/object.js";
import type { ControlPlane } from "../src/testenv/controlplane.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { pinnedTools, type Tools } from "../src/testenv/tools.js";
import { LoadClient } from "./admission.js";
import {
  GITGATE_MALLOC,
  procCpuSeconds,
  spawnGitgate,
  type GitgateProcess,
  type LogLine,
} from "./lib/gitgate-process.js";
import type { FloorSpec } from "./lib/floor-server.js";
import { liveReviews, type LiveReview } from "./lib/live-reviews.js";
import type { SoakErrorKind, SoakResult } from "./lib/load-client.js";
import { syncManifestFiles } from "./lib/manifests.js";
import { othersCpuPct, sampleCpu } from "./lib/noise.js";
import { gitgateCall, syncedCount } from "./lib/scale-cluster.js";
import { boundedBy, fmt, nowMs, poll, sleep, table, verdict } from "./lib/stats.js";
import { startControlPlaneWithRetry } from "./lib/world.js";

const MAIN =
  process.env.GITGATE_BENCH_GITGATE_MAIN ?? new URL("../src/cli/main.js", import.meta.url).pathname;
/** Node flags for the gitgate process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p` (as scale.ts). */
const NODE_ARGS = (process.env.GITGATE_BENCH_GITGATE_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
const SECONDS = boundedEnv("GITGATE_BENCH_SOAK_SECONDS", 60, 1, 600);
const CLIENTS = boundedEnv("GITGATE_BENCH_SOAK_CLIENTS", 500, 1, 2000);
/** How long after the load RSS is read again: the issue's minute, shorter with a shortened soak. */
const AFTER_SECONDS = Math.min(60, SECONDS);
/** kube-apiserver gives up on a webhook call after its timeoutSeconds (at most 30 s); 10 s is its default. */
const REQUEST_TIMEOUT_MS = 10_000;
const NS = "gitgate-system";
const APPS_NAMESPACE = "default";
const APPS = ["soak-a", "soak-b", "soak-c"];
const SYNC_TIMEOUT_MS = 300_000;
const MAX_TARGET_MS = 1000;
/** The floor's load (soakFloor): the opening storm is its first seconds, so a shorter run shows it. */
const FLOOR_SECONDS = Math.min(20, SECONDS);
/** As admission.ts: the children are .ts files when the bench runs through tsx. */
const SOURCE_EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
const RSS_TARGET_MIB = 150;

function boundedEnv(name: string, fallback: number, min: number, max: number): number {
  const value = Number(process.env[name] ?? fallback);
  return Number.isFinite(value) ? Math.min(Math.max(Math.round(value), min), max) : fallback;
}

interface Scene {
  cp: ControlPlane;
  git: GitServer;
  tools: Tools;
  admin: ClusterClient;
  scratch: string;
  repoURL: string;
  commit: string;
}

async function setUp(): Promise<Scene> {
  const [cp, git, tools] = await Promise.all([
    startControlPlaneWithRetry(false),
    startGitServer(),
    pinnedTools(),
  ]);
  const admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
  const scratch = await mkdtemp(join(tmpdir(), "gitgate-bench-soak-"));
  // 270 ConfigMaps + 60 Deployments per app, three apps: 990 objects in the index.
  const { commit } = await git.createRepo("shop", syncManifestFiles(270, 60));
  return { cp, git, tools, admin, scratch, repoURL: git.repoURL("shop"), commit };
}

async function tearDown(scene: Scene): Promise<void> {
  scene.admin.transport.close();
  await scene.cp.stop().catch(() => undefined);
  await scene.git.stop().catch(() => undefined);
  await rm(scene.scratch, { recursive: true, force: true });
}

/** /validate served with mutual TLS (kube-apiserver's client CA and name), webhooks not registered. */
async function writeConfig(scene: Scene): Promise<string> {
  const path = join(scene.scratch, "gitgate.json");
  await writeFile(
    path,
    JSON.stringify({
      clusterName: "soak",
      leaderElection: { enabled: false },
      enforcement: { exemptGroups: ["system:masters"] },
      sync: { minInterval: "1s", cacheDir: join(scene.scratch, "cache") },
      render: { helm: scene.tools.helm, kubectl: scene.tools.kubectl },
      tenancy: { platformNamespaces: [APPS_NAMESPACE] },
      webhook: {
        register: false,
        clientCA: scene.cp.webhookClient.caPath,
        clientNames: [scene.cp.webhookClient.commonName],
      },
      hooks: { allowUnsigned: true },
    }),
  );
  return path;
}

/** What gitgate logged that the soak reports: listening, and its warnings (first few, and a count). */
class LogTap {
  listening = false;
  warnings = 0;
  readonly problems: string[] = [];
  readonly byMessage = new Map<string, number>();

  readonly onLog = (line: LogLine): void => {
    if (line.msg === "webhook server listening") this.listening = true;
    if (typeof line.level !== "number" || line.level < 40) return;
    this.warnings++;
    const msg = String(line.msg ?? "");
    this.byMessage.set(msg, (this.byMessage.get(msg) ?? 0) + 1);
    if (this.problems.length < 10) this.problems.push(JSON.stringify(line).slice(0, 300));
  };
}

async function startGitgate(scene: Scene, tap: LogTap): Promise<{ proc: GitgateProcess; caPem: string }> {
  const proc = await spawnGitgate({
    main: MAIN,
    kubeconfig: scene.cp.kubeconfigs.gitgate ?? "",
    config: await writeConfig(scene),
    onLog: tap.onLog,
    nodeArgs: NODE_ARGS,
  });
  try {
    await Promise.race([
      poll("gitgate listening", () => (tap.listening ? true : undefined), 20, 120_000),
      proc.exited.then((code) => {
        throw new Error(`gitgate exited (${code}): ${tap.problems.join("; ")}`);
      }),
    ]);
    const secret = await scene.admin.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: NS,
      name: "gitgate-webhook-tls",
    });
    const caPem = Buffer.from(
      String((secret?.data as Record<string, string>)["ca.crt"]),
      "base64",
    ).toString();
    return { proc, caPem };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

function gitApp(scene: Scene, name: string): KubeObject {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name, namespace: APPS_NAMESPACE },
    spec: {
      source: { repoURL: scene.repoURL, revision: "main", path: "shop" },
      destination: { namespace: name },
      sync: { interval: "1h", prune: true, selfHeal: true, createNamespace: true },
    },
  };
}

/** The GitApps applied and Synced (bounded), then the reviews of their live Deployments. */
async function syncAndReview(scene: Scene): Promise<LiveReview[]> {
  const started = nowMs();
  for (const name of APPS)
    await scene.admin.apply(gitApp(scene, name), { fieldManager: "bench", force: true });
  await poll(
    `${APPS.length} GitApps Synced`,
    async () =>
      (await syncedCount(scene.admin, APPS_NAMESPACE, () => scene.commit)) >= APPS.length ? true : undefined,
    200,
    SYNC_TIMEOUT_MS,
  );
  console.log(
    `[soak] ${APPS.length} GitApps (990 objects) Synced in ${fmt((nowMs() - started) / 1000, 1)} s`,
  );
  const kubeconfig = scene.cp.kubeconfigs.admin ?? "";
  const reviews = (await Promise.all(APPS.map((ns, k) => liveReviews(kubeconfig, ns, `6a0e000${k}`)))).flat();
  if (reviews.length === 0) throw new Error("no Deployments synced to review");
  return reviews;
}

/** V8 heap used / total and external memory from gitgate's /metrics (MiB): what of its RSS is the JS heap. */
async function heapOf(proc: GitgateProcess, caPem: string): Promise<string> {
  try {
    const reply = await gitgateCall(proc.port, caPem, "GET", "/metrics");
    const value = (name: string): number => {
      const line = reply.body.split("\n").find((l) => l.startsWith(`${name} `));
      return line ? Number(line.slice(name.length + 1)) / 1048576 : Number.NaN;
    };
    return `heap ${fmt(value("nodejs_heap_size_used_bytes"), 0)}/${fmt(value("nodejs_heap_size_total_bytes"), 0)}, external ${fmt(value("nodejs_external_memory_bytes"), 0)}`;
  } catch (err) {
    return `(metrics unavailable: ${String(err).slice(0, 80)})`;
  }
}

interface Memory {
  before: number;
  peak: number;
  rightAfter: number;
  after: number;
  /** RSS every 10 s after the load (s, MiB). */
  curve: Array<[number, number]>;
  /** V8 heap before, right after and after the wait (heapOf). */
  heap: [string, string, string];
}

interface SoakRun {
  result: SoakResult;
  memory: Memory;
  gitgateCpuPct: number;
  /** gitgate's CPU time per answered request, µs (its cost per review, whatever the machine's load). */
  cpuPerRequestUs: number;
  othersPct: number;
}

/**
 * One soak by the load client as kube-apiserver (its client certificate), bounded in time, and the
 * CPU the server process `pid` used while the clients ran.
 */
async function boundedSoak(
  client: LoadClient,
  scene: Scene,
  load: { url: string; caPem: string; seconds: number; reviews: LiveReview[]; pid: number },
): Promise<{ result: SoakResult; cpuUsed: number }> {
  let cpu = Number.NaN;
  const result = await boundedBy(
    client.soak(
      {
        soak: true,
        url: load.url,
        caPem: load.caPem,
        cert: scene.cp.webhookClient.cert,
        key: scene.cp.webhookClient.key,
        clients: CLIENTS,
        seconds: load.seconds,
        timeoutMs: REQUEST_TIMEOUT_MS,
        reviews: load.reviews,
      },
      () => void (cpu = procCpuSeconds(load.pid)),
    ),
    (load.seconds + 120) * 1000,
    () => "soak client did not finish",
  );
  return { result, cpuUsed: procCpuSeconds(load.pid) - cpu };
}

/** The load against gitgate, and its memory before, during and after. */
async function soak(
  scene: Scene,
  proc: GitgateProcess,
  caPem: string,
  reviews: LiveReview[],
): Promise<SoakRun> {
  const client = new LoadClient();
  try {
    await sleep(5000); // the sync's garbage collected, the process settled
    const before = proc.memory().rssMiB;
    const heapBefore = await heapOf(proc, caPem);
    proc.resetPeak();
    const noise = sampleCpu();
    const { result, cpuUsed } = await boundedSoak(client, scene, {
      url: `https://127.0.0.1:${proc.port}/validate`,
      caPem,
      seconds: SECONDS,
      reviews,
      pid: proc.pid,
    });
    const gitgateCpuPct = (cpuUsed / result.seconds) * 100;
    const othersPct = othersCpuPct(noise, sampleCpu());
    const peak = proc.peakRssMiB();
    const rightAfter = proc.memory().rssMiB;
    const heapRightAfter = await heapOf(proc, caPem);
    const curve: Array<[number, number]> = [];
    for (let s = 10; s <= AFTER_SECONDS; s += 10) {
      await sleep(10_000);
      curve.push([s, proc.memory().rssMiB]);
    }
    if (AFTER_SECONDS % 10 !== 0) await sleep((AFTER_SECONDS % 10) * 1000);
    const after = proc.memory().rssMiB;
    const heap: Memory["heap"] = [heapBefore, heapRightAfter, await heapOf(proc, caPem)];
    const cpuPerRequestUs = (cpuUsed / Math.max(result.requests, 1)) * 1e6;
    return {
      result,
      memory: { before, peak, rightAfter, after, curve, heap },
      gitgateCpuPct,
      cpuPerRequestUs,
      othersPct,
    };
  } finally {
    client.stop();
  }
}

function report(run: SoakRun, reviews: LiveReview[], tap: LogTap): void {
  const { result: r, memory: m } = run;
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const mib = (v: number): string => `${fmt(v, 0)} MiB`;
  const rows: string[][] = [["measurement", "value", "target", ""]];
  rows.push([
    "requests (answered allowed / denied)",
    `${r.requests} (${r.answered.allowed} / ${r.answered.denied})`,
    "",
    "",
  ]);
  rows.push(["errors", String(errors), "0", verdict(errors === 0)]);
  for (const [kind, n] of Object.entries(r.errors) as Array<[SoakErrorKind, number]>)
    rows.push([`  ${kind}`, String(n), "", ""]);
  rows.push(["throughput", `${fmt(r.requests / r.seconds, 0)} reviews/s`, "(info)", ""]);
  rows.push([
    "latency p50 / p99 / p99.9",
    `${fmt(r.latencyMs.p50, 1)} / ${fmt(r.latencyMs.p99, 1)} / ${fmt(r.latencyMs.p999, 1)} ms`,
    "(info)",
    "",
  ]);
  rows.push([
    "latency max",
    `${fmt(r.latencyMs.max, 0)} ms (started at ${fmt(r.maxStartedAt, 1)} s)`,
    `≤ ${MAX_TARGET_MS} ms`,
    verdict(r.latencyMs.max <= MAX_TARGET_MS),
  ]);
  rows.push([
    `  first request on a connection (${r.firstOnConnection.count}) p50 / p99 / max`,
    `${fmt(r.firstOnConnection.p50, 0)} / ${fmt(r.firstOnConnection.p99, 0)} / ${fmt(r.firstOnConnection.max, 0)} ms`,
    "(info)",
    "",
  ]);
  rows.push([
    "  reused connection p50 / p99 / max",
    `${fmt(r.reused.p50, 1)} / ${fmt(r.reused.p99, 1)} / ${fmt(r.reused.max, 0)} ms`,
    "(info)",
    "",
  ]);
  rows.push(["gitgate RSS before the load", mib(m.before), "(info)", ""]);
  rows.push(["gitgate RSS peak during the load (sampled every 100 ms)", mib(m.peak), "(info)", ""]);
  rows.push(["gitgate RSS right after the load", mib(m.rightAfter), "(info)", ""]);
  rows.push([
    `gitgate RSS ${AFTER_SECONDS} s after the load`,
    mib(m.after),
    `< ${RSS_TARGET_MIB} MiB`,
    verdict(m.after < RSS_TARGET_MIB),
  ]);
  rows.push(["gitgate process CPU during the load", `${fmt(run.gitgateCpuPct, 0)} %`, "(info)", ""]);
  rows.push(["gitgate CPU time per request", `${fmt(run.cpuPerRequestUs, 0)} µs`, "(info)", ""]);
  rows.push(["load client CPU", `${fmt((r.cpuSeconds / r.seconds) * 100, 0)} %`, "(info)", ""]);
  rows.push([
    "other processes' CPU during the load (% of one core, 2 cores)",
    `${fmt(run.othersPct, 0)} %`,
    "(info)",
    "",
  ]);
  const denied = reviews.filter((x) => x.expect === "denied").length;
  console.log(
    `\n${CLIENTS} clients × ${fmt(r.seconds, 1)} s, each its own keep-alive TLS connection with kube-apiserver's client certificate; ` +
      `${reviews.length} distinct reviews (${denied} violations), request timeout ${REQUEST_TIMEOUT_MS} ms; gitgate on ${GITGATE_MALLOC}`,
  );
  console.log(table(rows));
  console.log(`slowest request per second (ms): ${r.maxBySecond.map((v) => fmt(v, 0)).join(" ")}`);
  console.log(`RSS after the load (s: MiB): ${m.curve.map(([s, v]) => `${s}: ${fmt(v, 0)}`).join(", ")}`);
  console.log(
    `gitgate V8 memory (MiB) before / right after / ${AFTER_SECONDS} s after: ${m.heap.join(" | ")}`,
  );
  if (r.samples.length > 0) console.log(`first errors:\n  ${r.samples.join("\n  ")}`);
  if (tap.warnings > 0)
    console.log(
      `gitgate warnings: ${tap.warnings} (${[...tap.byMessage].map(([k, v]) => `${k}: ${v}`).join("; ")})`,
    );
}

interface FloorRun {
  result: SoakResult;
  cpuPct: number;
  cpuPerRequestUs: number;
}

/**
 * The same load against the floor (lib/floor-server.ts: mutual TLS, parse, answer; its own
 * process), with gitgate stopped: what the storm of new connections costs without gitgate's work.
 */
async function soakFloor(scene: Scene, reviews: LiveReview[]): Promise<FloorRun> {
  const ca = createCA("gitgate-bench-floor-ca", 1);
  const serving = createServingCert(ca, ["localhost"], ["127.0.0.1"], 1);
  const child = fork(new URL(`./lib/floor-server${SOURCE_EXT}`, import.meta.url), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const client = new LoadClient();
  try {
    const started = new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("message", (msg: { port: number }) => resolve(msg.port));
      const spec: FloorSpec = {
        ...serving,
        clientCA: scene.cp.webhookClient.ca.cert,
        answers: reviews.map((r) => [r.uid, r.expect === "allowed"]),
      };
      child.send(spec);
    });
    const port = await boundedBy(started, 30_000, () => "floor server did not start");
    const { result, cpuUsed: used } = await boundedSoak(client, scene, {
      url: `https://127.0.0.1:${port}/validate`,
      caPem: ca.cert,
      seconds: FLOOR_SECONDS,
      reviews,
      pid: child.pid ?? 0,
    });
    return {
      result,
      cpuPct: (used / result.seconds) * 100,
      cpuPerRequestUs: (used / Math.max(result.requests, 1)) * 1e6,
    };
  } finally {
    client.stop();
    child.kill();
  }
}

function reportFloor(gitgate: SoakResult, floor: FloorRun): void {
  const r = floor.result;
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const rows: string[][] = [["floor: parse and answer, same mutual TLS, its own process", "value"]];
  rows.push(["requests / errors", `${r.requests} / ${errors}`]);
  rows.push(["throughput", `${fmt(r.requests / r.seconds, 0)} reviews/s`]);
  rows.push([
    "latency p50 / p99 / max",
    `${fmt(r.latencyMs.p50, 1)} / ${fmt(r.latencyMs.p99, 1)} / ${fmt(r.latencyMs.max, 0)} ms`,
  ]);
  rows.push([
    `  first request on a connection (${r.firstOnConnection.count}) p50 / max`,
    `${fmt(r.firstOnConnection.p50, 0)} / ${fmt(r.firstOnConnection.max, 0)} ms`,
  ]);
  rows.push(["  reused connection p99 / max", `${fmt(r.reused.p99, 1)} / ${fmt(r.reused.max, 0)} ms`]);
  rows.push([
    "server CPU during the load; per request",
    `${fmt(floor.cpuPct, 0)} %; ${fmt(floor.cpuPerRequestUs, 0)} µs`,
  ]);
  rows.push(["load client CPU", `${fmt((r.cpuSeconds / r.seconds) * 100, 0)} %`]);
  rows.push([
    "gitgate ÷ floor: max latency; first request on a connection, max",
    `${fmt(gitgate.latencyMs.max / r.latencyMs.max)}; ${fmt(gitgate.firstOnConnection.max / r.firstOnConnection.max)}`,
  ]);
  console.log(
    `\nThe floor: the same ${CLIENTS} clients for ${fmt(r.seconds, 1)} s against a server that only parses and answers (lib/floor-server.ts), gitgate stopped`,
  );
  console.log(table(rows));
  console.log(`floor: slowest request per second (ms): ${r.maxBySecond.map((v) => fmt(v, 0)).join(" ")}`);
}

export async function benchSoak(): Promise<void> {
  console.log(
    `\n== Soak (issue 18): ${CLIENTS} keep-alive clients for ${SECONDS} s against /validate, gitgate as its own process ==`,
  );
  const scene = await setUp();
  const tap = new LogTap();
  try {
    const { proc, caPem } = await startGitgate(scene, tap);
    let run: SoakRun;
    let reviews: LiveReview[];
    try {
      reviews = await syncAndReview(scene);
      tap.warnings = 0;
      tap.byMessage.clear();
      run = await soak(scene, proc, caPem, reviews);
      report(run, reviews, tap);
    } finally {
      await proc.stop();
    }
    reportFloor(run.result, await soakFloor(scene, reviews));
  } finally {
    await tearDown(scene);
  }
}
