/**
 * Kinds judged by their status conditions: HorizontalPodAutoscaler, APIService,
 * CustomResourceDefinition, PersistentVolumeClaim's phase, and any custom resource that reports
 * Ready, Available or Healthy (the convention of Flux, cert-manager, Crossplane and most operators).
 * Pure.
 */
import type { KubeObject } from "../manifest/object.js";
import {
  condition,
  conditionsOf,
  fields,
  health,
  isTrue,
  num,
  text,
  type Fields,
  type Health,
} from "./types.js";

/** HPA conditions Argo CD treats as failures: the autoscaler cannot read or write the scale. */
const HPA_FAILURES: ReadonlyArray<[string, string]> = [
  ["AbleToScale", "FailedGetScale"],
  ["AbleToScale", "FailedUpdateScale"],
  ["ScalingActive", "FailedGetResourceMetric"],
  ["ScalingActive", "FailedGetObjectMetric"],
  ["ScalingActive", "FailedGetPodsMetric"],
  ["ScalingActive", "FailedGetExternalMetric"],
  ["ScalingActive", "InvalidSelector"],
];

export function hpaHealth(obj: KubeObject): Health {
  for (const c of conditionsOf(fields(obj.status))) {
    if (HPA_FAILURES.some(([type, reason]) => c.type === type && c.reason === reason))
      return health("Degraded", text(c, "message") || text(c, "reason"));
    if ((c.type === "AbleToScale" || c.type === "ScalingLimited") && isTrue(c))
      return health("Healthy", text(c, "message"));
  }
  return health("Progressing", "waiting to autoscale");
}

export function apiServiceHealth(obj: KubeObject): Health {
  const available = condition(fields(obj.status), "Available");
  if (isTrue(available)) return health("Healthy");
  return health("Progressing", text(available, "message") || text(available, "reason") || "not available");
}

export function crdHealth(obj: KubeObject): Health {
  const status = fields(obj.status);
  const conflict = condition(status, "NamesAccepted");
  if (conflict?.status === "False")
    return health("Degraded", text(conflict, "message") || "names not accepted");
  return isTrue(condition(status, "Established"))
    ? health("Healthy")
    : health("Progressing", "not established");
}

export function pvcHealth(obj: KubeObject): Health {
  const phase = text(fields(obj.status), "phase");
  if (phase === "Bound") return health("Healthy");
  if (phase === "Lost") return health("Degraded", "the volume was lost");
  if (phase === "Pending" || phase === "") return health("Progressing", "waiting for a volume");
  return health("Unknown", `phase ${phase}`);
}

/** Words operators put in a False Ready condition's reason while they are still working. */
const STILL_WORKING = ["Progressing", "Reconciling", "Pending", "InProgress", "Waiting", "Creating"];

function byCondition(c: Fields): Health {
  const message = text(c, "message") || text(c, "reason");
  if (isTrue(c)) return health("Healthy", text(c, "message"));
  if (c.status === "False") {
    const reason = text(c, "reason");
    return STILL_WORKING.some((w) => reason.includes(w))
      ? health("Progressing", message)
      : health("Degraded", message || `${text(c, "type")} is False`);
  }
  return health("Progressing", message || `${text(c, "type")} is Unknown`);
}

/**
 * A custom resource: Stalled and Reconciling (kstatus) first, then the first of Ready, Available
 * and Healthy. A status not yet written for the current generation is Progressing. Without any
 * of these conditions gitgate cannot tell: Unknown.
 */
export function conditionsHealth(obj: KubeObject): Health {
  const status = fields(obj.status);
  const generation = obj.metadata.generation ?? 0;
  if (typeof status.observedGeneration === "number" && status.observedGeneration < generation)
    return health("Progressing", "waiting for the controller to observe the new spec");
  const stalled = condition(status, "Stalled");
  if (isTrue(stalled))
    return health("Degraded", text(stalled, "message") || text(stalled, "reason") || "stalled");
  const reconciling = condition(status, "Reconciling");
  if (isTrue(reconciling)) return health("Progressing", text(reconciling, "message") || "reconciling");
  const c = condition(status, "Ready") ?? condition(status, "Available") ?? condition(status, "Healthy");
  if (!c) return health("Unknown");
  if (typeof c.observedGeneration === "number" && num(c, "observedGeneration") < generation)
    return health("Progressing", "waiting for the controller to observe the new spec");
  return byCondition(c);
}
