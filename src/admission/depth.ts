/**
 * Depth cap for the objects of an AdmissionReview. JSON.parse reads any depth, but the decision's
 * helpers recurse (diff, isDeepStrictEqual, JSON.stringify): a value nested ~2,000 levels deep made
 * them throw, and a throw is a 500, which kube-apiserver settles by failurePolicy (`Ignore`
 * admits). So, where the review is decoded, every object or array deeper than MAX_DEPTH is replaced
 * by a marker string. The decision then runs as always and never throws for depth: unmanaged
 * objects pass on the fast path, gitgate and exempt users pass, and a managed object whose declared
 * field holds a marker differs from Git, so it is refused (enforce) or warned about (warn/audit)
 * with the marker in the message: an answer kube-apiserver shows the user, whatever the
 * failurePolicy. Each side gets its own marker, so two over-deep values never compare equal.
 */
import { isPlainObject } from "../manifest/object.js";
import type { Decision } from "./types.js";

/** Real objects nest a few dozen levels; the recursive helpers are safe far beyond this. */
export const MAX_DEPTH = 512;

export function depthMarker(side: string): string {
  return `<value nested deeper than ${MAX_DEPTH} levels in ${side}: not compared>`;
}

/**
 * Replaces, in place, each object or array below `max` levels under `root` by `marker`; returns
 * whether any was. Iterative, so any depth is safe. `root` must be the caller's own parsed value.
 */
export function capDepth(root: unknown, marker: string, max = MAX_DEPTH): boolean {
  if (typeof root !== "object" || root === null) return false;
  let capped = false;
  // Two parallel stacks, no tuple per node: this runs on every review.
  const containers: object[] = [root];
  const depths: number[] = [0];
  const visit = (container: object, key: string | number, child: unknown, depth: number): void => {
    if (typeof child !== "object" || child === null) return;
    if (depth + 1 < max) {
      containers.push(child);
      depths.push(depth + 1);
      return;
    }
    // defineProperty, not assignment: an own "__proto__" key from JSON.parse would ignore `=`.
    Object.defineProperty(container, key, {
      value: marker,
      writable: true,
      enumerable: true,
      configurable: true,
    });
    capped = true;
  };
  while (containers.length > 0) {
    const container = containers.pop() as Record<string, unknown> | unknown[];
    const depth = depths.pop() as number;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) visit(container, i, container[i], depth);
    } else {
      // Own enumerable keys only: JSON.parse builds plain objects, whose prototype has none.
      for (const key in container) visit(container, key, container[key], depth);
    }
  }
  return capped;
}

/** Whether `value` nests deeper than `max` levels (for tests and callers that only need to know). */
export function deeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (Array.isArray(v) || isPlainObject(v)) {
      if (depth >= max) return true;
      for (const child of Object.values(v)) stack.push([child, depth + 1]);
    }
  }
  return false;
}

const NOTE = `parts of this request nested deeper than ${MAX_DEPTH} levels were not compared with Git`;

/** Says so in a decision on a capped request that gitgate judged (refused, or admitted with warnings). */
export function noteDepthCap(decision: Decision): Decision {
  if (!decision.allowed && decision.status)
    return { ...decision, status: { ...decision.status, message: `${decision.status.message} (${NOTE})` } };
  if (decision.warnings?.length) return { ...decision, warnings: [NOTE, ...decision.warnings] };
  return decision;
}
