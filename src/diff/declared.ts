/**
 * diffDeclared: which fields declared in Git differ in another version of the object (live, or an
 * admission request). Pure. Only declared fields count, so API-server defaults and fields other
 * managers own are never differences — the same view server-side apply takes of an applier's fields.
 */
import type { FieldChange } from "../alerts/event.js";
import type { IgnoreRule } from "../manifest/desired.js";
import { isPlainObject, refOf, type KubeObject } from "../manifest/object.js";
import { isSecret, isSecretValuePath, REDACTED } from "../manifest/redact.js";
import { ignoredPointers, isIgnored } from "./ignore.js";
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
  ignore: string[][];
  out: DeclaredChange[];
}

export function diffDeclared(
  desired: KubeObject,
  live: KubeObject | undefined,
  ignore: IgnoreRule[],
): DeclaredChange[] {
  const walk: Walk = { kind: desired.kind, ignore: ignoredPointers(refOf(desired), ignore), out: [] };
  const liveRoot: Record<string, unknown> = live ?? {};
  const secret = isSecret(desired);
  for (const [field, value] of Object.entries(desired)) {
    if (SKIPPED_ROOT.has(field)) continue;
    if (secret && (field === "data" || field === "stringData")) continue;
    if (field === "metadata") compareMetadata(walk, desired.metadata, liveRoot.metadata);
    else compare(walk, [field], value, liveRoot[field]);
  }
  if (secret) compareSecretValues(walk, desired, live);
  return secret ? walk.out.map(redactChange) : walk.out;
}

function compareMetadata(walk: Walk, desired: KubeObject["metadata"], live: unknown): void {
  const liveMeta = isPlainObject(live) ? live : {};
  for (const [field, value] of Object.entries(desired)) {
    if (SKIPPED_METADATA.has(field)) continue;
    if (field === "annotations" && isPlainObject(value)) {
      const { [LAST_APPLIED_ANNOTATION]: _lastApplied, ...declared } = value;
      compare(walk, ["metadata", field], declared, liveMeta[field]);
    } else compare(walk, ["metadata", field], value, liveMeta[field]);
  }
}

function compare(walk: Walk, path: PathSegment[], desired: unknown, live: unknown): void {
  // null in a manifest (`creationTimestamp: null`, `resources:`) declares nothing.
  if (desired === null || desired === undefined) return;
  if (isIgnored(walk.ignore, path)) return;
  if (isPlainObject(desired)) {
    if (live !== undefined && live !== null && !isPlainObject(live)) return record(walk, path, desired, live);
    const liveMap = isPlainObject(live) ? live : {};
    for (const [key, value] of Object.entries(desired)) compare(walk, [...path, key], value, liveMap[key]);
    return;
  }
  if (Array.isArray(desired)) return compareList(walk, path, desired, live);
  if (!leafEqual(walk.kind, path, desired, live)) record(walk, path, desired, live);
}

function compareList(walk: Walk, path: PathSegment[], desired: unknown[], live: unknown): void {
  if (live !== undefined && live !== null && !Array.isArray(live)) return record(walk, path, desired, live);
  const liveList: unknown[] = Array.isArray(live) ? live : [];
  const spec = mergeKeyFor(walk.kind, path);
  if (spec) {
    // Associative: each declared item must exist live (by key); extra live items are someone else's.
    desired.forEach((item, index) => {
      if (item === null || item === undefined) return;
      const key = itemKey(item, spec, index);
      if (!key) return compare(walk, [...path, index], item, liveList[index]);
      const itemPath = [...path, key];
      if (isIgnored(walk.ignore, itemPath)) return;
      const liveItem = findByKey(liveList, item, spec);
      if (liveItem === undefined) record(walk, itemPath, item, undefined);
      else compare(walk, itemPath, item, liveItem);
    });
    return;
  }
  // Atomic: same length, then each element with declared-subset semantics (defaults inside are fine).
  if (desired.length === 0 && liveList.length === 0) return;
  if (desired.length !== liveList.length) return record(walk, path, desired, live);
  desired.forEach((item, index) => compare(walk, [...path, index], item, liveList[index]));
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

function record(walk: Walk, path: PathSegment[], gitValue: unknown, liveValue: unknown): void {
  walk.out.push({
    path: formatPath(path),
    pointer: toPointer(path),
    gitValue,
    liveValue: liveValue ?? undefined,
  });
}

/** Secret values compared as bytes: `stringData.x` in Git equals `data.x` (base64) live, as the API server merges them. */
function compareSecretValues(walk: Walk, desired: KubeObject, live: KubeObject | undefined): void {
  const wanted = new Map<string, { field: "data" | "stringData"; bytes: Buffer }>();
  for (const [key, bytes] of secretValues(desired.data, "base64")) wanted.set(key, { field: "data", bytes });
  for (const [key, bytes] of secretValues(desired.stringData, "utf8"))
    wanted.set(key, { field: "stringData", bytes });
  const have = new Map([...secretValues(live?.data, "base64"), ...secretValues(live?.stringData, "utf8")]);
  for (const [key, { field, bytes }] of wanted) {
    const path = [field, key];
    if (isIgnored(walk.ignore, path)) continue;
    const liveBytes = have.get(key);
    if (liveBytes?.equals(bytes)) continue;
    record(walk, path, REDACTED, liveBytes === undefined ? undefined : REDACTED);
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
