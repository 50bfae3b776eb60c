/**
 * Issue 4 benchmark, three parts:
 * 1. Throughput: realistic Deployment AdmissionReviews posted over HTTPS keep-alive, 100 in flight,
 *    to gitgate's real admission stack (createApp + createAdmissionTransport + a DesiredIndex of 1,000
 *    entries, metrics and logging on) and to minimal Node HTTPS servers, in the same run. The load
 *    generator is a child process (bench/lib/load-client.ts) so it has its own event loop; both
 *    sides' CPU time is measured and printed.
 * 2. Decision latency: decide() called directly in a tight loop over the same reviews.
 * 3. Through kube-apiserver: sequential PATCHes of an annotation with gitgate's webhooks in the path
 *    (managed objects) and without (identical unmanaged objects, which the objectSelector skips;
 *    then the managed objects again after the webhook configurations are deleted).
 */
import { fork, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:https";
import { Writable } from "node:stream";
import { load } from "js-yaml";
import { Registry, type Counter } from "prom-client";
import { parseReview, encodeResponse } from "../src/admission/codec.js";
import { decide } from "../src/admission/decide.js";
import { parseReviewJson } from "../src/admission/decode.js";
import { createAdmissionMetrics } from "../src/admission/metrics.js";
import type { AdmissionRequest } from "../src/admission/types.js";
import { createCA, createServingCert } from "../src/certs/index.js";
import { admissionPolicy } from "../src/runtime/policy.js";
import { unregisterWebhooks } from "../src/server/webhooks.js";
import { registerWebhooks } from "../src/server/webhooks.js";
import { DEFAULT_CONFIG } from "../src/config/load.js";
import { createLogger } from "../src/log/logger.js";
import type { DesiredEntry } from "../src/manifest/desired.js";
import { keyOf, refOf, type KubeObject } from "../src/manifest/object.js";
import { createAdmissionTransport } from "../src/server/admission-http.js";
import { createApp } from "../src/server/app.js";
import { listenHttps } from "../src/server/https.js";
import { DesiredIndex } from "../src/gate/desired-index.js";
import type { GitApp } from "../src/api/gitapp.js";
import { GITGATE_SA_USERNAME } from "../src/testenv/controlplane.js";
import type { LoadRequest, LoadResult, SoakRequest, SoakResult } from "./lib/load-client.js";
import type { WriteRequest, WriteResult } from "./lib/write-client.js";
import {
  type ReviewSize,
  ADMISSION_APP,
  ADMISSION_COMMIT,
  ADMISSION_REPO,
  desiredDeployment,
  reviewWorkload,
  smallAppFiles,
} from "./lib/manifests.js";
import { fmt, median, nowMs, percentile, percentilesOf, poll, runs, table, verdict } from "./lib/stats.js";
import { machineBusySeconds, othersCpuPct, sampleCpu } from "./lib/noise.js";
import { startWorld, type World } from "./lib/world.js";

/**
 * `npm run bench` runs the compiled JavaScript (dist/bench), as gitgate ships; run through tsx the
 * children are .ts files, and fork() passes the parent's `--import tsx` on.
 */
const SOURCE_EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
const ROUNDS = 3;
const CONCURRENCY = 100;
const WARMUP_REQUESTS = 3_000;
const REQUESTS_PER_RUN = 20_000;
const DECIDE_WARMUP = 20_000;
const DECIDE_ITERATIONS = 100_000;
const WRITES_PER_BATCH = 200;

// ---------------------------------------------------------------------------------------------
// Servers

function benchIndex(extra: DesiredEntry[] = []): DesiredIndex {
  const entry = (object: KubeObject, file: string): DesiredEntry => {
    const ref = refOf(object);
    return {
      key: keyOf(ref),
      ref,
      object,
      app: ADMISSION_APP,
      source: { repoURL: ADMISSION_REPO, path: "shop", file, commit: ADMISSION_COMMIT },
      mode: "enforce",
      ignore: [],
    };
  };
  const entries: DesiredEntry[] = [];
  for (let i = 0; i < 200; i++) entries.push(entry(desiredDeployment(i), "shop/deployments.yaml"));
  for (let i = 0; i < 800; i++) {
    const cm: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: `web-config-${i}`,
        namespace: "shop",
        labels: { "gitgate.io/app": "gitgate-system.shop" },
      },
      data: { LOG_LEVEL: "info", MAX_CONNECTIONS: String(100 + i) },
    };
    entries.push(entry(cm, "shop/config.yaml"));
  }
  const index = new DesiredIndex();
  index.expect(ADMISSION_APP);
  index.replaceApp(ADMISSION_APP, entries);
  // The scale bench's other apps (bench/scale.ts): the same lookups in a bigger index.
  const byApp = new Map<string, DesiredEntry[]>();
  for (const e of extra)
    byApp.set(`${e.app.namespace}/${e.app.name}`, [
      ...(byApp.get(`${e.app.namespace}/${e.app.name}`) ?? []),
      e,
    ]);
  for (const list of byApp.values()) {
    const app = (list[0] as DesiredEntry).app;
    index.expect(app);
    index.replaceApp(app, list);
  }
  return index;
}

