/** Health of live objects, as Argo CD assesses it for the built-in kinds. Pure. */
import { isPlainObject, scalarText, type KubeObject } from "../manifest/object.js";

export type HealthStatus = "Healthy" | "Progressing" | "Degraded" | "Unknown";

export interface Health {
  status: HealthStatus;
  message?: string;
}

type Fields = Record<string, unknown>;

function num(obj: unknown, key: string): number {
  return isPlainObject(obj) && typeof obj[key] === "number" ? obj[key] : 0;
}

function conditions(status: Fields): Fields[] {
  return Array.isArray(status.conditions) ? (status.conditions as Fields[]) : [];
}

function condition(status: Fields, type: string): Fields | undefined {
  return conditions(status).find((c) => c.type === type);
}

function rollout(obj: KubeObject, status: Fields, desiredKey: string, readyKey: string): Health {
  const spec = isPlainObject(obj.spec) ? obj.spec : {};
  const generation = obj.metadata.generation ?? 0;
  if (num(status, "observedGeneration") < generation)
    return { status: "Progressing", message: "waiting for the controller to observe the new spec" };
  const desired =
    desiredKey === "replicas"
      ? typeof spec.replicas === "number"
        ? spec.replicas
        : 1
      : num(status, desiredKey);
  const ready = num(status, readyKey);
  if (ready < desired) return { status: "Progressing", message: `${ready} of ${desired} ready` };
  return { status: "Healthy" };
}

export function healthOf(obj: KubeObject): Health {
  const status: Fields = isPlainObject(obj.status) ? obj.status : {};
  const spec: Fields = isPlainObject(obj.spec) ? obj.spec : {};
  switch (obj.kind) {
    case "Deployment": {
      const progressing = condition(status, "Progressing");
      if (progressing?.reason === "ProgressDeadlineExceeded")
        return { status: "Degraded", message: scalarText(progressing.message) };
      if (spec.paused === true) return { status: "Unknown", message: "paused" };
      const h = rollout(obj, status, "replicas", "availableReplicas");
      if (
        h.status === "Healthy" &&
        num(status, "updatedReplicas") < (typeof spec.replicas === "number" ? spec.replicas : 1)
      )
        return { status: "Progressing", message: "rollout in progress" };
      return h;
    }
    case "StatefulSet":
      return rollout(obj, status, "replicas", "readyReplicas");
    case "DaemonSet":
      return rollout(obj, status, "desiredNumberScheduled", "numberAvailable");
    case "ReplicaSet":
      return rollout(obj, status, "replicas", "availableReplicas");
    case "Job": {
      if (condition(status, "Failed")?.status === "True")
        return { status: "Degraded", message: "job failed" };
      if (condition(status, "Complete")?.status === "True") return { status: "Healthy" };
      return { status: "Progressing", message: "job running" };
    }
    case "PersistentVolumeClaim":
      return status.phase === "Bound"
        ? { status: "Healthy" }
        : { status: "Progressing", message: `phase ${scalarText(status.phase, "Pending")}` };
    case "Service": {
      if (spec.type !== "LoadBalancer") return { status: "Healthy" };
      const ingress = isPlainObject(status.loadBalancer) ? status.loadBalancer.ingress : undefined;
      return Array.isArray(ingress) && ingress.length > 0
        ? { status: "Healthy" }
        : { status: "Progressing", message: "waiting for a load balancer" };
    }
    case "CustomResourceDefinition":
      return condition(status, "Established")?.status === "True"
        ? { status: "Healthy" }
        : { status: "Progressing", message: "not established" };
    case "Pod":
      if (status.phase === "Failed") return { status: "Degraded" };
      return condition(status, "Ready")?.status === "True" || status.phase === "Succeeded"
        ? { status: "Healthy" }
        : { status: "Progressing", message: `phase ${scalarText(status.phase, "Pending")}` };
    case "ConfigMap":
    case "Secret":
    case "ServiceAccount":
    case "Namespace":
    case "Role":
    case "RoleBinding":
    case "ClusterRole":
    case "ClusterRoleBinding":
      return { status: "Healthy" };
    default:
      return { status: "Unknown" };
  }
}

const RANK: Record<HealthStatus, number> = { Healthy: 0, Unknown: 1, Progressing: 2, Degraded: 3 };

/** The app's health is its worst object's; Unknown objects do not make an app unhealthy. */
export function aggregateHealth(healths: HealthStatus[]): HealthStatus {
  let worst: HealthStatus = "Healthy";
  for (const h of healths) if (h !== "Unknown" && RANK[h] > RANK[worst]) worst = h;
  return worst;
}
