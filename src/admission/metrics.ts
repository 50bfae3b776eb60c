/** Admission metrics: requests by webhook and verdict, and how long deciding took. */
import { Counter, Histogram, type Registry } from "prom-client";
import type { Verdict } from "./types.js";

export type WebhookKind = "validate" | "mutate";
/** `error`: the request was malformed or gitgate failed to answer it (kube-apiserver applies failurePolicy). */
export type MetricVerdict = Verdict | "error";

export interface AdmissionMetrics {
  observe(webhook: WebhookKind, verdict: MetricVerdict, seconds: number): void;
}

export function createAdmissionMetrics(registry: Registry): AdmissionMetrics {
  const requests = new Counter({
    name: "gitgate_admission_requests_total",
    help: "Admission requests answered, by webhook and verdict.",
    labelNames: ["webhook", "verdict"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "gitgate_admission_decision_seconds",
    help: "Time from a parsed request to its answer (no I/O happens in between).",
    labelNames: ["webhook"] as const,
    // Decisions are in-memory: sub-millisecond normally; the tail matters against the 5 s webhook timeout.
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  // Label children resolved once: prom-client hashes a label object on every inc/observe otherwise.
  const counted = new Map<string, { inc(): void }>();
  const timed = new Map<WebhookKind, { observe(value: number): void }>();
  return {
    observe(webhook, verdict, seconds): void {
      const id = `${webhook}/${verdict}`;
      let counter = counted.get(id);
      if (!counter) counted.set(id, (counter = requests.labels(webhook, verdict)));
      counter.inc();
      let histogram = timed.get(webhook);
      if (!histogram) timed.set(webhook, (histogram = latency.labels(webhook)));
      histogram.observe(seconds);
    },
  };
}

export const noMetrics: AdmissionMetrics = { observe: () => undefined };
