/** A short digest of a JSON value, for telling values apart without keeping them. Pure, and total. */
import { createHash } from "node:crypto";

/** Deeper than any object kube-apiserver stores past gitgate's admission depth cap (admission/depth.ts). */
const MAX_DEPTH = 600;

/** A digest that does not depend on key order; never throws (cycles and non-JSON values get a tag). */
export function digestOf(value: unknown): string {
  return createHash("sha256")
    .update(canonical(value, 0, new Set()))
    .digest("base64url")
    .slice(0, 22);
}

function canonical(value: unknown, depth: number, path: Set<object>): string {
  if (value === undefined) return "~u";
  if (value === null || typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : `~n${String(value)}`;
  if (typeof value !== "object") return `~${typeof value}`;
  if (path.has(value)) return "~cycle";
  if (depth >= MAX_DEPTH) return "~deep";
  path.add(value);
  const inner = Array.isArray(value)
    ? `[${value.map((v: unknown) => canonical(v, depth + 1, path)).join(",")}]`
    : `{${Object.keys(value)
        .sort()
        .map(
          (k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k], depth + 1, path)}`,
        )
        .join(",")}}`;
  path.delete(value);
  return inner;
}
