/** Shapes shared by the admission codec, decision, mutation and handlers. */
import type { AlertEvent, FieldChange } from "../manifest/event.js";
import type { AppRef, EnforcementMode, UndeclaredPolicy } from "../manifest/desired.js";
import type { KubeObject, ObjectRef } from "../manifest/object.js";

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The fields of an admission.k8s.io/v1 AdmissionRequest that gitgate reads. */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  /** Always has `metadata` after parseReview (Scale and CONNECT option objects may lack it on the wire). */
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
  options?: Record<string, unknown> | null;
}

export interface AdmissionPolicy {
  /** gitgate's own username (its service account): always allowed. */
  selfUsername: string;
  /** Usernames allowed to change managed objects; service accounts as `system:serviceaccount:<ns>:<name>`. */
  exemptUsers: string[];
  exemptGroups: string[];
  /** Mode for entries that carry none (the index normally resolves each app's mode). */
  defaultMode: EnforcementMode;
  breakGlassGroups: string[];
  breakGlassMaxSeconds: number;
  breakGlassDefaultSeconds: number;
  /**
   * `<group>/<resource>` → Kind, for scale subresources of custom resources: a Scale request names the
   * parent only by resource. Apps Deployments/ReplicaSets/StatefulSets and ReplicationControllers are built in.
   */
  resourceKinds?: Record<string, string>;
  /**
   * Namespaces gitgate itself labels `gitgate.io/webhook=ignore` (kube-system and its own; see
   * webhook-config.ts). Elsewhere the label is refused: it would take a namespace out of the gate.
   * Default: kube-system only.
   */
  ignoredNamespaces?: string[];
  /** Signs break-glass grants recorded on objects, so the leader replica can trust them (hold-record.ts). */
  holdSecret?: string;
  /** The config's default for fields Git does not declare (a GitApp may override); unset: follow the mode. */
  undeclaredFields?: UndeclaredPolicy;
  /**
   * The validating webhook's failurePolicy (default Fail): how a change gitgate cannot judge yet
   * (its app not rendered since start) is answered — refused under Fail, allowed with a warning
   * under Ignore, as kube-apiserver would settle it had gitgate not answered.
   */
  failurePolicy?: "Fail" | "Ignore";
}

/** allowed/denied/warned/audited; `error` exists only in metrics (bad request or internal failure). */
export type Verdict = "allowed" | "denied" | "warned" | "audited";

/** Why: which rule of the decision order ended it (for logs and tests). */
export type DecisionReason =
  | "unmanaged"
  | "mode-off"
  | "self"
  | "exempt"
  | "subresource"
  | "not-indexed"
  /** Labelled for an app gitgate has not rendered since it started: answered per failurePolicy. */
  | "index-incomplete"
  | "being-deleted"
  | "matches-git"
  | "violation"
  | "break-glass"
  | "reserved-label"
  /** A new or changed out-of-band record that gitgate did not write for this requester (record-check.ts). */
  | "forged-record";

export interface AdmissionStatus {
  code: number;
  message: string;
  reason?: string;
}

/**
 * A break-glass grant: the reconciler suspends self-heal for `key` until `expiresAt`, then reverts.
 * Structurally a `Hold` of src/gate/holds.ts, so it can be granted as is.
 */
export interface BreakGlassGrant {
  key: string;
  ref: ObjectRef;
  app: AppRef;
  expiresAt: Date;
  username: string;
  reason: string;
}

export interface Decision {
  allowed: boolean;
  verdict: Verdict;
  reason: DecisionReason;
  /** Desired-index key of the object (`group/kind/namespace/name`). */
  key: string;
  status?: AdmissionStatus;
  warnings?: string[];
  /** Violating fields, Secret values redacted. */
  changes?: FieldChange[];
  /** Alert to raise; absent for dry runs and allowed-without-violation requests. */
  event?: AlertEvent;
  /** Present when break-glass admitted the request (never for dry runs): the mutating webhook signs it. */
  breakGlass?: BreakGlassGrant;
  /** What an admitted out-of-band request set (unbounded values, never logged): a claim for attribution. */
  claimed?: Array<{ path: string; value: unknown }>;
}

/** RFC 6902 operation (the subset gitgate emits). */
export interface JsonPatchOp {
  op: "add" | "replace" | "remove" | "test";
  path: string;
  value?: unknown;
}
