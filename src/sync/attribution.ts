/**
 * Who changed a live object's drifted fields. Pure. In order of trust:
 * 1. the record gitgate's mutating webhook left on the object (the username from the AdmissionReview),
 *    when it names a drifted field;
 * 2. the newest managedFields entry (not gitgate's) that owns a drifted field;
 * 3. the newest entry (not gitgate's) that writes more than status.
 * managedFields name field managers (`kubectl-edit`), not users; and before Kubernetes 1.22 a status
 * update has no `subresource`, so it is told apart by owning only `f:status` (and metadata).
 */
import { FIELD_MANAGER } from "../manifest/labels.js";
import { readLastChange } from "../manifest/last-change.js";
import { isPlainObject, type KubeObject, type ManagedFieldsEntry } from "../manifest/object.js";

/** The dotted path's leading plain keys, as managedFields spell them (`spec.replicas` → f:spec, f:replicas). */
function fieldKeys(path: string): string[] {
  const plain = path.split("[")[0] ?? "";
  return plain.split(".").filter(Boolean);
}

function owns(entry: ManagedFieldsEntry, path: string): boolean {
  let node: unknown = entry.fieldsV1;
  for (const key of fieldKeys(path)) {
    if (!isPlainObject(node)) return false;
    node = node[`f:${key}`];
  }
  return isPlainObject(node);
}

function statusOnly(entry: ManagedFieldsEntry): boolean {
  if (entry.subresource === "status") return true;
  // kube-controller-manager's status writes also own an annotation (deployment.kubernetes.io/revision).
  const fields = isPlainObject(entry.fieldsV1) ? Object.keys(entry.fieldsV1) : [];
  return fields.includes("f:status") && fields.every((f) => f === "f:status" || f === "f:metadata");
}

function recordedUser(live: KubeObject, paths: readonly string[]): string | undefined {
  const record = readLastChange(live);
  const fields: unknown[] = Array.isArray(record?.fields) ? record.fields : [];
  return typeof record?.user === "string" && paths.some((p) => fields.includes(p)) ? record.user : undefined;
}

function newest(entries: ManagedFieldsEntry[]): string | undefined {
  let best: ManagedFieldsEntry | undefined;
  for (const entry of entries) if (!best || (entry.time ?? "") > (best.time ?? "")) best = entry;
  return best?.manager;
}

export function lastChanger(
  live: KubeObject,
  changedPaths: readonly string[] = [],
  selfManager = FIELD_MANAGER,
): string | undefined {
  const recorded = recordedUser(live, changedPaths);
  if (recorded) return recorded;
  const others = (live.metadata.managedFields ?? []).filter(
    (e) => e.manager && e.manager !== selfManager && !statusOnly(e),
  );
  return newest(others.filter((e) => changedPaths.some((p) => owns(e, p)))) ?? newest(others);
}
