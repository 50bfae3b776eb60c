/** Services and Ingresses: healthy once a load balancer has an address. Pure. */
import type { KubeObject } from "../manifest/object.js";
import { fields, health, type Health } from "./types.js";

function hasLoadBalancer(obj: KubeObject): boolean {
  const ingress = fields(fields(obj.status).loadBalancer).ingress;
  return Array.isArray(ingress) && ingress.length > 0;
}

export function serviceHealth(obj: KubeObject): Health {
  if (fields(obj.spec).type !== "LoadBalancer") return health("Healthy");
  return hasLoadBalancer(obj) ? health("Healthy") : health("Progressing", "waiting for a load balancer");
}

export function ingressHealth(obj: KubeObject): Health {
  return hasLoadBalancer(obj)
    ? health("Healthy")
    : health("Progressing", "waiting for the ingress controller to assign an address");
}
