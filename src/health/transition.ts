/**
 * What a GitApp's health change means: the status fields to keep and the alert to send. Degraded
 * is remembered (`degradedSince`) until the app is Healthy again, so a fix that passes through
 * Progressing still ends with one "recovered", and an ordinary rollout (Progressing → Healthy)
 * sends nothing. Pure.
 */
import type { HealthStatus } from "./types.js";

export interface HealthRecord {
  health?: HealthStatus;
  /** Set when the app became Degraded; cleared once it is Healthy. */
  degradedSince?: string | null;
}

export type HealthAlert = "health-degraded" | "health-recovered";

export function healthTransition(
  previous: HealthRecord,
  next: HealthStatus,
  now: Date,
): { record: HealthRecord; alert?: HealthAlert } {
  if (next === "Degraded") {
    if (previous.degradedSince) return { record: { health: next, degradedSince: previous.degradedSince } };
    return { record: { health: next, degradedSince: now.toISOString() }, alert: "health-degraded" };
  }
  if (next === "Healthy" && previous.degradedSince)
    return { record: { health: next }, alert: "health-recovered" };
  return {
    record: { health: next, ...(previous.degradedSince ? { degradedSince: previous.degradedSince } : {}) },
  };
}
