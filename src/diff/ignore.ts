/** ignoreDifferences: which JSON pointers apply to an object. */
import type { IgnoreRule } from "../manifest/desired.js";
import type { ObjectRef } from "../manifest/object.js";
import { parsePointer, type PathSegment } from "./path.js";

/** A rule applies when every selector it sets (group, kind, namespace, name) equals the object's. */
export function ruleApplies(rule: IgnoreRule, ref: ObjectRef): boolean {
  return (
    (rule.group === undefined || rule.group === ref.group) &&
    (rule.kind === undefined || rule.kind === ref.kind) &&
    (rule.namespace === undefined || rule.namespace === ref.namespace) &&
    (rule.name === undefined || rule.name === ref.name)
  );
}

/** Parsed pointer tokens of every applicable rule; malformed pointers (no leading `/`) are dropped. */
export function ignoredPointers(ref: ObjectRef, rules: readonly IgnoreRule[]): string[][] {
  const out: string[][] = [];
  for (const rule of rules) {
    if (!ruleApplies(rule, ref)) continue;
    for (const pointer of rule.jsonPointers) {
      const tokens = parsePointer(pointer);
      if (tokens) out.push(tokens);
    }
  }
  return out;
}

/**
 * The applicable pointers as a trie, walked in step with a comparison: at each node the walk asks
 * only the trie nodes it is in (usually none), instead of testing every pointer against every path.
 */
export interface IgnoreNode {
  /** A pointer ends here: this path and everything under it is ignored. */
  end: boolean;
  children: Map<string, IgnoreNode>;
  /** The cursor holding only this node, made once. */
  alone: IgnoreCursor;
}

/** The trie nodes a walk is in; empty below the last pointer that could still match. */
export type IgnoreCursor = readonly IgnoreNode[];

export const NOT_IGNORED: IgnoreCursor = [];

export function ignoreTrie(pointers: readonly string[][]): IgnoreCursor {
  if (pointers.length === 0) return NOT_IGNORED;
  const root = trieNode();
  for (const tokens of pointers) {
    let node = root;
    for (const token of tokens) {
      let child = node.children.get(token);
      if (!child) node.children.set(token, (child = trieNode()));
      node = child;
    }
    node.end = true;
  }
  return root.alone;
}

function trieNode(): IgnoreNode {
  const node: IgnoreNode = { end: false, children: new Map(), alone: NOT_IGNORED };
  node.alone = [node];
  return node;
}

/** Parsed rules are cached per rules array and object: apps share one array and it never changes. */
const compiled = new WeakMap<readonly IgnoreRule[], Map<string, IgnoreCursor>>();

/** ignoreTrie(ignoredPointers(ref, rules)), once per rules array and object. */
export function ignoreCursor(ref: ObjectRef, rules: readonly IgnoreRule[]): IgnoreCursor {
  if (rules.length === 0) return NOT_IGNORED;
  let byRef = compiled.get(rules);
  if (!byRef) compiled.set(rules, (byRef = new Map<string, IgnoreCursor>()));
  const id = `${ref.group}/${ref.kind}/${ref.namespace}/${ref.name}`;
  let cursor = byRef.get(id);
  if (!cursor) byRef.set(id, (cursor = ignoreTrie(ignoredPointers(ref, rules))));
  return cursor;
}

export function cursorIgnores(cursor: IgnoreCursor): boolean {
  for (const node of cursor) if (node.end) return true;
  return false;
}

/**
 * One step down: the children a segment matches. A list item matches its index in the desired
 * list, the value of its merge key (`/spec/template/spec/containers/web/image`), or `*`.
 */
export function stepCursor(cursor: IgnoreCursor, segment: PathSegment): IgnoreCursor {
  if (cursor.length === 0) return NOT_IGNORED;
  if (typeof segment === "string" && cursor.length === 1) {
    // The common case, without allocating: one node, a map key.
    const child = (cursor[0] as IgnoreNode).children.get(segment);
    return child ? child.alone : NOT_IGNORED;
  }
  const tokens =
    typeof segment === "string"
      ? [segment]
      : typeof segment === "number"
        ? ["*", String(segment)]
        : ["*", String(segment.index), String(segment.keys[0]?.[1])];
  const next: IgnoreNode[] = [];
  for (const node of cursor) {
    for (const token of tokens) {
      const child = node.children.get(token);
      if (child && !next.includes(child)) next.push(child);
    }
  }
  return next.length === 0 ? NOT_IGNORED : next.length === 1 ? (next[0] as IgnoreNode).alone : next;
}

/** Whether a pointer covers the path or an ancestor of it. */
export function cursorIgnoresPath(cursor: IgnoreCursor, segments: readonly PathSegment[]): boolean {
  let at = cursor;
  for (const segment of segments) {
    if (cursorIgnores(at)) return true;
    at = stepCursor(at, segment);
    if (at.length === 0) return false;
  }
  return cursorIgnores(at);
}
