/**
 * The operational allow-list: changes to fields Git does not declare that are not a change of the
 * desired state, so neither the gate nor self-heal treats them as drift. Pure. Kept small on
 * purpose (docs/undeclared-fields.md lists it); operators extend it with JSON pointers per GitApp
 * (`spec.enforcement.allowedChanges`) and in the config (`enforcement.allowedChanges`).
 */
import type { IgnoreRule } from "../manifest/desired.js";
import {
  BREAK_GLASS_EXPIRES_ANNOTATION,
  BREAK_GLASS_REASON_ANNOTATION,
  GROUP,
  LAST_CHANGE_ANNOTATION,
} from "../manifest/labels.js";

/** What the API server and controllers own, and `kubectl rollout restart`'s stamp. */
export const BUILTIN_ALLOWED: IgnoreRule = {
  jsonPointers: [
    "/status",
    "/metadata/uid",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/creationTimestamp",
    "/metadata/deletionTimestamp",
    "/metadata/deletionGracePeriodSeconds",
    "/metadata/selfLink",
    "/metadata/managedFields",
    // Protection and foreground-deletion finalizers are added by admission plugins and the garbage collector.
    "/metadata/finalizers",
    "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt",
  ],
};

/** gitgate's own annotations that carry a request to gitgate, judged by their own rules (break-glass, records). */
const PROTOCOL_ANNOTATIONS = new Set([
  BREAK_GLASS_REASON_ANNOTATION,
  BREAK_GLASS_EXPIRES_ANNOTATION,
  LAST_CHANGE_ANNOTATION,
]);

/** `gitgate.io/…` or `<anything>.gitgate.io/…`: keys that steer gitgate, never a tool's note. */
export function isGitgateKey(key: string): boolean {
  const slash = key.indexOf("/");
  if (slash < 0) return false;
  const prefix = key.slice(0, slash);
  return prefix === GROUP || prefix.endsWith(`.${GROUP}`);
}

/**
 * A top-level label or annotation that Git does not declare: notes and ownership markers tools add
 * are allowed; gitgate's own keys are not (they steer gitgate), except the request annotations.
 */
export function metadataKeyAllowed(place: "labels" | "annotations", key: string): boolean {
  if (!isGitgateKey(key)) return true;
  return place === "annotations" && PROTOCOL_ANNOTATIONS.has(key);
}

const NO_RULES: readonly IgnoreRule[] = Object.freeze([]);
const combined = new WeakMap<readonly IgnoreRule[], WeakMap<readonly IgnoreRule[], IgnoreRule[]>>();

/**
 * ignoreDifferences + allowedChanges + the built-in list, as one rules array. Cached per pair of
 * arrays (one of each per GitApp), so the compiled trie in ignore.ts is built once per object.
 */
export function undeclaredRules(
  ignore: readonly IgnoreRule[],
  allowed: readonly IgnoreRule[] = NO_RULES,
): IgnoreRule[] {
  let byAllowed = combined.get(ignore);
  if (!byAllowed) combined.set(ignore, (byAllowed = new WeakMap()));
  let rules = byAllowed.get(allowed);
  if (!rules) byAllowed.set(allowed, (rules = [...ignore, ...allowed, BUILTIN_ALLOWED]));
  return rules;
}
