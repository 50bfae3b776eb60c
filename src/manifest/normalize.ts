/**
 * Pure normalisation of rendered objects before they are indexed and applied: ownership stamps,
 * default namespace, and the order objects are applied and pruned in. Inputs are never mutated.
 */
import { terminal } from "../errors.js";
import {
  APP_LABEL,
  COMMIT_ANNOTATION,
  CONTENT_ANNOTATION,
  FILE_ANNOTATION,
  REPO_ANNOTATION,
  appLabelValue,
} from "./labels.js";
import { digestOf } from "./digest.js";
import { groupOf, type KubeObject } from "./object.js";

export interface StampInfo {
  app: { namespace: string; name: string };
  repoURL: string;
  /** Repo-relative path of the file that declared the object. */
  file: string;
  /** Full commit SHA. */
  commit: string;
}

/** Label values are at most 63 characters of `[A-Za-z0-9_.-]`, starting and ending alphanumeric. */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** The repo URL without `user:password@`: annotations are readable by anyone who can read the object. */
export function publicRepoURL(repoURL: string): string {
  try {
    const url = new URL(repoURL);
    if (!url.username && !url.password) return repoURL;
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    return repoURL.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
  }
}

/** A copy of `obj` carrying gitgate's ownership label and provenance annotations. */
export function stampObject<T extends KubeObject>(obj: T, info: StampInfo): T {
  const appValue = appLabelValue(info.app);
  if (!LABEL_VALUE.test(appValue)) {
    throw terminal(
      "InvalidAppName",
      `label value ${APP_LABEL}=${appValue} is not a valid label value (at most 63 characters): shorten the GitApp name`,
    );
  }
  const copy = structuredClone(obj);
  copy.metadata.labels = { ...copy.metadata.labels, [APP_LABEL]: appValue };
  copy.metadata.annotations = {
    ...copy.metadata.annotations,
    [REPO_ANNOTATION]: publicRepoURL(info.repoURL),
    [FILE_ANNOTATION]: info.file,
    [COMMIT_ANNOTATION]: info.commit,
  };
  return copy;
}

/**
 * Stamps the object's content digest (CONTENT_ANNOTATION): everything but the commit stamp and the
 * digest itself. Called on the object as it will be applied (namespace set), so the digest changes
 * exactly when what gitgate would apply changes.
 */
export function stampContent<T extends KubeObject>(obj: T): T {
  const annotations = { ...obj.metadata.annotations };
  delete annotations[COMMIT_ANNOTATION];
  delete annotations[CONTENT_ANNOTATION];
  const digest = digestOf({ ...obj, metadata: { ...obj.metadata, annotations } });
  obj.metadata.annotations = { ...obj.metadata.annotations, [CONTENT_ANNOTATION]: digest };
  return obj;
}

/** Kinds known to be cluster-scoped, for use before (or without) API discovery. */
const CLUSTER_SCOPED = new Set([
  "/Namespace",
  "/Node",
  "/PersistentVolume",
  "/ComponentStatus",
  "apiextensions.k8s.io/CustomResourceDefinition",
  "apiregistration.k8s.io/APIService",
  "rbac.authorization.k8s.io/ClusterRole",
  "rbac.authorization.k8s.io/ClusterRoleBinding",
  "storage.k8s.io/StorageClass",
  "storage.k8s.io/CSIDriver",
  "storage.k8s.io/CSINode",
  "storage.k8s.io/VolumeAttachment",
  "scheduling.k8s.io/PriorityClass",
  "networking.k8s.io/IngressClass",
  "networking.k8s.io/IPAddress",
  "networking.k8s.io/ServiceCIDR",
  "storage.k8s.io/VolumeAttributesClass",
  "node.k8s.io/RuntimeClass",
  "policy/PodSecurityPolicy",
  "admissionregistration.k8s.io/MutatingWebhookConfiguration",
  "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
  "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
  "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
  "certificates.k8s.io/CertificateSigningRequest",
  "flowcontrol.apiserver.k8s.io/FlowSchema",
  "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
]);

