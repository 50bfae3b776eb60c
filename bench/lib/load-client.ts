/**
 * The load generator for the admission benchmark, run as a child process (its own event loop and
 * core) so that the client does not steal the server's event loop. It posts pre-serialised
 * AdmissionReviews over HTTPS keep-alive with a fixed number in flight and reports throughput,
 * client-side latency and its own CPU time.
 */
import { Agent, request } from "node:https";
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

// As a child process: one LoadRequest per message, one LoadResult back.
if (process.send) {
  process.on("message", (msg: LoadRequest) => {
    runLoad(msg).then(
      (result) => process.send?.({ ok: true, result }),
      (err: unknown) => process.send?.({ ok: false, error: String(err) }),
    );
  });
  process.send({ ready: true });
}
