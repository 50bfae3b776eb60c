/**
 * Health between syncs: a managed object's status changed (a rollout finished, a pod started
 * crash-looping), so the app's health is judged again from the watch cache against the objects its
 * last sync applied, without fetching or applying anything. Pure.
 */
import type { GitApp, GitAppStatus } from "../api/gitapp.js";
import { healthTransition, summarizeHealth } from "../health/index.js";
import type { AlertEvent } from "../manifest/event.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { redactText } from "../manifest/redact.js";
import { findCondition, setConditions } from "./conditions.js";
import { healthAlert, healthReady } from "./outcome.js";
import { objectHealths } from "./reconcile.js";
import type { LiveState } from "./live.js";

export interface HealthUpdate {
  /** A merge patch for the GitApp's status. */
  status: Pick<GitAppStatus, "health" | "degradedSince" | "conditions">;
  alert?: AlertEvent;
  /** The health level changed (else only the Ready message did: the caller may pace those writes). */
  levelChanged: boolean;
}

/** The status change and alert for the app's health now; undefined when nothing changed. */
export function healthUpdate(
  app: GitApp,
  desired: readonly DesiredEntry[],
  live: Pick<LiveState, "get" | "watches">,
  now: Date,
): HealthUpdate | undefined {
  const previous = app.status ?? {};
  const summary = summarizeHealth(objectHealths(desired, live));
  const message = redactText(summary.message);
  // Ready also says whether the last sync worked: a failed sync's Ready stays as the sync wrote it.
  const synced = findCondition(previous.conditions, "Synced")?.status === "True";
  const levelChanged = summary.status !== previous.health;
  const messageChanged = synced && findCondition(previous.conditions, "Ready")?.message !== message;
  if (!levelChanged && !messageChanged) return undefined;
  const { record, alert } = healthTransition(previous, summary.status, now);
  const conditions = synced
    ? setConditions(previous.conditions, [healthReady(summary.status, message)], now, app.metadata.generation)
    : previous.conditions;
  const ref = { namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" };
  return {
    // null clears the field in a merge patch.
    status: { health: record.health, degradedSince: record.degradedSince ?? null, conditions },
    alert: alert ? healthAlert(alert, ref, message, now, { commit: previous.revision }) : undefined,
    levelChanged,
  };
}
