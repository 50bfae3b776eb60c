/**
 * diffDeclared: which fields declared in Git differ in another version of the object (live, or an
 * admission request). Pure. Only declared fields count, so API-server defaults and fields other
 * managers own are never differences — the same view server-side apply takes of an applier's fields.
 */
import type { FieldChange } from "../manifest/event.js";
import type { IgnoreRule } from "../manifest/desired.js";
import { isPlainObject, refOf, type KubeObject } from "../manifest/object.js";
import { isSecret, isSecretValuePath, REDACTED } from "../manifest/redact.js";
import { cursorIgnores, cursorIgnoresPath, ignoreCursor, stepCursor, type IgnoreCursor } from "./ignore.js";
import { findByKey, itemKey, mergeKeyFor } from "./lists.js";
import { formatPath, toPointer, type PathSegment } from "./path.js";
import { isQuantityPath, quantitiesEqual } from "./quantity.js";

/** A FieldChange plus the RFC 6901 pointer of the field in the desired object. */
export interface DeclaredChange extends FieldChange {
  pointer: string;
}

export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

/** Identity, type and server-maintained fields: never compared. */
const SKIPPED_ROOT = new Set(["apiVersion", "kind", "status"]);
const SKIPPED_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "selfLink",
  "managedFields",
]);

interface Walk {
  kind: string;
  /** The path being compared, pushed and popped as the walk descends (copied only into a change). */
  path: PathSegment[];
  out: DeclaredChange[];
}

export function diffDeclared(
  desired: KubeObject,
  live: KubeObject | undefined,
  ignore: IgnoreRule[],
): DeclaredChange[] {
  const ignored = ignoreCursor(refOf(desired), ignore);
  if (cursorIgnores(ignored)) return []; // a "" pointer ignores the whole object
  const walk: Walk = { kind: desired.kind, path: [], out: [] };
  const liveRoot: Record<string, unknown> = live ?? {};
  const secret = isSecret(desired);
  for (const field of Object.keys(desired)) {
    if (SKIPPED_ROOT.has(field)) continue;
    if (secret && (field === "data" || field === "stringData")) continue;
    if (field === "metadata") compareMetadata(walk, ignored, desired.metadata, liveRoot.metadata);
    else descend(walk, ignored, field, desired[field], liveRoot[field]);
  }
  if (secret) compareSecretValues(walk, ignored, desired, live);
  return secret ? walk.out.map(redactChange) : walk.out;
}

function compareMetadata(
  walk: Walk,
  ignored: IgnoreCursor,
  desired: KubeObject["metadata"],
  live: unknown,
): void {
  const liveMeta = isPlainObject(live) ? live : {};
  walk.path.push("metadata");
  const inMetadata = stepCursor(ignored, "metadata");
  if (!cursorIgnores(inMetadata)) {
    for (const field of Object.keys(desired)) {
      if (SKIPPED_METADATA.has(field)) continue;
      const value = desired[field];
      if (field === "annotations" && isPlainObject(value)) {
        const { [LAST_APPLIED_ANNOTATION]: _lastApplied, ...declared } = value;
        descend(walk, inMetadata, field, declared, liveMeta[field]);
      } else descend(walk, inMetadata, field, value, liveMeta[field]);
    }
  }
  walk.path.pop();
}

/** compare() one level down, at `segment`. */
function descend(
  walk: Walk,
  ignored: IgnoreCursor,
  segment: PathSegment,
  desired: unknown,
  live: unknown,
): void {
  // null in a manifest (`creationTimestamp: null`, `resources:`) declares nothing.
  if (desired === null || desired === undefined) return;
  const below = stepCursor(ignored, segment);
  if (cursorIgnores(below)) return;
  walk.path.push(segment);
  compare(walk, below, desired, live);
  walk.path.pop();
}

/** Compares at walk.path, which the ignore cursor does not cover. */
function compare(walk: Walk, ignored: IgnoreCursor, desired: unknown, live: unknown): void {
  if (isPlainObject(desired)) {
    if (live !== undefined && live !== null && !isPlainObject(live)) return record(walk, desired, live);
    const liveMap = isPlainObject(live) ? live : {};
    for (const key of Object.keys(desired)) descend(walk, ignored, key, desired[key], liveMap[key]);
    return;
  }
  if (Array.isArray(desired)) return compareList(walk, ignored, desired, live);
  if (!leafEqual(walk.kind, walk.path, desired, live)) record(walk, desired, live);
}

