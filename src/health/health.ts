/**
 * The health of one live object and of a whole GitApp, as Argo CD users know them: Healthy,
 * Suspended, Progressing, Missing, Degraded, Unknown. Pure.
 */
import { groupOf, type KubeObject } from "../manifest/object.js";
import { cronJobHealth, jobHealth } from "./batch.js";
import { apiServiceHealth, conditionsHealth, crdHealth, hpaHealth, pvcHealth } from "./conditions.js";
import { ingressHealth, serviceHealth } from "./network.js";
import { podHealth } from "./pod.js";
import { health, type Health, type HealthStatus } from "./types.js";
import { daemonSetHealth, deploymentHealth, replicaSetHealth, statefulSetHealth } from "./workloads.js";

type Rule = (obj: KubeObject) => Health;

/** Built-in kinds by `group/Kind`; anything else is judged by its status conditions. */
const RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ["apps/Deployment", deploymentHealth],
  ["apps/StatefulSet", statefulSetHealth],
  ["apps/DaemonSet", daemonSetHealth],
  ["apps/ReplicaSet", replicaSetHealth],
  ["/Pod", podHealth],
  ["batch/Job", jobHealth],
  ["batch/CronJob", cronJobHealth],
  ["/Service", serviceHealth],
  ["networking.k8s.io/Ingress", ingressHealth],
  ["extensions/Ingress", ingressHealth],
  ["autoscaling/HorizontalPodAutoscaler", hpaHealth],
  ["apiregistration.k8s.io/APIService", apiServiceHealth],
  ["apiextensions.k8s.io/CustomResourceDefinition", crdHealth],
  ["/PersistentVolumeClaim", pvcHealth],
]);

/** Kinds with nothing to wait for: they are what they are once they exist. */
const STATIC_KINDS = new Set([
  "/ConfigMap",
  "/Secret",
  "/ServiceAccount",
  "/Namespace",
  "/LimitRange",
  "/ResourceQuota",
  "/Endpoints",
  "rbac.authorization.k8s.io/Role",
  "rbac.authorization.k8s.io/RoleBinding",
  "rbac.authorization.k8s.io/ClusterRole",
  "rbac.authorization.k8s.io/ClusterRoleBinding",
  "networking.k8s.io/NetworkPolicy",
  "policy/PodDisruptionBudget",
  "scheduling.k8s.io/PriorityClass",
  "storage.k8s.io/StorageClass",
  "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
  "admissionregistration.k8s.io/MutatingWebhookConfiguration",
]);

export function healthOf(obj: KubeObject): Health {
  const id = `${groupOf(obj.apiVersion)}/${obj.kind}`;
  if (STATIC_KINDS.has(id)) return health("Healthy");
  const rule = RULES.get(id) ?? conditionsHealth;
  return rule(obj);
}

/** Argo CD's order, best first; Unknown objects do not make an app unhealthy. */
const RANK: Record<HealthStatus, number> = {
  Healthy: 0,
  Suspended: 1,
  Progressing: 2,
  Missing: 3,
  Degraded: 4,
  Unknown: -1,
};

/** The app's health is its worst object's (Healthy when every object is Unknown or there are none). */
export function aggregateHealth(healths: readonly HealthStatus[]): HealthStatus {
  let worst: HealthStatus = "Healthy";
  for (const h of healths) if (RANK[h] > RANK[worst]) worst = h;
  return worst;
}

export interface ObjectHealth {
  /** `Kind namespace/name`. */
  object: string;
  health: Health;
}

/**
 * One line for a condition message: the objects at the app's health, worst first, at most three
 * named (an app with hundreds of Progressing pods must not make a huge status).
 */
export function summarizeHealth(objects: readonly ObjectHealth[]): { status: HealthStatus; message: string } {
  const status = aggregateHealth(objects.map((o) => o.health.status));
  if (status === "Healthy") return { status, message: "all objects are healthy" };
  const at = objects.filter((o) => o.health.status === status);
  const named = at
    .slice(0, 3)
    .map((o) => `${o.object}${o.health.message ? `: ${o.health.message}` : ""}`)
    .join("; ");
  const more = at.length > 3 ? ` (and ${at.length - 3} more)` : "";
  return { status, message: `${status}: ${named}${more}` };
}
