/**
 * How lists are matched, following the list types Kubernetes declares for strategic merge patch and
 * server-side apply: associative lists match items by merge key (order does not matter, extra live
 * items are fine); every other list is atomic (compared whole, position by position).
 */
import { isPlainObject } from "../manifest/object.js";
import type { KeyedItem, PathSegment } from "./path.js";

export interface KeySpec {
  fields: string[];
  /** Values the API server fills in when a key field is omitted (ports default to TCP). */
  defaults?: Record<string, string>;
}

const BY_NAME: KeySpec = { fields: ["name"] };
const NAMED_LISTS = new Set([
  "containers",
  "initContainers",
  "ephemeralContainers",
  "volumes",
  "env",
  "imagePullSecrets",
]);
const CONTAINER_LISTS = new Set(["containers", "initContainers", "ephemeralContainers"]);
const TCP = { protocol: "TCP" };

/** Merge key for the list at `segments` (whose last segment is the list's field name), or undefined: atomic. */
export function mergeKeyFor(kind: string, segments: readonly PathSegment[]): KeySpec | undefined {
  const field = segments[segments.length - 1];
  if (typeof field !== "string") return undefined;
  if (NAMED_LISTS.has(field)) return BY_NAME;
  if (field === "volumeMounts") return { fields: ["mountPath"] };
  if (field === "volumeDevices") return { fields: ["devicePath"] };
  if (field === "ports") {
    // [..., "containers", <item>, "ports"]: a container's ports.
    const owner = segments[segments.length - 3];
    if (typeof owner === "string" && CONTAINER_LISTS.has(owner)) {
      return { fields: ["containerPort", "protocol"], defaults: TCP };
    }
    if (kind === "Service" && segments.length === 2 && segments[0] === "spec") {
      return { fields: ["port", "protocol"], defaults: TCP };
    }
  }
  return undefined;
}

/** The key of a list item, or undefined when the item lacks a key field without a default. */
export function itemKey(item: unknown, spec: KeySpec, index: number): KeyedItem | undefined {
  if (!isPlainObject(item)) return undefined;
  const keys: KeyedItem["keys"] = [];
  for (const field of spec.fields) {
    const value = item[field] ?? spec.defaults?.[field];
    if (typeof value !== "string" && typeof value !== "number") return undefined;
    // Default-valued keys are left out of the rendered path: `ports[containerPort=80]`, not `…,protocol=TCP]`.
    if (value !== spec.defaults?.[field]) keys.push([field, value]);
  }
  return { keys, index };
}

/** Finds the live item whose key fields (defaults applied) equal the desired item's. */
export function findByKey(live: readonly unknown[], desiredItem: unknown, spec: KeySpec): unknown {
  if (!isPlainObject(desiredItem)) return undefined;
  return live.find(
    (candidate) =>
      isPlainObject(candidate) &&
      spec.fields.every(
        (f) => (candidate[f] ?? spec.defaults?.[f]) === (desiredItem[f] ?? spec.defaults?.[f]),
      ),
  );
}
