/**
 * Whether a reconcile's status is worth a write. A resync that finds the app as Git has it changes
 * nothing but timestamps; writing those every time costs one etcd write and one watch event per app
 * per interval (500 apps: 500 writes each poll). Timestamps alone are therefore written at most once
 * per heartbeat, as kubelet does with a node's status: `lastSyncTime` stays a liveness signal no
 * older than the heartbeat, and any other change is written at once.
 */
import { jsonEqual } from "../diff/undeclared.js";
import type { GitAppStatus } from "../api/gitapp.js";

type Json = Record<string, unknown>;

/** Fields that only say "when"; a change to them alone waits for the heartbeat. */
const TIMESTAMPS: ReadonlyArray<readonly string[]> = [["lastSyncTime"], ["cluster", "checkedAt"]];

/** RFC 7386 JSON merge patch: what kube-apiserver makes of `patch` applied to `target`. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (value !== undefined) out[key] = mergePatch(out[key], value);
  }
  return out;
}

/**
 * True when writing `patch` over `previous` changes anything but timestamps, or when the last
 * written `lastSyncTime` is a heartbeat old (or absent) and the patch carries a new one.
 */
export function statusWriteNeeded(
  previous: GitAppStatus | undefined,
  patch: Json,
  now: Date,
  heartbeatMs: number,
): boolean {
  if (!previous) return true;
  const next = mergePatch(previous, patch) as Json;
  if (!jsonEqual(withoutTimestamps(previous as Json), withoutTimestamps(next))) return true;
  if (next.lastSyncTime === previous.lastSyncTime) return false;
  const last = previous.lastSyncTime ? Date.parse(previous.lastSyncTime) : NaN;
  return !(now.getTime() - last < heartbeatMs);
}

function withoutTimestamps(status: Json): Json {
  // Round-trip once so `undefined` members compare as absent, as they are on the wire.
  const copy = JSON.parse(JSON.stringify(status)) as Json;
  for (const path of TIMESTAMPS) {
    const parent = path.slice(0, -1).reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), copy);
    if (isObject(parent)) delete parent[path[path.length - 1] as string];
  }
  return copy;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