function benchPolicy(): ReturnType<typeof admissionPolicy> {
  const config = structuredClone(DEFAULT_CONFIG);
  config.enforcement.exemptGroups = ["system:masters", "platform-admins"];
  return admissionPolicy(config, GITGATE_SA_USERNAME);
}

export interface Target {
  name: string;
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Reads the body and answers a fixed "allowed" AdmissionReview (what the 7,000/s figure measured). */
export async function minimalServer(tls: { cert: string; key: string }): Promise<Target> {
  const fixed = JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid: "00000000-0000-0000-0000-000000000000", allowed: true },
  });
  const server = createServer({ ...tls, minVersion: "TLSv1.2" }, (req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(fixed) });
      res.end(fixed);
    });
  });
  const port = await listen(server);
  return {
    name: "minimal server, fixed answer",
    url: `https://127.0.0.1:${port}/validate`,
    close: () => closeServer(server),
  };
}

/** The least a valid webhook does: parse the review and echo its uid. */
async function minimalEchoServer(tls: { cert: string; key: string }): Promise<Target> {
  const server = createServer({ ...tls, minVersion: "TLSv1.2" }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request?: { uid?: string } };
      const body = JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: { uid: review.request?.uid ?? "", allowed: true },
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  const port = await listen(server);
  return {
    name: "minimal server, parses + echoes uid",
    url: `https://127.0.0.1:${port}/validate`,
    close: () => closeServer(server),
  };
}

/**
 * Diagnostic, not a gitgate server: gitgate's codec and decide() behind a bare node:https handler,
 * without metrics, logging, alerts or body cap. Before gitgate answered admission in front of
 * express this showed what the framework cost; now the gap to gitgate is that bookkeeping.
 */
