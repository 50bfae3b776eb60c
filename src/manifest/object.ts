/** Kubernetes object shapes and identity. Pure: no I/O. */

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: "Apply" | "Update";
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<Record<string, unknown>>;
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** Identity of an object independent of API version. `namespace` is "" for cluster-scoped objects. */
export interface ObjectRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

export function versionOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
}

export function refOf(obj: KubeObject): ObjectRef {
  return {
    group: groupOf(obj.apiVersion),
    kind: obj.kind,
    namespace: obj.metadata.namespace ?? "",
    name: obj.metadata.name ?? "",
  };
}

/**
 * Kinds the API server serves under two groups (the same objects either way). Keys use one group,
 * so a write through the other cannot slip past the admission gate as "not in Git".
 */
const GROUP_ALIASES: Record<string, string> = {
  // extensions/v1beta1 Ingress is served until Kubernetes 1.22.
  "extensions/Ingress": "networking.k8s.io",
};

/** Stable string key: `group/kind/namespace/name` (core group is empty). */
export function keyOf(ref: ObjectRef): string {
  const group = GROUP_ALIASES[`${ref.group}/${ref.kind}`] ?? ref.group;
  return `${group}/${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function objectKey(obj: KubeObject): string {
  return keyOf(refOf(obj));
}

export function parseKey(key: string): ObjectRef {
  const [group = "", kind = "", namespace = "", ...rest] = key.split("/");
  return { group, kind, namespace, name: rest.join("/") };
}

/** Human form used in messages: `Deployment guestbook/guestbook-ui` or `Namespace guestbook`. */
export function describeRef(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A map's own field, undefined for anything else: a key named `constructor` or `toString` is not
 * a field an object inherits from its prototype (comparisons must not see Git declaring it).
 */
export function ownField(map: unknown, key: string): unknown {
  return isPlainObject(map) && Object.hasOwn(map, key) ? map[key] : undefined;
}

/** A scalar field of an untyped object as text; objects and arrays (never expected here) read as "". */
export function scalarText(value: unknown, fallback = ""): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  return fallback;
}

export function isKubeObject(value: unknown): value is KubeObject {
  return (
    isPlainObject(value) &&
    typeof value.apiVersion === "string" &&
    typeof value.kind === "string" &&
    isPlainObject(value.metadata)
  );
}
