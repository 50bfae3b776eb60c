/**
 * The apply step as a sync operation: the steps of waves.ts in order, each applied and, while the
 * operation runs, waited on until healthy before the next. Waiting never holds the worker: the
 * reconcile ends, records where it waits, and is requeued shortly; the step's time is bounded by
 * sync.timeout. Hooks are created once per operation and judged by their health.
 */
import type { ClusterClient } from "../cluster/client.js";
import { GitgateError, terminal } from "../errors.js";
import type { HookRecord, SyncOperation } from "../api/gitapp.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { APP_LABEL, appLabelValue } from "../manifest/labels.js";
import { describeRef, type KubeObject } from "../manifest/object.js";
import { applyEntries, planApply } from "./apply.js";
import { findCondition } from "./conditions.js";
import { healthOf } from "../health/index.js";
import {
  createdBy,
  currentOperation,
  deleteWhenDone,
  findHook,
  finish,
  hookObject,
  hookState,
  timedOut,
  waitAt,
} from "./hooks.js";
import type { ReconcileContext, ReconcileDeps } from "./reconcile.js";
import { withLiveIgnored } from "./respect-ignore.js";
import {
  hookOf,
  planSteps,
  waveOf,
  type HookPhase,
  type HookSpec,
  type Planned,
  type SyncStep,
} from "./waves.js";

/** How soon a waiting operation looks again. */
export const WAIT_REQUEUE_MS = 2_000;
const FIELD_MANAGER = "gitgate";

interface Io {
  ctx: ReconcileContext;
  deps: ReconcileDeps;
  writer: ClusterClient;
  op: SyncOperation;
  now: Date;
}

function plannedOf(ctx: ReconcileContext): Array<Planned<DesiredEntry>> {
  return [
    ...ctx.desired.map((e) => ({ item: e, kind: e.ref.kind, wave: waveOf(e.object) })),
    ...ctx.hooks.map((e) => ({
      item: e,
      kind: e.ref.kind,
      wave: waveOf(e.object),
      hook: hookOf(e.object) as HookSpec,
    })),
  ];
}

export async function runOperation(
  ctx: ReconcileContext,
  deps: ReconcileDeps,
  writer: ClusterClient,
): Promise<void> {
  const now = new Date();
  const failedBefore = findCondition(ctx.app.status?.conditions, "Synced")?.status === "False";
  const op = currentOperation(
    ctx.app.status?.operation,
    ctx.commit ?? "",
    ctx.app.metadata.generation,
    now,
    failedBefore,
  );
  ctx.operation = op;
  // A failed sync is not retried at the same commit and spec (a migration must not run again by itself).
  if (op.phase === "Failed") throw terminal(op.reason ?? "SyncFailed", op.message ?? "the sync failed");
  const plan = planApply(ctx.desired, (o) => deps.live.get(o), {
    selfHeal: ctx.spec.selfHeal,
    isHeld: (key, live) => deps.gate.isHeld(key, live),
    admittedChanger: (key, drifted) => deps.gate.admittedChanger(key, drifted),
  });
  ctx.drift = plan.drift;
  const needed = new Set(plan.toApply.map((e) => e.key));
  const { steps, syncFail } = planSteps(plannedOf(ctx));
  const io: Io = { ctx, deps, writer, op, now };
  const running = op.phase === "Running";
  const lastSync = steps.map((s) => s.phase).lastIndexOf("Sync");
  for (const [i, step] of steps.entries()) {
    const toApply = step.resources.filter((e) => needed.has(e.key));
    await applyStepResources(io, toApply, plan.takeOvers);
    if (i >= lastSync) ctx.syncApplied = true;
    if (!running) continue;
    const hooks = await runHooks(io, step.hooks, step.phase);
    const failed = hooks.find((h) => h.status === "Failed");
    if (failed) {
      const message = `${failed.phase} hook ${failed.kind} ${failed.namespace ? `${failed.namespace}/` : ""}${failed.name} failed${failed.message ? `: ${failed.message}` : ""}; later steps were not applied`;
      return fail(io, syncFail, "HookFailed", message);
    }
    // The last step is waited on only when something follows it (prune-last).
    const waitHealth = i < steps.length - 1 || ctx.spec.pruneLast;
    const pending = [
      ...hooks.filter((h) => h.status === "Running").map((h) => `hook ${h.kind} ${h.name} running`),
      ...(waitHealth ? unhealthy(io, step) : []),
    ];
    if (pending.length === 0) continue;
    const more = pending.length > 3 ? ` and ${pending.length - 3} more` : "";
    waitAt(op, step.label, `${step.label} waits for ${pending.slice(0, 3).join(", ")}${more}`, now);
    if (timedOut(op, ctx.spec.syncTimeoutMs, now))
      return fail(io, syncFail, "SyncTimeout", `${op.message ?? step.label} longer than sync.timeout`);
    ctx.waiting = op.message;
    ctx.requeueAfterMs = WAIT_REQUEUE_MS;
    return;
  }
  ctx.syncApplied = true;
  if (running) finish(op, "Succeeded", now);
}

