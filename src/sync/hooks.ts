/**
 * The sync operation across reconciles: which revision it syncs, where it waits, what its hooks
 * did. Hooks run once per operation (a commit or spec generation), like Argo CD's sync operation:
 * a later resync of the same revision does not run a migration Job again. Pure.
 */
import type { HookRecord, SyncOperation } from "../api/gitapp.js";
import type { KubeObject } from "../manifest/object.js";
import type { Health } from "../health/index.js";
import type { DeletePolicy, HookPhase } from "./waves.js";

export type HookState = HookRecord["status"];

/** The operation for this commit and generation: the one in status, else a new one. */
export function currentOperation(
  previous: SyncOperation | undefined,
  revision: string,
  generation: number | undefined,
  now: Date,
  afterFailure = false,
): SyncOperation {
  if (previous && previous.revision === revision && previous.generation === generation)
    return structuredClone(previous);
  return {
    revision,
    ...(generation !== undefined ? { generation } : {}),
    phase: "Running",
    startedAt: now.toISOString(),
    hooks: [],
    ...(afterFailure ? { recovering: true } : {}),
  };
}

/**
 * A hook is done when its object is healthy. Kinds without a health check (Unknown: a ConfigMap,
 * a custom resource) are done once created, as in Argo CD; a Job or Pod that failed is Failed.
 */
export function hookState(health: Health): HookState {
  if (health.status === "Degraded") return "Failed";
  // A suspended Job has not run; a hook not seen yet has not either: both wait (bounded by sync.timeout).
  if (health.status === "Progressing" || health.status === "Suspended" || health.status === "Missing")
    return "Running";
  return "Succeeded";
}

/** Whether a finished hook's object is deleted now. */
export function deleteWhenDone(policies: readonly DeletePolicy[], state: HookState): boolean {
  if (state === "Succeeded") return policies.includes("HookSucceeded");
  if (state === "Failed") return policies.includes("HookFailed");
  return false;
}

export function findHook(op: SyncOperation, key: string, phase: HookPhase): HookRecord | undefined {
  return op.hooks?.find((h) => h.key === key && h.phase === phase);
}

/** The annotation naming the operation (commit and generation) a hook's object was created for. */
export const HOOK_OPERATION_ANNOTATION = "gitgate.io/hook-operation";

/** An operation's identity: its commit and spec generation (a failed one is never run again). */
export function operationId(op: Pick<SyncOperation, "revision" | "generation">): string {
  return `${op.revision}/${op.generation ?? 0}`;
}

/**
 * The object created for a hook, marked with its operation: a hook named by `generateName` gets
 * its name from the API server, so the name is left out and the server's answer is recorded.
 */
export function hookObject(obj: KubeObject, op: SyncOperation): KubeObject {
  const copy = structuredClone(obj);
  if (copy.metadata.generateName && !copy.metadata.name) delete copy.metadata.name;
  copy.metadata.annotations = { ...copy.metadata.annotations, [HOOK_OPERATION_ANNOTATION]: operationId(op) };
  return copy;
}

/**
 * Whether a hook's existing object was created by this very operation. The operation's record
 * of it can be lost (gitgate stopped, or a stale copy of the GitApp read) between creating it and
 * writing status; such an object is followed, never deleted and created again: a migration Job
 * must not be killed and rerun.
 */
export function createdBy(existing: KubeObject, op: SyncOperation): boolean {
  return existing.metadata.annotations?.[HOOK_OPERATION_ANNOTATION] === operationId(op);
}

/** Whether `now` is past the wait budget of the step the operation waits at. */
export function timedOut(op: SyncOperation, timeoutMs: number, now: Date): boolean {
  if (!op.waitingSince) return false;
  return now.getTime() - Date.parse(op.waitingSince) > timeoutMs;
}

/** Records that the operation waits at `step` (keeping the time it started waiting there). */
export function waitAt(op: SyncOperation, step: string, message: string, now: Date): void {
  if (op.step !== step || !op.waitingSince) op.waitingSince = now.toISOString();
  op.step = step;
  op.message = message.slice(0, 1000);
}

export function finish(
  op: SyncOperation,
  phase: "Succeeded" | "Failed",
  now: Date,
  reason?: string,
  message?: string,
): void {
  op.phase = phase;
  op.finishedAt = now.toISOString();
  delete op.waitingSince;
  if (phase === "Succeeded") {
    delete op.step;
    delete op.reason;
    op.message = "synced";
  } else {
    if (reason) op.reason = reason;
    if (message) op.message = message.slice(0, 1000);
  }
}

const OPTIONAL_KEYS = [
  "generation",
  "finishedAt",
  "step",
  "waitingSince",
  "reason",
  "message",
  "recovering",
] as const;

/**
 * The operation as a merge patch: a key the new operation lacks is sent as null, or the previous
 * operation's value (its finishedAt, its failure) would stay in status.
 */
export function operationPatch(op: SyncOperation | undefined): Record<string, unknown> | undefined {
  if (!op) return undefined;
  const patch: Record<string, unknown> = { ...op };
  for (const key of OPTIONAL_KEYS) if (op[key] === undefined) patch[key] = null;
  return patch;
}
