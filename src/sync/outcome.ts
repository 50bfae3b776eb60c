/**
 * What a reconcile means for the outside world: the new status (written once), Kubernetes Events
 * and alerts. Alerts and events fire on transitions, not on every loop. Pure.
 */
import type { AlertEvent, FieldChange } from "../manifest/event.js";
import { publicRepoURL } from "../manifest/normalize.js";
import { describeRef } from "../manifest/object.js";
import { redactText } from "../manifest/redact.js";
import { findCondition, setConditions, type ConditionInput } from "./conditions.js";
import type { GitAppStatus } from "../api/gitapp.js";
import { healthTransition, type HealthAlert, type HealthStatus } from "../health/index.js";
import type { AppRef } from "../manifest/desired.js";
import type { ReconcileContext } from "./reconcile.js";

export interface KubeEventSpec {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface Outcome {
  status: GitAppStatus;
  events: KubeEventSpec[];
  alerts: AlertEvent[];
}

/** A commit as 7 hex digits; a chart version (not a SHA) whole. */
const short = (sha: string | undefined): string =>
  /^[0-9a-f]{40}$/.test(sha ?? "") ? (sha ?? "").slice(0, 7) : (sha ?? "");

/** `spec.x` for a changed declared field, `spec.y (not in Git, added by kubectl-patch)` for an addition. */
function describeChange(c: FieldChange): string {
  if (!c.undeclared) return c.path;
  return `${c.path} (not in Git${c.manager ? `, added by ${c.manager}` : ""})`;
}

function driftSummary(ctx: ReconcileContext): string {
  return ctx.drift
    .map(
      (d) =>
        `${describeRef(d.entry.ref)}: ${d.changes.map(describeChange).join(", ")}${d.changedBy ? ` (changed by ${d.changedBy})` : ""}`,
    )
    .join("; ");
}

function undeclaredOf(changes: readonly FieldChange[]): {
  undeclared?: Array<{ field: string; manager?: string }>;
} {
  const added = changes.filter((c) => c.undeclared);
  if (added.length === 0) return {};
  return { undeclared: added.map((c) => ({ field: c.path, ...(c.manager ? { manager: c.manager } : {}) })) };
}

function syncedCondition(ctx: ReconcileContext): ConditionInput {
  if (ctx.error) {
    const step = ctx.failedStep ? `${ctx.failedStep} failed: ` : "";
    return {
      type: "Synced",
      status: "False",
      reason: ctx.error.reason,
      message: redactText(step + ctx.error.message),
    };
  }
  if (ctx.spec.suspend)
    return { type: "Synced", status: "Unknown", reason: "Suspended", message: "sync is suspended" };
  // A wave or hook still running: not failed, not done (operation.ts requeues it shortly).
  if (ctx.waiting)
    return { type: "Synced", status: "Unknown", reason: "Progressing", message: redactText(ctx.waiting) };
  if (ctx.pruneRefused)
    return { type: "Synced", status: "False", reason: "PruneRefused", message: ctx.pruneRefused };
  return {
    type: "Synced",
    status: "True",
    reason: "Synced",
    message: `${ctx.desired.length} objects at ${short(ctx.commit)}`,
  };
}

function driftedCondition(
  ctx: ReconcileContext,
  previous: GitAppStatus | undefined,
): ConditionInput | undefined {
  if (ctx.error && ctx.failedStep !== "prune" && ctx.failedStep !== "health") return undefined;
  const open = ctx.drift.filter((d) => d.action !== "reverted");
  if (open.length > 0) {
    const held = open.every((d) => d.action === "held");
    return {
      type: "Drifted",
      status: "True",
      reason: held ? "BreakGlass" : "DriftDetected",
      message: driftSummary({ ...ctx, drift: open }),
    };
  }
  if (ctx.drift.length > 0)
    return {
      type: "Drifted",
      status: "False",
      reason: "DriftReverted",
      message: `reverted ${driftSummary(ctx)}`,
    };
  // Keep the record of the last revert until something new happens.
  const last = findCondition(previous?.conditions, "Drifted");
  if (last?.reason === "DriftReverted") return undefined;
  return { type: "Drifted", status: "False", reason: "InSync", message: "live objects match Git" };
}

function readyCondition(ctx: ReconcileContext, synced: ConditionInput): ConditionInput {
  if (synced.status !== "True")
    return { type: "Ready", status: "False", reason: synced.reason, message: synced.message };
  const health = ctx.health ?? "Unknown";
  const message = redactText(ctx.healthMessage ?? `objects are ${health.toLowerCase()}`);
  return healthReady(health, message);
}

/** The Ready condition for a synced app of this health (also written by the health refresh). */
export function healthReady(health: HealthStatus, message: string): ConditionInput {
  if (health === "Healthy") return { type: "Ready", status: "True", reason: "Healthy", message };
  return { type: "Ready", status: "False", reason: health, message };
}

export function composeOutcome(ctx: ReconcileContext, now: Date): Outcome {
  const previous = ctx.app.status;
  const generation = ctx.app.metadata.generation;
  const synced = syncedCondition(ctx);
  const updates = [readyCondition(ctx, synced), synced];
  const drifted = driftedCondition(ctx, previous);
  if (drifted) updates.push(drifted);
  const applied = !ctx.error && !ctx.spec.suspend;
  const status: GitAppStatus = {
    ...previous,
    conditions: setConditions(previous?.conditions, updates, now, generation),
    observedGeneration: generation,
    lastAttemptedRevision: ctx.commit ?? previous?.lastAttemptedRevision,
    drift: ctx.drift
      .filter((d) => d.action !== "reverted")
      .map((d) => ({
        object: describeRef(d.entry.ref),
        fields: d.changes.map((c) => c.path),
        changedBy: d.changedBy,
        ...undeclaredOf(d.changes),
      })),
  };
  const alerts = alertsFor(ctx, previous, synced, now);
  if (ctx.operation) status.operation = ctx.operation;
  if (applied) {
    // While a wave waits the new revision is only partly applied; its objects are in the inventory.
    if (!ctx.waiting) status.revision = ctx.commit;
    if (ctx.spec.chart || ctx.valuesCommit)
      status.source = {
        ...(ctx.spec.chart ? { chart: ctx.spec.chart, version: ctx.commit } : {}),
        ...(ctx.valuesCommit ? { valuesRevision: ctx.valuesCommit } : {}),
      };
    else delete status.source;
    status.inventory = ctx.inventory;
    status.lastSyncTime = now.toISOString();
    const { record, alert } = healthTransition(previous ?? {}, ctx.health ?? "Unknown", now);
    status.health = record.health;
    status.degradedSince = record.degradedSince ?? null; // null clears it in the merge patch
    if (alert) alerts.push(healthAlert(alert, ctx.spec.app, ctx.healthMessage ?? "", now, sourceOf(ctx)));
    if (!ctx.waiting && previous?.revision !== ctx.commit)
      alerts.push({
        type: "sync-succeeded",
        time: now.toISOString(),
        app: ctx.spec.app,
        source: sourceOf(ctx),
        action: `Synced ${ctx.desired.length} objects at ${short(ctx.commit)}.`,
      });
  }
  return { status, events: eventsFor(ctx, previous, synced), alerts };
}

function sourceOf(ctx: ReconcileContext): AlertEvent["source"] {
  return { repoURL: publicRepoURL(ctx.spec.repoURL), path: ctx.spec.path, commit: ctx.commit };
}

/** A health alert names the objects at fault; their status messages are redacted on delivery. */
export function healthAlert(
  type: HealthAlert,
  app: AppRef,
  message: string,
  now: Date,
  source?: AlertEvent["source"],
): AlertEvent {
  return {
    type,
    time: now.toISOString(),
    app,
    source,
    action:
      type === "health-degraded" ? "Reported: the app is Degraded." : "Reported: the app is Healthy again.",
    detail: message,
  };
}

function eventsFor(
  ctx: ReconcileContext,
  previous: GitAppStatus | undefined,
  synced: ConditionInput,
): KubeEventSpec[] {
  const events: KubeEventSpec[] = [];
  const before = findCondition(previous?.conditions, "Synced");
  if (synced.status === "False" && (before?.status !== "False" || before.reason !== synced.reason)) {
    events.push({ type: "Warning", reason: synced.reason, message: synced.message });
  }
  if (
    synced.status === "True" &&
    (ctx.appliedCount > 0 || ctx.pruned.length > 0 || before?.status !== "True")
  ) {
    const kept = ctx.kept.length > 0 ? `, kept ${ctx.kept.join(", ")} (prune disabled)` : "";
    const deferred =
      ctx.pruneDeferred.length > 0
        ? `, prune of ${ctx.pruneDeferred.join(", ")} waits until the rest is healthy (PruneLast)`
        : "";
    const pruned = (ctx.pruned.length > 0 ? `, pruned ${ctx.pruned.length}` : "") + kept + deferred;
    events.push({
      type: "Normal",
      reason: "Synced",
      message: `applied ${ctx.appliedCount} of ${ctx.desired.length} objects at ${short(ctx.commit)}${pruned}`,
    });
  }
  for (const d of ctx.drift.filter((x) => x.action === "reverted")) {
    events.push({
      type: "Warning",
      reason: "DriftReverted",
      message: `reverted ${describeRef(d.entry.ref)} ${d.changes.map((c) => c.path).join(", ")}${d.changedBy ? ` changed by ${d.changedBy}` : ""}`,
    });
  }
  return events;
}

function alertsFor(
  ctx: ReconcileContext,
  previous: GitAppStatus | undefined,
  synced: ConditionInput,
  now: Date,
): AlertEvent[] {
  const time = now.toISOString();
  const app = ctx.spec.app;
  const source = sourceOf(ctx);
  const alerts: AlertEvent[] = [];
  const before = findCondition(previous?.conditions, "Synced");
  if (synced.status === "False" && (before?.status !== "False" || before.reason !== synced.reason)) {
    const type = synced.reason === "PruneRefused" ? "prune-refused" : "sync-failed";
    alerts.push({
      type,
      time,
      app,
      source,
      action:
        type === "prune-refused"
          ? "Refused to prune; nothing was deleted."
          : "Left the live objects untouched.",
      detail: synced.message,
    });
  }
  // A failed sync followed by a new one that waited (Synced Unknown) before succeeding recovers too.
  const failedBefore =
    before?.status === "False" ||
    (before?.status === "Unknown" && before.reason === "Progressing" && ctx.operation?.recovering === true);
  if (synced.status === "True" && failedBefore) {
    alerts.push({
      type: "sync-recovered",
      time,
      app,
      source,
      action: `Synced ${ctx.desired.length} objects.`,
    });
  }
  const known = new Set((previous?.drift ?? []).map((d) => `${d.object}|${d.fields.join(",")}`));
  for (const d of ctx.drift) {
    const id = `${describeRef(d.entry.ref)}|${d.changes.map((c) => c.path).join(",")}`;
    // Reported drift persists across loops; alert only when it is new.
    if (d.action !== "reverted" && known.has(id)) continue;
    alerts.push({
      type: d.action === "reverted" ? "drift-reverted" : "drift-found",
      time,
      app,
      object: d.entry.ref,
      actor: d.changedBy ? { username: d.changedBy, via: "managedFields" } : undefined,
      changes: d.changes,
      source: d.entry.source,
      action:
        d.action === "reverted"
          ? "Reverted to the Git value."
          : d.action === "held"
            ? "Left as is: break-glass is active."
            : "Reported only: self-heal is off.",
    });
  }
  return alerts;
}
