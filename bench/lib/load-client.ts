/**
 * The load generator for the admission benchmark, run as a child process (its own event loop and
 * core) so that the client does not steal the server's event loop. It posts pre-serialised
 * AdmissionReviews over HTTPS keep-alive with a fixed number in flight and reports throughput,
 * client-side latency and its own CPU time.
 */
import { Agent, request } from "node:https";
import { createSecureContext, type SecureContext } from "node:tls";
import { reviewWorkload, type ReviewSize } from "./manifests.js";

export interface LoadRequest {
  url: string;
  caPem: string;
  concurrency: number;
  warmup: number;
  count: number;
  size: ReviewSize;
  /** Review bodies to post instead of the built-in workload (bench/multicluster.ts: live objects). */
  bodies?: string[];
  /** A client certificate and key to present (a registered cluster's kube-apiserver). */
  cert?: string;
  key?: string;
}

export interface LoadResult {
  seconds: number;
  completed: number;
  /** Responses by outcome: HTTP status and, for 200, allowed/denied. */
  outcomes: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  cpuSeconds: number;
  bodyBytes: number;
}

const workloads: Record<ReviewSize, Buffer[]> = {
  standard: reviewWorkload("standard").map((w) => Buffer.from(w.body)),
  large: reviewWorkload("large").map((w) => Buffer.from(w.body)),
};

function post(agent: Agent, url: URL, spec: LoadRequest, body: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        ca: spec.caPem,
        ...(spec.cert && spec.key ? { cert: spec.cert, key: spec.key } : {}),
        headers: { "content-type": "application/json", "content-length": body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 200) return resolve(`http ${res.statusCode}`);
          const text = Buffer.concat(chunks).toString("utf8");
          resolve(text.includes('"allowed":true') ? "allowed" : "denied");
        });
        res.on("error", () => resolve("error"));
      },
    );
    req.on("error", (err) => resolve(`error ${err.message}`));
    req.end(body);
  });
}

function bodiesOf(spec: LoadRequest): Buffer[] {
  return spec.bodies ? spec.bodies.map((b) => Buffer.from(b)) : workloads[spec.size];
}

async function drive(
  agent: Agent,
  spec: LoadRequest,
  total: number,
  latencies?: Float64Array,
  outcomes?: Record<string, number>,
): Promise<void> {
  const url = new URL(spec.url);
  const bodies = bodiesOf(spec);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const started = performance.now();
      const outcome = await post(agent, url, spec, bodies[i % bodies.length] as Buffer);
      if (latencies) latencies[i] = performance.now() - started;
      if (outcomes) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
}

export async function runLoad(spec: LoadRequest): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
  try {
    await drive(agent, spec, spec.warmup);
    const latencies = new Float64Array(spec.count);
    const outcomes: Record<string, number> = {};
    process.send?.({ started: true });
    const cpu = process.cpuUsage();
    const started = performance.now();
    await drive(agent, spec, spec.count, latencies, outcomes);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    latencies.sort();
    const at = (p: number): number =>
      latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? Number.NaN;
    return {
      seconds,
      completed: spec.count,
      outcomes,
      latencyMs: { p50: at(50), p99: at(99), max: latencies[latencies.length - 1] ?? Number.NaN },
      cpuSeconds: (used.user + used.system) / 1e6,
      bodyBytes: bodiesOf(spec).reduce((n, b) => n + b.length, 0) / bodiesOf(spec).length,
    };
  } finally {
    agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Soak (bench/soak.ts): many clients, each on its own keep-alive connection, for a fixed time.

export interface SoakRequest {
  soak: true;
  url: string;
  caPem: string;
  cert?: string;
  key?: string;
  /** Clients, each with its own connection (an Agent with one socket), all starting at once. */
  clients: number;
  seconds: number;
  /** A request not answered within this is abandoned (its connection destroyed) and counted a timeout. */
  timeoutMs: number;
  reviews: Array<{ body: string; uid: string; expect: "allowed" | "denied" }>;
}

/** Error kinds of a soak: what kube-apiserver would see fail (failurePolicy applies). */
export type SoakErrorKind = "connection reset" | "timeout" | "other error" | "non-200" | "wrong answer";

export interface SoakResult {
  seconds: number;
  requests: number;
  answered: { allowed: number; denied: number };
  errors: Record<SoakErrorKind, number>;
  /** The first few error details (one line each). */
  samples: string[];
  latencyMs: { p50: number; p99: number; p999: number; max: number };
  /** Requests that opened their connection (TLS handshake included) and the rest. */
  firstOnConnection: { count: number; p50: number; p99: number; max: number };
  reused: { p50: number; p99: number; max: number };
  /** When the slowest request started, s after the start. */
  maxStartedAt: number;
  /** Slowest request per second of the run (by start time), ms. */
  maxBySecond: number[];
  cpuSeconds: number;
}

/** Caps what one soak keeps: samples are 8 bytes each (25,000/s for 60 s is 12 MB). */
const SOAK_MAX_REQUESTS = 20_000_000;
const SAMPLE_LINES = 10;

interface SoakOutcome {
  error?: SoakErrorKind;
  detail?: string;
  allowed?: boolean;
  fresh: boolean;
}

function soakPost(
  agent: Agent,
  url: URL,
  context: SecureContext,
  spec: SoakRequest,
  review: SoakRequest["reviews"][number],
  body: Buffer,
): Promise<SoakOutcome> {
  return new Promise((resolve) => {
    let fresh = true;
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": body.length },
        // A tls.connect option https.request passes on (its RequestOptions type does not list it).
        ...({ secureContext: context } as object),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) =>
          resolve({ error: timedOut ? "timeout" : "connection reset", detail: err.message, fresh }),
        );
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200)
            return resolve({
              error: "non-200",
              detail: `HTTP ${res.statusCode}: ${text.slice(0, 120)}`,
              fresh,
            });
          let answer: { response?: { uid?: string; allowed?: boolean } } = {};
          try {
            answer = JSON.parse(text) as typeof answer;
          } catch {
            // not JSON: a wrong answer below
          }
          const allowed = answer.response?.allowed === true;
          if (answer.response?.uid !== review.uid || allowed !== (review.expect === "allowed"))
            return resolve({ error: "wrong answer", detail: text.slice(0, 160), fresh });
          resolve({ allowed, fresh });
        });
      },
    );
    req.on("socket", () => void (fresh = !req.reusedSocket));
    // A deadline for the whole request (handshake, upload, answer), as kube-apiserver's timeoutSeconds.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      req.destroy(Object.assign(new Error("timed out"), { code: "SOAK_TIMEOUT" }));
    }, spec.timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("error", (err: NodeJS.ErrnoException) => {
      const kind: SoakErrorKind = timedOut
        ? "timeout"
        : err.code === "ECONNRESET" || err.code === "EPIPE" || err.message === "socket hang up"
          ? "connection reset"
          : "other error";
      resolve({ error: kind, detail: `${err.code ?? ""} ${err.message}`, fresh });
    });
    req.end(body);
  });
}