async function plainDecideServer(tls: { cert: string; key: string }, index: DesiredIndex): Promise<Target> {
  const policy = benchPolicy();
  const server = createServer({ ...tls, minVersion: "TLSv1.2" }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const parsed = parseReview(parseReviewJson(Buffer.concat(chunks).toString("utf8")));
      const body = parsed.ok
        ? JSON.stringify(
            encodeResponse(
              parsed.request.uid,
              decide({ request: parsed.request, index, policy, now: new Date() }),
            ),
          )
        : "{}";
      res.writeHead(parsed.ok ? 200 : 400, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  const port = await listen(server);
  return { name: PLAIN, url: `https://127.0.0.1:${port}/validate`, close: () => closeServer(server) };
}

/** gitgate's own HTTP stack as runtime.ts composes it; logs at info into a sink that discards them. */
async function gitgateServer(
  tls: { cert: string; key: string },
  index: DesiredIndex,
  alertCount: { n: number },
): Promise<Target> {
  const discard = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const logger = createLogger("info", discard);
  const registry = new Registry();
  const policy = benchPolicy();
  const app = createApp({
    admission: createAdmissionTransport({
      gate: { index, recordAdmittedChange: () => undefined },
      policy: () => policy,
      alerts: { emit: () => void alertCount.n++ },
      logger,
      metrics: createAdmissionMetrics(registry),
    }),
    onPush: () => [],
    hooks: DEFAULT_CONFIG.hooks,
    isReady: () => true,
    registry,
    logger,
  });
  const listener = await listenHttps(app, "127.0.0.1", 0, tls);
  return {
    name: "gitgate /validate",
    url: `https://127.0.0.1:${listener.port}/validate`,
    close: () => listener.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Load client (child process)

interface ClientReply {
  ready?: boolean;
  started?: boolean;
  ok?: boolean;
  error?: string;
}

export class LoadClient {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;

  constructor() {
    this.child = fork(new URL(`./lib/load-client${SOURCE_EXT}`, import.meta.url), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once("error", reject);
      this.child.once("message", () => resolve());
    });
  }

  /** Runs one load; `onStarted` fires when warmup is over and the timed part begins. */
  run(spec: LoadRequest, onStarted: () => void): Promise<LoadResult> {
    return this.ask<LoadResult>(spec, onStarted);
  }

  /** Runs one soak (bench/soak.ts); `onStarted` fires as its clients start. */
  soak(spec: SoakRequest, onStarted: () => void): Promise<SoakResult> {
    return this.ask<SoakResult>(spec, onStarted);
  }

  private async ask<R>(spec: LoadRequest | SoakRequest, onStarted: () => void): Promise<R> {
    await this.ready;
    return new Promise((resolve, reject) => {
      const onMessage = (msg: ClientReply & { result?: R }): void => {
        if (msg.started) return onStarted();
        this.child.off("message", onMessage);
        if (msg.ok && msg.result) resolve(msg.result);
        else reject(new Error(`load client failed: ${msg.error ?? "no result"}`));
      };
      this.child.on("message", onMessage);
      this.child.send(spec);
    });
  }

  stop(): void {
    this.child.kill();
  }
}

interface RunResult {
  target: string;
  rps: number;
  load: LoadResult;
  serverCpuPct: number;
  clientCpuPct: number;
  /** CPU other processes on the machine used meanwhile (% of one core). */
  othersCpuPct: number;
}

async function measure(
  client: LoadClient,
  target: Target,
  caPem: string,
  size: ReviewSize,
  requests = REQUESTS_PER_RUN,
): Promise<RunResult> {
  let cpu: NodeJS.CpuUsage | undefined;
  let machine = 0;
  let started = 0;
  // Every contender starts on a collected heap: garbage left by earlier parts (the sync bench runs
  // in this process first) must not land on whichever server happens to run next.
  (globalThis as { gc?: () => void }).gc?.();
  const load = await client.run(
    {
      url: target.url,
      caPem,
      concurrency: CONCURRENCY,
      warmup: WARMUP_REQUESTS,
      count: requests,
      size,
    },
    () => {
      cpu = process.cpuUsage();
      machine = machineBusySeconds();
      started = nowMs();
    },
  );
  const wall = (nowMs() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const serverSeconds = (used.user + used.system) / 1e6;
  // Everything busy on the machine minus this process (servers) and the load client.
  const others = machineBusySeconds() - machine - serverSeconds - load.cpuSeconds;
  return {
    target: target.name,
    rps: load.completed / load.seconds,
    load,
    serverCpuPct: (serverSeconds / wall) * 100,
    clientCpuPct: (load.cpuSeconds / load.seconds) * 100,
    othersCpuPct: (Math.max(others, 0) / wall) * 100,
  };
}

interface Workload {
  size: ReviewSize;
  /** Server names to run; all three for the main workload. */
  servers: string[];
  /** Timed requests per run. */
  requests: number;
}

const FIXED = "minimal server, fixed answer";
const ECHO = "minimal server, parses + echoes uid";
const GITGATE = "gitgate /validate";
const PLAIN = "diagnostic: decide() on bare node:https";

const WORKLOADS: Workload[] = [
  { size: "standard", servers: [FIXED, GITGATE, ECHO, PLAIN], requests: REQUESTS_PER_RUN },
  // Informational; fewer requests keep the whole `npm run bench` within a few minutes.
  { size: "large", servers: [FIXED, GITGATE], requests: REQUESTS_PER_RUN / 2 },
];

/** Throughput ratio targets by review size (the issue's; absent: informational). */
type RatioTargets = Partial<Record<ReviewSize, number>>;

async function throughput(
  index: DesiredIndex,
  ratioTargets: RatioTargets = { standard: 0.8 },
): Promise<void> {
  const ca = createCA("gitgate-bench-ca", 30);
  const tls = createServingCert(ca, ["localhost"], ["127.0.0.1"], 30);
  const alertCount = { n: 0 };
  const servers = [
    await minimalServer(tls),
    await gitgateServer(tls, index, alertCount),
    await minimalEchoServer(tls),
    await plainDecideServer(tls, index),
  ];
  const client = new LoadClient();
  const rows: string[][] = [
    [
      "review size",
      "server",
      "median reviews/s",
      `runs (${ROUNDS})`,
      "client p50/p99 ms",
      "server CPU",
      "client CPU",
      "others' CPU",
    ],
  ];
  const ratios: string[][] = [["ratio (median reviews/s)", "value", "target", ""]];
  const sizes = new Map<ReviewSize, number>();
  try {
    for (const workload of WORKLOADS) {
      const targets = servers.filter((t) => workload.servers.includes(t.name));
      const results = new Map<string, RunResult[]>(targets.map((t) => [t.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate the order so that no server always runs on a warmer (or noisier) machine.
        const order = targets.map((_, i) => targets[(i + round) % targets.length] as Target);
        for (const target of order) {
          const result = await measure(client, target, ca.cert, workload.size, workload.requests);
          results.get(target.name)?.push(result);
          sizes.set(workload.size, result.load.bodyBytes);
          console.log(
            `[admission] ${workload.size} round ${round + 1}: ${target.name}: ${fmt(result.rps, 0)} reviews/s, client p99 ${fmt(result.load.latencyMs.p99, 1)} ms, ` +
              `server CPU ${fmt(result.serverCpuPct, 0)} %, client CPU ${fmt(result.clientCpuPct, 0)} %, others ${fmt(result.othersCpuPct, 0)} %, ${JSON.stringify(result.load.outcomes)}`,
          );
        }
      }
      const medians = new Map<string, number>();
      for (const [name, rs] of results) {
        const m = median(rs.map((r) => r.rps));
        medians.set(name, m);
        rows.push([
          `${workload.size} (${fmt((sizes.get(workload.size) ?? 0) / 1024, 1)} KiB)`,
          name,
          fmt(m, 0),
          runs(
            rs.map((r) => r.rps),
            0,
          ),
          `${fmt(median(rs.map((r) => r.load.latencyMs.p50)), 1)} / ${fmt(median(rs.map((r) => r.load.latencyMs.p99)), 1)}`,
          `${fmt(median(rs.map((r) => r.serverCpuPct)), 0)} %`,
          `${fmt(median(rs.map((r) => r.clientCpuPct)), 0)} %`,
          `${fmt(median(rs.map((r) => r.othersCpuPct)), 0)} %`,
        ]);
      }
      const gitgate = medians.get(GITGATE) ?? Number.NaN;
      const fixedRatio = gitgate / (medians.get(FIXED) ?? Number.NaN);
      const wanted = ratioTargets[workload.size];
      ratios.push([
        `${workload.size}: gitgate / minimal (fixed answer)`,
        fmt(fixedRatio),
        wanted !== undefined ? `≥ ${wanted}` : "(info)",
        wanted !== undefined ? verdict(fixedRatio >= wanted) : "",
      ]);
      if (medians.has(ECHO))
        ratios.push([
          `${workload.size}: gitgate / minimal (parses + echoes uid)`,
          fmt(gitgate / (medians.get(ECHO) ?? Number.NaN)),
          "(info)",
          "",
        ]);
      if (medians.has(PLAIN))
        ratios.push([
          `${workload.size}: diagnostic (bare decide) / minimal (fixed answer)`,
          fmt((medians.get(PLAIN) ?? Number.NaN) / (medians.get(FIXED) ?? Number.NaN)),
          "(info)",
          "",
        ]);
    }
  } finally {
    client.stop();
    for (const t of servers) await t.close();
  }
  console.log(
    `\nThroughput: UPDATE AdmissionReviews of Deployments (90 % allowed after a full comparison with Git, 10 % denied), ` +
      `${REQUESTS_PER_RUN} per run (large: ${REQUESTS_PER_RUN / 2}) after ${WARMUP_REQUESTS} warmup, ${CONCURRENCY} in flight over HTTPS keep-alive (agent maxSockets ${CONCURRENCY}); ` +
      `servers in this process, load client in a child process; CPU = % of one core over the timed part (server = this process, others = the rest of the machine)`,
  );
  console.log(table(rows));
  console.log(table(ratios));
  console.log(`gitgate raised ${alertCount.n} alerts (violations, into a counting sink)`);
}

// ---------------------------------------------------------------------------------------------
// decide() in a tight loop

interface Prepared {
  request: AdmissionRequest;
  violation: boolean;
  body: string;
}

function prepare(size: ReviewSize): Prepared[] {
  return reviewWorkload(size).map((w) => {
    const parsed = parseReview(JSON.parse(w.body));
    if (!parsed.ok) throw new Error(`bench review does not parse: ${parsed.error}`);
    return {
      request: parsed.request,
      violation: w.shape === "replicas-changed" || w.shape === "image-changed",
      body: w.body,
    };
  });
}

function decisionLatency(index: DesiredIndex): void {
  const policy = benchPolicy();
  const now = new Date();
  const rows: string[][] = [["measurement", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "target", ""]];
  const verdicts: Record<string, number> = {};
  for (const size of ["standard", "large"] as ReviewSize[]) {
    const requests = prepare(size);
    const pick = (i: number): Prepared => requests[i % requests.length] as Prepared;
    for (let i = 0; i < DECIDE_WARMUP; i++) decide({ request: pick(i).request, index, policy, now });
    const all = new Float64Array(DECIDE_ITERATIONS);
    const violations: number[] = [];
    for (let i = 0; i < DECIDE_ITERATIONS; i++) {
      const r = pick(i);
      const started = process.hrtime.bigint();
      const decision = decide({ request: r.request, index, policy, now });
      const us = Number(process.hrtime.bigint() - started) / 1000;
      all[i] = us;
      if (r.violation) violations.push(us);
      const v = `${decision.verdict}/${decision.reason}`;
      if (size === "standard") verdicts[v] = (verdicts[v] ?? 0) + 1;
    }
    const [p50, p99, p999, max] = percentilesOf(all, [50, 99, 99.9, 100]) as [number, number, number, number];
    // The request path minus HTTP: decode (skipping managedFields), schema check, decide, encode, stringify.
    const path = new Float64Array(DECIDE_ITERATIONS / 4);
    for (let i = 0; i < path.length; i++) {
      const r = pick(i);
      const started = process.hrtime.bigint();
      const parsed = parseReview(parseReviewJson(r.body));
      if (parsed.ok)
        JSON.stringify(
          encodeResponse(parsed.request.uid, decide({ request: parsed.request, index, policy, now })),
        );
      path[i] = Number(process.hrtime.bigint() - started) / 1000;
    }
    const [pp50, pp99, pp999] = percentilesOf(path, [50, 99, 99.9]) as [number, number, number];
    const target = size === "standard";
    rows.push([
      `${size}: decide(), all reviews`,
      fmt(p50, 1),
      fmt(p99, 1),
      fmt(p999, 1),
      fmt(max, 0),
      target ? "p99 ≤ 500 µs" : "(info)",
      target ? verdict(p99 <= 500) : "",
    ]);
    rows.push(
      ...undeclaredCost(
        size,
        requests.map((r) => r.request),
        index,
        policy,
        now,
      ),
    );
    rows.push([
      `${size}: decide(), violations only`,
      fmt(percentile(violations, 50), 1),
      fmt(percentile(violations, 99), 1),
      fmt(percentile(violations, 99.9), 1),
      fmt(percentile(violations, 100), 0),
      "",
      "",
    ]);
    rows.push([
      `${size}: parseReviewJson + parseReview + decide + encode`,
      fmt(pp50, 1),
      fmt(pp99, 1),
      fmt(pp999, 1),
      "",
      "",
      "",
    ]);
  }
  console.log(
    `\nDecision latency: decide() called directly over the same 200 reviews, ${DECIDE_ITERATIONS} calls per size after ${DECIDE_WARMUP} warmup; verdicts ${JSON.stringify(verdicts)}`,
  );
  console.log(table(rows));
}

/**
 * What comparing undeclared fields costs per review: the same reviews decided with it and with
 * `undeclaredFields: allow` (declared fields only), in alternating blocks so that drift in the
 * machine's speed hits both alike. Reported as the p50/p99 of each and the mean difference.
 */
function undeclaredCost(
  size: ReviewSize,
  requests: AdmissionRequest[],
  index: DesiredIndex,
  policy: ReturnType<typeof benchPolicy>,
  now: Date,
): string[][] {
  const declaredOnly = { ...policy, undeclaredFields: "allow" as const };
  const BLOCK = 1000;
  const blocks = DECIDE_ITERATIONS / BLOCK / 2;
  const full = new Float64Array(blocks * BLOCK);
  const bare = new Float64Array(blocks * BLOCK);
  const run = (pol: typeof policy, out: Float64Array, block: number): void => {
    for (let i = 0; i < BLOCK; i++) {
      const request = requests[(block * BLOCK + i) % requests.length] as AdmissionRequest;
      const started = process.hrtime.bigint();
      decide({ request, index, policy: pol, now });
      out[block * BLOCK + i] = Number(process.hrtime.bigint() - started) / 1000;
    }
  };
  for (let b = 0; b < blocks; b++) {
    if (b % 2 === 0) {
      run(policy, full, b);
      run(declaredOnly, bare, b);
    } else {
      run(declaredOnly, bare, b);
      run(policy, full, b);
    }
  }
  const mean = (a: Float64Array): number => a.reduce((x, y) => x + y, 0) / a.length;
  const [f50, f99] = percentilesOf(full, [50, 99]) as [number, number];
  const [b50, b99] = percentilesOf(bare, [50, 99]) as [number, number];
  return [
    [`${size}: decide(), undeclared fields compared`, fmt(f50, 1), fmt(f99, 1), "", "", "", ""],
    [`${size}: decide(), declared fields only (allow)`, fmt(b50, 1), fmt(b99, 1), "", "", "", ""],
    [
      `${size}: full comparison costs per review (mean)`,
      `${fmt(mean(full) - mean(bare), 2)} µs`,
      `ratio ${fmt(mean(full) / mean(bare), 2)}`,
      "",
      "",
      "(info)",
      "",
    ],
  ];
}

// ---------------------------------------------------------------------------------------------
// Through kube-apiserver

/** A managed object and its unmanaged twin (same manifest, other name, no gitgate label), written by one identity. */
interface WritePair {
  label: string;
  kind: "ConfigMap" | "Deployment";
  apiVersion: string;
  identity: "admin" | "user";
  managed: string;
  twin: string;
}

interface PairResult {
  managed: number[];
  twin: number[];
  /** Admission requests gitgate answered during the batch. */
  calls: number;
}

async function admissionCalls(world: World): Promise<number> {
  const counter = world.gitgate.registry.getSingleMetric("gitgate_admission_requests_total") as
    Counter | undefined;
  const values = (await counter?.get())?.values ?? [];
  return values.reduce((n, v) => n + v.value, 0);
}

/** The write client in a child process (bench/lib/write-client.ts): one request at a time. */
class WriteClient {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.child = fork(new URL(`./lib/write-client${SOURCE_EXT}`, import.meta.url), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once("error", reject);
      this.child.once("message", () => resolve());
    });
  }

  run(req: WriteRequest): Promise<WriteResult> {
    const next = this.queue.then(async () => {
      await this.ready;
      return new Promise<WriteResult>((resolve, reject) => {
        this.child.once("message", (msg: { ok: boolean; result?: WriteResult; error?: string }) => {
          if (msg.ok && msg.result) resolve(msg.result);
          else reject(new Error(`write client failed: ${msg.error ?? "no result"}`));
        });
        this.child.send(req);
      });
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  stop(): void {
    this.child.kill();
  }
}

/** Alternates managed and twin writes one by one, so that machine noise hits both sides alike. */
async function pairBatch(
  world: World,
  writer: WriteClient,
  pair: WritePair,
  namespace: string,
  count: number,
  tag: string,
): Promise<PairResult> {
  const before = await admissionCalls(world);
  const kubeconfig = world.cp.kubeconfigs[pair.identity] ?? "";
  const { managed, twin } = await writer.run({
    kubeconfig,
    apiVersion: pair.apiVersion,
    kind: pair.kind,
    namespace,
    managed: pair.managed,
    twin: pair.twin,
    count,
    tag,
  });
  return { managed, twin, calls: (await admissionCalls(world)) - before };
}

async function throughApiserver(): Promise<void> {
  const t0 = nowMs();
  const world = await startWorld({ webhook: true, controllerManager: false });
  const writer = new WriteClient();
  const namespace = "lat";
  try {
    const files = smallAppFiles();
    const { commit } = await world.git.createRepo("lat", files);
    await world.admin.apply(
      {
        apiVersion: "gitgate.io/v1alpha1",
        kind: "GitApp",
        metadata: { name: "lat", namespace: "default" },
        spec: {
          source: { repoURL: world.git.repoURL("lat"), revision: "main", path: "app" },
          destination: { namespace },
          sync: { interval: "1h", createNamespace: true },
        },
      },
      { fieldManager: "bench", force: true },
    );
    await poll(
      "GitApp lat Synced=True",
      async () => {
        const app = (await world.admin.get({
          apiVersion: "gitgate.io/v1alpha1",
          kind: "GitApp",
          namespace: "default",
          name: "lat",
        })) as GitApp | undefined;
        return app?.status?.revision === commit &&
          app.status.conditions?.find((c) => c.type === "Synced")?.status === "True"
          ? true
          : undefined;
      },
      100,
      120_000,
    );
    // Unmanaged twins: the same manifests under other names, applied without gitgate's label.
    const pairs: WritePair[] = [];
    for (const text of Object.values(files)) {
      const obj = load(text) as KubeObject;
      const managed = obj.metadata.name ?? "";
      obj.metadata.name = `${managed}-plain`;
      obj.metadata.namespace = namespace;
      await world.admin.apply(obj, { fieldManager: "bench", force: true });
      for (const identity of ["admin", "user"] as const) {
        const who = identity === "admin" ? "admin (system:masters, exempt)" : "alice (not exempt)";
        pairs.push({
          label: `${obj.kind} as ${who}`,
          kind: obj.kind as WritePair["kind"],
          apiVersion: obj.apiVersion,
          identity,
          managed,
          twin: obj.metadata.name,
        });
      }
    }
    pairs.sort((x, y) => x.kind.localeCompare(y.kind) * -1 || x.identity.localeCompare(y.identity));
    console.log(
      `\n[admission] control plane with gitgate's webhooks registered, app synced in ${fmt((nowMs() - t0) / 1000, 1)} s`,
    );
    const probe = pairs.find((p) => p.identity === "admin" && p.kind === "ConfigMap") as WritePair;
    // kube-apiserver learns about webhook configuration changes from an informer: wait until it (stops) calling.
    const waitWebhooks = async (active: boolean): Promise<void> => {
      await poll(
        `kube-apiserver to ${active ? "call" : "stop calling"} the webhooks`,
        async () => {
          const before = await admissionCalls(world);
          const kubeconfig = world.cp.kubeconfigs.admin ?? "";
          await writer.run({
            kubeconfig,
            apiVersion: probe.apiVersion,
            kind: probe.kind,
            namespace,
            managed: probe.managed,
            twin: probe.twin,
            count: 1,
            tag: "probe",
            managedOnly: true,
          });
          return (await admissionCalls(world)) > before === active ? true : undefined;
        },
        200,
        30_000,
      );
    };
    const webhookOptions = {
      namePrefix: DEFAULT_CONFIG.webhook.namePrefix,
      caBundle: Buffer.from(world.gitgate.caPem ?? "").toString("base64"),
      clientConfig: { url: world.gitgate.url ?? "" },
      ownNamespace: DEFAULT_CONFIG.namespace,
      failurePolicy: DEFAULT_CONFIG.webhook.failurePolicy,
      timeoutSeconds: DEFAULT_CONFIG.webhook.timeoutSeconds,
    };
    for (const p of pairs) await pairBatch(world, writer, p, namespace, 20, "warmup");

    // Each round: webhooks registered (every pair), then deleted (admin pairs), then registered again.
    const roundsStarted = sampleCpu();
    const on = new Map<string, PairResult[]>(pairs.map((p) => [p.label, []]));
    const off = new Map<string, PairResult[]>(pairs.map((p) => [p.label, []]));
    for (let round = 0; round < ROUNDS; round++) {
      if (round > 0) {
        await registerWebhooks(world.admin, webhookOptions);
        await waitWebhooks(true);
      }
      const order = round % 2 === 0 ? pairs : [...pairs].reverse();
      for (const p of order)
        on.get(p.label)?.push(await pairBatch(world, writer, p, namespace, WRITES_PER_BATCH, `on${round}`));
      await unregisterWebhooks(world.admin, DEFAULT_CONFIG.webhook.namePrefix);
      await waitWebhooks(false);
      for (const p of order.filter((x) => x.identity === "admin"))
        off.get(p.label)?.push(await pairBatch(world, writer, p, namespace, WRITES_PER_BATCH, `off${round}`));
    }

    const roundsEnded = sampleCpu();
    const medianOf = (rs: PairResult[], side: "managed" | "twin"): number =>
      median(rs.map((r) => median(r[side])));
    const gap = (r: PairResult | undefined): number => (r ? median(r.managed) - median(r.twin) : Number.NaN);
    const rows: string[][] = [
      [
        "merge-PATCH of an annotation",
        "managed ms",
        "twin ms",
        "calls/write",
        "managed − twin",
        "same, webhooks deleted",
        "added by webhooks",
        "per round",
        "target",
        "",
      ],
    ];
    for (const p of pairs) {
      const rs = on.get(p.label) ?? [];
      // Without webhooks the managed object and its twin differ a little (labels, annotations, managedFields):
      // measured with the configurations deleted, on the same objects, and subtracted round by round.
      const base = off.get(pairs.find((x) => x.kind === p.kind && x.identity === "admin")?.label ?? "") ?? [];
      const perRound = rs.map((r, i) => gap(r) - gap(base[i]));
      const added = median(perRound);
      rows.push([
        p.label,
        fmt(medianOf(rs, "managed")),
        fmt(medianOf(rs, "twin")),
        fmt(median(rs.map((r) => r.calls)) / WRITES_PER_BATCH, 1),
        `${fmt(median(rs.map(gap)))} ms`,
        `${fmt(median(base.map(gap)))} ms`,
        `${fmt(added)} ms`,
        runs(perRound),
        "≤ 3 ms",
        verdict(added <= 3),
      ]);
    }
    const sameObject = pairs
      .filter((p) => p.identity === "admin")
      .map(
        (p) =>
          `${p.kind} ${fmt(medianOf(on.get(p.label) ?? [], "managed"))} → ${fmt(medianOf(off.get(p.label) ?? [], "managed"))} ms`,
      )
      .join(", ");
    console.log(
      `\nThrough kube-apiserver (${world.cp.binaries.kubeApiserver}): per batch ${WRITES_PER_BATCH} merge-PATCHes of the managed object alternated ` +
        `with ${WRITES_PER_BATCH} of its unmanaged twin (same manifest, no gitgate label, so the objectSelector keeps it away from the webhooks), ` +
        `sequential over one keep-alive connection per identity; median of ${ROUNDS} per-round medians; webhooks deleted and re-registered between rounds`,
    );
    console.log(table(rows));
    console.log(
      `same managed object as admin, webhooks registered → deleted (rounds not interleaved, so noisier): ${sameObject}`,
    );
    console.log(
      `other processes' CPU during the write rounds: ${fmt(othersCpuPct(roundsStarted, roundsEnded), 0)} % of one core`,
    );
  } finally {
    writer.stop();
    await world.stop();
  }
}

/** Throughput against the minimal servers (part 1). */
export async function benchAdmissionHttp(): Promise<void> {
  console.log(`\n== Admission (issue 4): throughput ==`);
  await throughput(benchIndex());
}

/** decide() latency (part 2). */
export function benchAdmissionDecide(): Promise<void> {
  console.log(`\n== Admission (issue 4): decision latency ==`);
  decisionLatency(benchIndex());
  return Promise.resolve();
}

/** Write latency through kube-apiserver (part 3). */
export async function benchAdmissionApiserver(): Promise<void> {
  console.log(`\n== Admission (issue 4): writes through kube-apiserver ==`);
  await throughApiserver();
}

/**
 * Throughput and decide() latency with a bigger index (bench/scale.ts: the 10,000 objects of 500
 * GitApps besides the 1,000 reviewed here), against the scale issue's targets.
 */
export async function admissionWithIndex(extra: DesiredEntry[], targets: RatioTargets): Promise<void> {
  const index = benchIndex(extra);
  console.log(`\n== Admission with the full index: ${index.size} entries ==`);
  await throughput(index, targets);
  decisionLatency(index);
}

export async function benchAdmission(): Promise<void> {
  await benchAdmissionHttp();
  await benchAdmissionDecide();
  await benchAdmissionApiserver();
}