async function applyStepResources(
  io: Io,
  entries: DesiredEntry[],
  takeOvers: ReturnType<typeof planApply>["takeOvers"],
): Promise<void> {
  if (entries.length === 0) return;
  const { ctx, deps } = io;
  const result = await applyEntries(
    io.writer,
    entries,
    deps.settings.concurrency,
    (live) => deps.live.remember(live),
    {
      takeOvers,
      objectOf: (e) => {
        const live = deps.live.get(e.object);
        return ctx.spec.respectIgnoreDifferences && live
          ? withLiveIgnored(e.object, live, e.ignore)
          : e.object;
      },
    },
  );
  ctx.appliedCount += result.applied.length;
  if (result.errors.length > 0) {
    const first = result.errors[0] as GitgateError;
    const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : "";
    const cls = result.errors.some((e) => e.class === "transient") ? "transient" : first.class;
    throw new GitgateError(cls, "ApplyFailed", `${first.message}${more}`, { cause: first });
  }
}

/**
 * The step's resources that are not healthy yet. Unknown counts as healthy (no check for the kind),
 * and so does Suspended: paused on purpose (a suspended CronJob) it would otherwise block every wave.
 */
function unhealthy(io: Io, step: SyncStep<DesiredEntry>): string[] {
  return step.resources.flatMap((e) => {
    const live = io.deps.live.get(e.object);
    const health = live ? healthOf(live) : { status: "Progressing" as const, message: "not seen yet" };
    if (health.status === "Healthy" || health.status === "Unknown" || health.status === "Suspended")
      return [];
    return [`${describeRef(e.ref)} (${health.status}${health.message ? `: ${health.message}` : ""})`];
  });
}

async function fail(io: Io, syncFail: DesiredEntry[], reason: string, message: string): Promise<never> {
  finish(io.op, "Failed", io.now, reason, message);
  // SyncFail hooks are started, not waited on: the sync has already failed.
  await runHooks(io, syncFail, "SyncFail").catch((err: unknown) =>
    io.deps.logger.warn(
      { app: `${io.ctx.spec.app.namespace}/${io.ctx.spec.app.name}`, err: String(err) },
      "SyncFail hook not created",
    ),
  );
  throw terminal(reason, message);
}

async function runHooks(io: Io, hooks: DesiredEntry[], phase: HookPhase): Promise<HookRecord[]> {
  const records: HookRecord[] = [];
  for (const entry of hooks) records.push(await runHook(io, entry, phase));
  return records;
}

function targetOf(rec: Pick<HookRecord, "apiVersion" | "kind" | "namespace" | "name">): {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
} {
  return { apiVersion: rec.apiVersion, kind: rec.kind, namespace: rec.namespace, name: rec.name };
}

/** Creates the hook's object once per operation, then follows it to Succeeded or Failed. */
async function runHook(io: Io, entry: DesiredEntry, phase: HookPhase): Promise<HookRecord> {
  const { op, deps } = io;
  let rec = findHook(op, entry.key, phase);
  const spec = hookOf(entry.object) as HookSpec;
  if (!rec) {
    rec = await createHook(io, entry, phase, spec);
    (op.hooks ??= []).push(rec);
  }
  if (rec.status !== "Running") return rec;
  const live = await deps.client.get(targetOf(rec));
  if (!live) {
    rec.status = "Failed";
    rec.message = "deleted before it finished";
    return rec;
  }
  const health = healthOf(live);
  const state = hookState(health);
  if (state === "Running") return rec;
  rec.status = state;
  if (health.message) rec.message = health.message;
  if (deleteWhenDone(spec.deletePolicies, state)) await io.writer.delete(targetOf(rec));
  return rec;
}

async function createHook(
  io: Io,
  entry: DesiredEntry,
  phase: HookPhase,
  spec: HookSpec,
): Promise<HookRecord> {
  const obj = hookObject(entry.object, io.op);
  const name = obj.metadata.name;
  const adopted = name ? await clearHookName(io, obj, name, spec) : undefined;
  const created =
    adopted ??
    (name
      ? await io.writer.apply(obj, { fieldManager: FIELD_MANAGER, force: true })
      : await io.writer.create(obj, { fieldManager: FIELD_MANAGER }));
  return {
    key: entry.key,
    phase,
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    ...(entry.ref.namespace ? { namespace: entry.ref.namespace } : {}),
    name: created.metadata.name ?? "",
    status: "Running",
  };
}

/**
 * BeforeHookCreation: the previous run's object goes before the new one is created. Only this
 * app's own object is deleted; one of the same name that is not this app's fails the hook. One
 * this operation created already is returned, to be followed instead.
 */
async function clearHookName(
  io: Io,
  obj: KubeObject,
  name: string,
  spec: HookSpec,
): Promise<KubeObject | undefined> {
  const target = { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name };
  const existing = await io.deps.client.get(target);
  if (!existing) return undefined;
  if (existing.metadata.labels?.[APP_LABEL] !== appLabelValue(io.ctx.spec.app))
    throw terminal(
      "HookConflict",
      `hook ${obj.kind} ${name} exists and is not this GitApp's; nothing was created`,
    );
  if (createdBy(existing, io.op) && !existing.metadata.deletionTimestamp) return existing;
  if (!spec.deletePolicies.includes("BeforeHookCreation")) return undefined;
  await io.writer.delete(target);
  const deadline = Date.now() + 30_000;
  while ((await io.deps.client.get(target)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  return undefined;
}
