/** Prometheus counters of the alerting subsystem, labelled by channel name and event type. */
import { Counter, Registry } from "prom-client";

export type AlertCounterName =
  | "gitgate_alerts_sent_total"
  | "gitgate_alerts_failed_total"
  | "gitgate_alerts_dropped_total"
  | "gitgate_alerts_deduplicated_total"
  | "gitgate_alerts_held_total";

const HELP: Record<AlertCounterName, string> = {
  gitgate_alerts_sent_total: "Alert messages delivered (2xx from the receiver).",
  gitgate_alerts_failed_total: "Alert messages given up on (retries exhausted or rejected with 4xx).",
  gitgate_alerts_dropped_total: "Alerts dropped because the channel queue was full or the dispatcher closed.",
  gitgate_alerts_deduplicated_total: "Alerts suppressed as repeats within the dedup window.",
  gitgate_alerts_held_total: "Alerts held back by the channel rate limit and folded into a summary message.",
};

export type AlertCounters = Record<AlertCounterName, Counter<"channel" | "type">>;

/**
 * Counters on `registry`. Reuses counters already registered there, so several dispatchers (tests,
 * config reloads) can share one registry without "already registered" errors.
 */
export function alertCounters(registry: Registry = new Registry()): AlertCounters {
  const make = (name: AlertCounterName): Counter<"channel" | "type"> => {
    const existing = registry.getSingleMetric(name);
    if (existing instanceof Counter) return existing;
    return new Counter({ name, help: HELP[name], labelNames: ["channel", "type"], registers: [registry] });
  };
  return {
    gitgate_alerts_sent_total: make("gitgate_alerts_sent_total"),
    gitgate_alerts_failed_total: make("gitgate_alerts_failed_total"),
    gitgate_alerts_dropped_total: make("gitgate_alerts_dropped_total"),
    gitgate_alerts_deduplicated_total: make("gitgate_alerts_deduplicated_total"),
    gitgate_alerts_held_total: make("gitgate_alerts_held_total"),
  };
}