/** API groups served by kube-apiserver itself (CRDs may also use *.k8s.io groups, so no pattern). */
const BUILTIN_GROUPS = new Set([
  "",
  "apps",
  "batch",
  "autoscaling",
  "policy",
  "networking.k8s.io",
  "rbac.authorization.k8s.io",
  "storage.k8s.io",
  "scheduling.k8s.io",
  "node.k8s.io",
  "coordination.k8s.io",
  "discovery.k8s.io",
  "events.k8s.io",
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "apiregistration.k8s.io",
  "certificates.k8s.io",
  "flowcontrol.apiserver.k8s.io",
]);

/** Scope of built-in kinds: true/false when known, undefined for anything discovery must answer. */
export function isBuiltinNamespaced(obj: Pick<KubeObject, "apiVersion" | "kind">): boolean | undefined {
  const group = groupOf(obj.apiVersion);
  if (CLUSTER_SCOPED.has(`${group}/${obj.kind}`)) return false;
  return BUILTIN_GROUPS.has(group) ? true : undefined;
}

/**
 * Sets `metadata.namespace` to `namespace` for namespaced objects that name none (like `kubectl apply
 * -n`). Returns the same object when nothing changes.
 */
export function withDefaultNamespace<T extends KubeObject>(
  obj: T,
  namespace: string,
  isNamespaced: (obj: KubeObject) => boolean,
): T {
  if (obj.metadata.namespace || !isNamespaced(obj)) return obj;
  return { ...obj, metadata: { ...obj.metadata, namespace } };
}

/**
 * Apply order by kind, after Helm's install order and Argo CD's kind waves: namespaces and CRDs first
 * (everything else may live in or be an instance of them), then policy and identity, config, storage,
 * RBAC, services, workloads, ingress; custom resources after all built-ins; webhooks last so they never
 * intercept the creation of the very objects that serve them.
 */
const KIND_ORDER = [
  "Namespace",
  "CustomResourceDefinition",
  "PriorityClass",
  "NetworkPolicy",
  "ResourceQuota",
  "LimitRange",
  "PodSecurityPolicy",
  "PodDisruptionBudget",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "StorageClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
  "Service",
  "DaemonSet",
  "Pod",
  "ReplicationController",
  "ReplicaSet",
  "Deployment",
  "HorizontalPodAutoscaler",
  "StatefulSet",
  "Job",
  "CronJob",
  "IngressClass",
  "Ingress",
];
const LAST_KINDS = [
  "APIService",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
];
const UNKNOWN_RANK = KIND_ORDER.length;
const RANK = new Map<string, number>([
  ...KIND_ORDER.map((kind, i): [string, number] => [kind, i]),
  ...LAST_KINDS.map((kind, i): [string, number] => [kind, UNKNOWN_RANK + 1 + i]),
]);

function rankOf(obj: KubeObject): number {
  return RANK.get(obj.kind) ?? UNKNOWN_RANK;
}

/** Byte-wise comparison: locale-independent, so every replica sorts identically. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Comparator for apply order; ties broken by kind, group, namespace and name for determinism. */
export function compareForApply(a: KubeObject, b: KubeObject): number {
  return (
    rankOf(a) - rankOf(b) ||
    compareStrings(a.kind, b.kind) ||
    compareStrings(groupOf(a.apiVersion), groupOf(b.apiVersion)) ||
    compareStrings(a.metadata.namespace ?? "", b.metadata.namespace ?? "") ||
    compareStrings(a.metadata.name ?? "", b.metadata.name ?? "")
  );
}

export function sortForApply<T extends KubeObject>(objects: readonly T[]): T[] {
  return [...objects].sort(compareForApply);
}

/** Prune order is the reverse: webhooks go first, namespaces and CRDs (which cascade) last. */
export function sortForPrune<T extends KubeObject>(objects: readonly T[]): T[] {
  return sortForApply(objects).reverse();
}
