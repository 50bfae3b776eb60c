/**
 * Apply-time respect of ignoreDifferences (Argo CD's RespectIgnoreDifferences): an ignored field
 * keeps its live value when gitgate applies, so a new commit does not reset what another
 * controller or person owns there. Git's value is used only when the object is created. Pure.
 */
import { ignoredPointers } from "../diff/ignore.js";
import type { IgnoreRule } from "../manifest/desired.js";
import { isPlainObject, refOf, type KubeObject } from "../manifest/object.js";

type Container = Record<string, unknown> | unknown[];

function child(value: unknown, token: string): unknown {
  if (Array.isArray(value)) return /^[0-9]{1,6}$/.test(token) ? value[Number(token)] : undefined;
  return isPlainObject(value) ? value[token] : undefined;
}

/** The container holding the pointer's last token in `root`, creating maps on the way when asked. */
function parentOf(root: unknown, tokens: readonly string[], create: boolean): Container | undefined {
  let node: unknown = root;
  for (const token of tokens.slice(0, -1)) {
    let next = child(node, token);
    if (next === undefined && create && isPlainObject(node)) node[token] = next = {};
    node = next;
  }
  return Array.isArray(node) || isPlainObject(node) ? node : undefined;
}

/** `desired` with every ignored pointer set to the live value (or left out where live has none). */
export function withLiveIgnored(
  desired: KubeObject,
  live: KubeObject,
  rules: readonly IgnoreRule[],
): KubeObject {
  const pointers = ignoredPointers(refOf(desired), rules).filter((t) => t.length > 0 && t[0] !== "metadata");
  if (pointers.length === 0) return desired;
  const out = structuredClone(desired);
  for (const tokens of pointers) {
    const last = tokens[tokens.length - 1] ?? "";
    const liveParent = parentOf(live, tokens, false);
    const liveValue = liveParent ? child(liveParent, last) : undefined;
    const target = parentOf(out, tokens, liveValue !== undefined);
    if (!target || Array.isArray(target)) continue; // list items are not addressed by index here
    if (liveValue === undefined) delete target[last];
    else target[last] = structuredClone(liveValue);
  }
  return out;
}