function compareList(walk: Walk, ignored: IgnoreCursor, desired: unknown[], live: unknown): void {
  if (live !== undefined && live !== null && !Array.isArray(live)) return record(walk, desired, live);
  const liveList: unknown[] = Array.isArray(live) ? live : [];
  const spec = mergeKeyFor(walk.kind, walk.path);
  if (spec) {
    // Associative: each declared item must exist live (by key); extra live items are someone else's.
    for (let index = 0; index < desired.length; index++) {
      const item = desired[index];
      if (item === null || item === undefined) continue;
      const key = itemKey(item, spec, index);
      if (!key) {
        descend(walk, ignored, index, item, liveList[index]);
        continue;
      }
      const liveItem = findByKey(liveList, item, spec);
      if (liveItem === undefined) {
        if (cursorIgnores(stepCursor(ignored, key))) continue;
        walk.path.push(key);
        record(walk, item, undefined);
        walk.path.pop();
      } else descend(walk, ignored, key, item, liveItem);
    }
    return;
  }
  // Atomic: same length, then each element with declared-subset semantics (defaults inside are fine).
  if (desired.length === 0 && liveList.length === 0) return;
  if (desired.length !== liveList.length) return record(walk, desired, live);
  for (let index = 0; index < desired.length; index++)
    descend(walk, ignored, index, desired[index], liveList[index]);
}

function leafEqual(kind: string, path: readonly PathSegment[], desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  // omitempty: the API server drops zero values of non-pointer fields (`hostNetwork: false`, `value: ""`).
  if (live === undefined || live === null) return isZeroValue(desired);
  const fields = path.filter((s): s is string => typeof s === "string");
  // Only quantities compare across spellings; an int-or-string like targetPort keeps "80" != 80.
  return isQuantityPath(kind, fields) && quantitiesEqual(desired, live);
}

function isZeroValue(value: unknown): boolean {
  if (value === "" || value === false || value === 0) return true;
  if (Array.isArray(value)) return value.length === 0;
  return isPlainObject(value) && Object.keys(value).length === 0;
}

function record(walk: Walk, gitValue: unknown, liveValue: unknown): void {
  walk.out.push({
    path: formatPath(walk.path),
    pointer: toPointer(walk.path),
    gitValue,
    liveValue: liveValue ?? undefined,
  });
}

/** Secret values compared as bytes: `stringData.x` in Git equals `data.x` (base64) live, as the API server merges them. */
function compareSecretValues(
  walk: Walk,
  ignored: IgnoreCursor,
  desired: KubeObject,
  live: KubeObject | undefined,
): void {
  const wanted = new Map<string, { field: "data" | "stringData"; bytes: Buffer }>();
  for (const [key, bytes] of secretValues(desired.data, "base64")) wanted.set(key, { field: "data", bytes });
  for (const [key, bytes] of secretValues(desired.stringData, "utf8"))
    wanted.set(key, { field: "stringData", bytes });
  const have = new Map([...secretValues(live?.data, "base64"), ...secretValues(live?.stringData, "utf8")]);
  for (const [key, { field, bytes }] of wanted) {
    if (cursorIgnoresPath(ignored, [field, key])) continue;
    const liveBytes = have.get(key);
    if (liveBytes?.equals(bytes)) continue;
    walk.path.push(field, key);
    record(walk, REDACTED, liveBytes === undefined ? undefined : REDACTED);
    walk.path.pop();
    walk.path.pop();
  }
}

function secretValues(values: unknown, encoding: "base64" | "utf8"): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (!isPlainObject(values)) return out;
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === "string") out.set(key, Buffer.from(value, encoding));
  }
  return out;
}

function redactChange(change: DeclaredChange): DeclaredChange {
  if (!isSecretValuePath(change.path)) return change;
  return {
    ...change,
    gitValue: change.gitValue === undefined ? undefined : REDACTED,
    liveValue: change.liveValue === undefined ? undefined : REDACTED,
  };
}