function pick(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

export async function runSoak(spec: SoakRequest): Promise<SoakResult> {
  const url = new URL(spec.url);
  const bodies = spec.reviews.map((r) => Buffer.from(r.body));
  const agents = Array.from({ length: spec.clients }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  // One TLS configuration for every connection, as kube-apiserver has: parsing the CA, certificate
  // and key for each of 500 connections would stall this client's event loop for seconds.
  const context = createSecureContext({
    ca: spec.caPem,
    ...(spec.cert && spec.key ? { cert: spec.cert, key: spec.key } : {}),
  });
  const latencies: number[] = [];
  const fresh: number[] = [];
  const reused: number[] = [];
  const maxBySecond: number[] = [];
  const errors: Record<SoakErrorKind, number> = {
    "connection reset": 0,
    timeout: 0,
    "other error": 0,
    "non-200": 0,
    "wrong answer": 0,
  };
  const answered = { allowed: 0, denied: 0 };
  const samples: string[] = [];
  let max = 0;
  let maxStartedAt = 0;
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + spec.seconds * 1000;
  const client = async (agent: Agent): Promise<void> => {
    while (performance.now() < deadline && next < SOAK_MAX_REQUESTS) {
      const i = next++;
      const began = performance.now();
      const outcome = await soakPost(
        agent,
        url,
        context,
        spec,
        spec.reviews[i % bodies.length] as SoakRequest["reviews"][number],
        bodies[i % bodies.length] as Buffer,
      );
      const ms = performance.now() - began;
      latencies.push(ms);
      (outcome.fresh ? fresh : reused).push(ms);
      const second = Math.floor((began - start) / 1000);
      maxBySecond[second] = Math.max(maxBySecond[second] ?? 0, ms);
      if (ms > max) [max, maxStartedAt] = [ms, (began - start) / 1000];
      if (outcome.error) {
        errors[outcome.error]++;
        if (samples.length < SAMPLE_LINES)
          samples.push(`${outcome.error}: ${outcome.detail ?? ""}`.slice(0, 200));
      } else answered[outcome.allowed ? "allowed" : "denied"]++;
    }
  };
  try {
    process.send?.({ started: true });
    await Promise.all(agents.map(client));
  } finally {
    for (const agent of agents) agent.destroy();
  }
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const sorted = (values: number[]): Float64Array => Float64Array.from(values).sort();
  const all = sorted(latencies);
  const first = sorted(fresh);
  const rest = sorted(reused);
  return {
    seconds,
    requests: latencies.length,
    answered,
    errors,
    samples,
    latencyMs: { p50: pick(all, 50), p99: pick(all, 99), p999: pick(all, 99.9), max },
    firstOnConnection: {
      count: first.length,
      p50: pick(first, 50),
      p99: pick(first, 99),
      max: pick(first, 100),
    },
    reused: { p50: pick(rest, 50), p99: pick(rest, 99), max: pick(rest, 100) },
    maxStartedAt,
    maxBySecond: Array.from(maxBySecond, (v) => v ?? 0),
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}

// As a child process: one LoadRequest (or SoakRequest) per message, one LoadResult (SoakResult) back.
if (process.send) {
  process.on("message", (msg: LoadRequest | SoakRequest) => {
    ("soak" in msg ? runSoak(msg) : runLoad(msg)).then(
      (result) => process.send?.({ ok: true, result }),
      (err: unknown) => process.send?.({ ok: false, error: String(err) }),
    );
  });
  process.send({ ready: true });
}
