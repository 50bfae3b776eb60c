/**
 * Defaults that server-side apply needs before the API server would add them: `protocol` is a key
 * of the associative lists `Service.spec.ports` and `containers[].ports`, and older API servers
 * (1.20) reject an applied element that omits it. Flux's ssa package fills the same defaults. Pure.
 */
import { isPlainObject, type KubeObject } from "./object.js";

type Json = Record<string, unknown>;

function defaultProtocols(ports: unknown): void {
  if (!Array.isArray(ports)) return;
  for (const port of ports) if (isPlainObject(port) && port.protocol === undefined) port.protocol = "TCP";
}

function defaultPodSpec(spec: unknown): void {
  if (!isPlainObject(spec)) return;
  for (const list of ["containers", "initContainers", "ephemeralContainers"]) {
    const containers = spec[list];
    if (Array.isArray(containers))
      for (const c of containers) if (isPlainObject(c)) defaultProtocols(c.ports);
  }
}

function at(obj: unknown, ...path: string[]): unknown {
  let current = obj;
  for (const key of path) current = isPlainObject(current) ? current[key] : undefined;
  return current;
}

/** Returns a copy with the SSA-required defaults filled in; other objects come back unchanged. */
export function withApplyDefaults<T extends KubeObject>(obj: T): T {
  const kinds = [
    "Pod",
    "PodTemplate",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "Service",
  ];
  if (!kinds.includes(obj.kind)) return obj;
  const copy = structuredClone(obj) as T & Json;
  switch (obj.kind) {
    case "Service":
      defaultProtocols(at(copy, "spec", "ports"));
      break;
    case "Pod":
      defaultPodSpec(copy.spec);
      break;
    case "PodTemplate":
      defaultPodSpec(at(copy, "template", "spec"));
      break;
    case "CronJob":
      defaultPodSpec(at(copy, "spec", "jobTemplate", "spec", "template", "spec"));
      break;
    default:
      defaultPodSpec(at(copy, "spec", "template", "spec"));
  }
  return copy;
}
