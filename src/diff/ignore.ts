/** ignoreDifferences: which JSON pointers apply to an object. */
import type { IgnoreRule } from "../manifest/desired.js";
import type { ObjectRef } from "../manifest/object.js";
import { parsePointer, pointerCovers, type PathSegment } from "./path.js";

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

export function isIgnored(pointers: readonly string[][], segments: readonly PathSegment[]): boolean {
  return pointers.some((tokens) => pointerCovers(tokens, segments));
}
