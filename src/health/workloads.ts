/**
 * Deployment, StatefulSet, DaemonSet and ReplicaSet: healthy once the controller has observed the
 * current spec and every replica is updated and available, as Argo CD's gitops-engine judges them.
 * Pure.
 */
import type { KubeObject } from "../manifest/object.js";
import { condition, fields, health, isTrue, num, text, type Health } from "./types.js";

function observed(obj: KubeObject, status: Record<string, unknown>): boolean {
  return (obj.metadata.generation ?? 0) <= num(status, "observedGeneration");
}

export function deploymentHealth(obj: KubeObject): Health {
  const spec = fields(obj.spec);
  const status = fields(obj.status);
  if (spec.paused === true) return health("Suspended", "Deployment is paused");
  if (!observed(obj, status))
    return health("Progressing", "waiting for the controller to observe the new spec");
  const progressing = condition(status, "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded")
    return health("Degraded", text(progressing, "message") || "exceeded its progress deadline");
  const want = num(spec, "replicas", 1);
  const updated = num(status, "updatedReplicas");
  if (updated < want) return health("Progressing", `${updated} of ${want} new replicas updated`);
  const old = num(status, "replicas") - updated;
  if (old > 0) return health("Progressing", `${old} old replicas pending termination`);
  const available = num(status, "availableReplicas");
  if (available < updated)
    return health("Progressing", `${available} of ${updated} updated replicas available`);
  return health("Healthy");
}

export function statefulSetHealth(obj: KubeObject): Health {
  const spec = fields(obj.spec);
  const status = fields(obj.status);
  if (num(status, "observedGeneration") === 0 || !observed(obj, status))
    return health("Progressing", "waiting for the controller to observe the new spec");
  const want = num(spec, "replicas", 1);
  const ready = num(status, "readyReplicas");
  if (ready < want) return health("Progressing", `${ready} of ${want} pods ready`);
  const strategy = fields(spec.updateStrategy);
  if (strategy.type === "OnDelete") return health("Healthy", `${ready} ready pods (OnDelete updates)`);
  const partition = num(fields(strategy.rollingUpdate), "partition");
  if (partition > 0) {
    const updated = num(status, "updatedReplicas");
    const needed = Math.max(0, want - partition);
    return updated < needed
      ? health("Progressing", `partitioned rollout: ${updated} of ${needed} new pods updated`)
      : health("Healthy", `partitioned rollout complete: ${updated} new pods`);
  }
  const updateRevision = text(status, "updateRevision");
  if (updateRevision && updateRevision !== text(status, "currentRevision"))
    return health("Progressing", `rolling update to revision ${updateRevision} in progress`);
  return health("Healthy");
}

export function daemonSetHealth(obj: KubeObject): Health {
  const spec = fields(obj.spec);
  const status = fields(obj.status);
  if (!observed(obj, status))
    return health("Progressing", "waiting for the controller to observe the new spec");
  const desired = num(status, "desiredNumberScheduled");
  const updated = num(status, "updatedNumberScheduled");
  if (fields(spec.updateStrategy).type === "OnDelete")
    return health("Healthy", `${updated} of ${desired} pods updated (OnDelete updates)`);
  if (updated < desired) return health("Progressing", `${updated} of ${desired} new pods updated`);
  const available = num(status, "numberAvailable");
  if (available < desired) return health("Progressing", `${available} of ${desired} updated pods available`);
  return health("Healthy");
}

export function replicaSetHealth(obj: KubeObject): Health {
  const spec = fields(obj.spec);
  const status = fields(obj.status);
  if (!observed(obj, status))
    return health("Progressing", "waiting for the controller to observe the new spec");
  const failure = condition(status, "ReplicaFailure");
  if (isTrue(failure)) return health("Degraded", text(failure, "message") || "replica failure");
  const want = num(spec, "replicas", 1);
  const available = num(status, "availableReplicas");
  if (available < want) return health("Progressing", `${available} of ${want} replicas available`);
  return health("Healthy");
}
