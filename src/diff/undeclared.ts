/**
 * diffUndeclared: what an UPDATE changes in fields Git does not declare. Pure. diffDeclared sees only
 * the fields Git declares, so a sidecar, an env var or `hostNetwork: true` added with `kubectl patch`
 * would pass it; this walk compares the request with the object it replaces, in step with Git's
 * object, and reports every field that the request adds or changes outside Git's fields.
 *
 * Not reported: fields Git declares (diffDeclared judges those), removals (removing a field Git does
 * not declare restores Git), paths under ignoreDifferences, allowedChanges or the built-in list
 * (allowed.ts), and top-level labels and annotations other than gitgate's own. Each subtree is walked
 * once, so the cost is linear in the size of the request.
 */
import type { IgnoreRule } from "../manifest/desired.js";
import { isPlainObject, ownField, refOf, type KubeObject } from "../manifest/object.js";
import { isSecret, REDACTED } from "../manifest/redact.js";
import { metadataKeyAllowed } from "./allowed.js";
import type { DeclaredChange } from "./declared.js";
import { cursorIgnores, ignoreCursor, stepCursor, type IgnoreCursor } from "./ignore.js";
import { findByKey, itemKey, mergeKeyFor, type KeySpec } from "./lists.js";
import { formatPath, toPointer, type PathSegment } from "./path.js";

/** Changes kept per request: a message names five, the rest are counted. */
export const MAX_UNDECLARED = 1000;

interface Walk {
  kind: string;
  secret: boolean;
  path: PathSegment[];
  out: DeclaredChange[];
}

/**
 * Fields the request adds or changes that `desired` does not declare. `rules` are ignore rules
 * (undeclaredRules() in allowed.ts adds the allow-lists). Changes carry `undeclared: true`, no
 * gitValue, and the requested value (Secret values redacted).
 */
export function diffUndeclared(
  desired: KubeObject,
  previous: KubeObject,
  requested: KubeObject,
  rules: readonly IgnoreRule[],
): DeclaredChange[] {
  const ignored = ignoreCursor(refOf(desired), rules);
  if (cursorIgnores(ignored)) return [];
  const secret = isSecret(desired);
  const walk: Walk = { kind: desired.kind, secret, path: [], out: [] };
  const git: Record<string, unknown> = secret ? secretView(desired) : desired;
  const before: Record<string, unknown> = previous;
  for (const field of Object.keys(requested)) {
    if (field === "apiVersion" || field === "kind") continue;
    if (field === "metadata")
      walkMetadata(walk, ignored, desired.metadata, previous.metadata, requested.metadata);
    else step(walk, ignored, field, ownField(git, field), ownField(before, field), requested[field]);
  }
  return walk.out;
}

/** Git may declare a Secret's keys in stringData; the API server stores them all in data. */
function secretView(desired: KubeObject): Record<string, unknown> {
  const data = isPlainObject(desired.data) ? desired.data : {};
  const stringData = isPlainObject(desired.stringData) ? desired.stringData : {};
  return { ...desired, data: { ...data, ...stringData } };
}

function walkMetadata(
  walk: Walk,
  ignored: IgnoreCursor,
  desired: KubeObject["metadata"],
  previous: unknown,
  requested: unknown,
): void {
  if (!isPlainObject(requested)) return;
  const before = isPlainObject(previous) ? previous : {};
  const inMetadata = stepCursor(ignored, "metadata");
  if (cursorIgnores(inMetadata)) return;
  walk.path.push("metadata");
  for (const field of Object.keys(requested)) {
    const value = requested[field];
    if ((field === "labels" || field === "annotations") && isPlainObject(value)) {
      const declared = isPlainObject(desired[field]) ? desired[field] : {};
      const old = isPlainObject(before[field]) ? before[field] : {};
      const below = stepCursor(inMetadata, field);
      if (cursorIgnores(below)) continue;
      walk.path.push(field);
      for (const key of Object.keys(value)) {
        // Declared keys are diffDeclared's; other tools' notes are fine, gitgate's own keys are not.
        if (ownField(declared, key) !== undefined || metadataKeyAllowed(field, key)) continue;
        step(walk, below, key, undefined, ownField(old, key), value[key]);
      }
      walk.path.pop();
    } else step(walk, inMetadata, field, ownField(desired, field), ownField(before, field), value);
  }
  walk.path.pop();
}

/** visit() one level down, at `segment`. */
function step(
  walk: Walk,
  ignored: IgnoreCursor,
  segment: PathSegment,
  desired: unknown,
  previous: unknown,
  requested: unknown,
): void {
  if (walk.out.length >= MAX_UNDECLARED) return;
  const below = stepCursor(ignored, segment);
  if (cursorIgnores(below)) return;
  walk.path.push(segment);
  visit(walk, below, desired, previous, requested);
  walk.path.pop();
}

function visit(
  walk: Walk,
  ignored: IgnoreCursor,
  desired: unknown,
  previous: unknown,
  requested: unknown,
): void {
  // Absent from the request: removed, which restores Git (or was never there).
  if (requested === undefined || requested === null) return;
  // Unchanged below here: nothing to judge. One equality pass, with no path bookkeeping, settles
  // nearly every subtree of a request, so the walk proper runs only along what changed.
  if (jsonEqual(previous, requested)) return;
  if (desired !== undefined && desired !== null) {
    if (isPlainObject(desired)) {
      if (!isPlainObject(requested)) return; // a type change of a declared field: diffDeclared's
      const old = isPlainObject(previous) ? previous : {};
      for (const key of Object.keys(requested))
        step(walk, ignored, key, ownField(desired, key), ownField(old, key), requested[key]);
    } else if (Array.isArray(desired) && Array.isArray(requested)) {
      visitDeclaredList(walk, ignored, desired, previous, requested);
    }
    return; // a declared leaf: diffDeclared's
  }
  // Not in Git. An allow-rule may name a field below (rollout restart's annotation): then descend.
  const descend = ignored.length > 0;
  if (isPlainObject(requested) && (isPlainObject(previous) || (descend && previous === undefined))) {
    const old = isPlainObject(previous) ? previous : {};
    for (const key of Object.keys(requested))
      step(walk, ignored, key, undefined, ownField(old, key), requested[key]);
    return;
  }
  if (Array.isArray(requested) && Array.isArray(previous) && mergeKeyFor(walk.kind, walk.path)) {
    visitUndeclaredList(walk, ignored, previous, requested);
    return;
  }
  record(walk, requested);
}

/** Equality of two JSON values (what JSON.parse yields: no undefined, no prototypes but Object's). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  for (const key of keys) if (!Object.hasOwn(right, key) || !jsonEqual(left[key], right[key])) return false;
  return true;
}

/** A list Git declares: items matched by merge key (or position, for atomic lists of equal length). */
function visitDeclaredList(
  walk: Walk,
  ignored: IgnoreCursor,
  desired: unknown[],
  previous: unknown,
  requested: unknown[],
): void {
  const old = Array.isArray(previous) ? previous : [];
  const spec = mergeKeyFor(walk.kind, walk.path);
  if (!spec) {
    // Atomic: a length change is a declared difference, judged by diffDeclared.
    if (desired.length !== requested.length) return;
    for (let i = 0; i < requested.length; i++) step(walk, ignored, i, desired[i], old[i], requested[i]);
    return;
  }
  const seen = new Set<string>();
  for (let i = 0; i < requested.length; i++) {
    const item = requested[i];
    const key = itemKey(item, spec, i);
    if (!key) {
      step(walk, ignored, i, desired[i], old[i], item);
      continue;
    }
    // A second item with the same key is compared with nothing (matching finds the first one),
    // yet the kubelet lets the last env var win: it is a value Git does not contain.
    if (isDuplicate(seen, spec, item)) {
      stepRecord(walk, ignored, { keys: key.keys, index: i }, item);
      continue;
    }
    const gitItem = findByKey(desired, item, spec);
    const index = gitItem === undefined ? i : desired.indexOf(gitItem);
    step(walk, ignored, { keys: key.keys, index }, gitItem, findByKey(old, item, spec), item);
  }
}

/** An associative list Git does not declare: each added or changed item, by its key. */
function visitUndeclaredList(
  walk: Walk,
  ignored: IgnoreCursor,
  previous: unknown[],
  requested: unknown[],
): void {
  const spec = mergeKeyFor(walk.kind, walk.path);
  if (!spec) return;
  const seen = new Set<string>();
  for (let i = 0; i < requested.length; i++) {
    const item = requested[i];
    const key = itemKey(item, spec, i);
    if (key && isDuplicate(seen, spec, item)) stepRecord(walk, ignored, key, item);
    else if (key) step(walk, ignored, key, undefined, findByKey(previous, item, spec), item);
    else step(walk, ignored, i, undefined, previous[i], item);
  }
}

/** Whether an item's merge key (defaults applied) was seen before in this list; records it. */
function isDuplicate(seen: Set<string>, spec: KeySpec, item: unknown): boolean {
  if (!isPlainObject(item)) return false;
  const id = JSON.stringify(spec.fields.map((f) => item[f] ?? spec.defaults?.[f]));
  if (seen.has(id)) return true;
  seen.add(id);
  return false;
}

/** Records `requested` at one segment down, unless an ignore rule covers it. */
function stepRecord(walk: Walk, ignored: IgnoreCursor, segment: PathSegment, requested: unknown): void {
  if (cursorIgnores(stepCursor(ignored, segment))) return;
  walk.path.push(segment);
  record(walk, requested);
  walk.path.pop();
}

function record(walk: Walk, requested: unknown): void {
  const secretValue = walk.secret && (walk.path[0] === "data" || walk.path[0] === "stringData");
  walk.out.push({
    path: formatPath(walk.path),
    pointer: toPointer(walk.path),
    gitValue: undefined,
    liveValue: secretValue ? REDACTED : requested,
    undeclared: true,
  });
}
