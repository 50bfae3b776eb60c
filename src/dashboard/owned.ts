/**
 * The cluster objects Git objects own (ReplicaSets, Pods, Jobs), which gitgate does not watch: listed
 * with gitgate's own identity, per namespace of the app, only for a user whose SubjectAccessReview
 * for that namespace passed (the caller checks), bounded per list and cached briefly so that page
 * views and live refreshes cannot multiply load on kube-apiserver.
 */
import type { ClusterClient } from "../cluster/client.js";
import type { Logger } from "../log/logger.js";
import { isPlainObject, type KubeObject } from "../manifest/object.js";
import { TtlCache } from "../bounded/ttl-cache.js";

/** The kinds that Git objects usually own (Deployment → ReplicaSet → Pod, CronJob → Job → Pod, …). */
export const OWNED_KINDS: ReadonlyArray<{ apiVersion: string; kind: string; resource: string }> = [
  { apiVersion: "apps/v1", kind: "ReplicaSet", resource: "replicasets" },
  { apiVersion: "batch/v1", kind: "Job", resource: "jobs" },
  { apiVersion: "v1", kind: "Pod", resource: "pods" },
];
/** Most objects of one kind read per namespace (one page, no continuation). */
export const MAX_LISTED = 300;
/** Most namespaces of one app looked into. */
const MAX_NAMESPACES = 8;
const CACHE_MS = 2000;
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface OwnedListing {
  items: KubeObject[];
  /** Why some kinds are missing ("gitgate may not list pods in shop"). */
  notes: string[];
}

/** Only what the tree and health need: no Pod spec (env values), no annotations, no managedFields. */
export function slim(obj: KubeObject, apiVersion: string, kind: string): KubeObject {
  const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
  const spec = isPlainObject(obj.spec) ? obj.spec : {};
  return {
    apiVersion,
    kind,
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      generation: meta.generation,
      ownerReferences: meta.ownerReferences,
      ...(meta.deletionTimestamp ? { deletionTimestamp: meta.deletionTimestamp } : {}),
    },
    spec:
      kind === "Pod"
        ? { restartPolicy: spec.restartPolicy }
        : {
            replicas: spec.replicas,
            suspend: spec.suspend,
            completions: spec.completions,
            parallelism: spec.parallelism,
          },
    status: obj.status,
  };
}

export class OwnedObjects {
  private readonly cache = new TtlCache<Promise<{ items: KubeObject[]; note?: string }>>(256, CACHE_MS);

  constructor(
    private readonly client: ClusterClient,
    private readonly logger: Logger,
  ) {}

  async list(namespaces: Iterable<string>): Promise<OwnedListing> {
    const wanted = [...new Set(namespaces)].filter((ns) => NAME.test(ns)).slice(0, MAX_NAMESPACES);
    const parts = await Promise.all(wanted.flatMap((ns) => OWNED_KINDS.map((kind) => this.cached(ns, kind))));
    return {
      items: parts.flatMap((p) => p.items),
      notes: parts.flatMap((p) => (p.note ? [p.note] : [])),
    };
  }

  private cached(
    namespace: string,
    kind: (typeof OWNED_KINDS)[number],
  ): Promise<{ items: KubeObject[]; note?: string }> {
    const key = `${namespace}/${kind.resource}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const pending = this.read(namespace, kind);
    this.cache.set(key, pending);
    return pending;
  }

  private async read(
    namespace: string,
    { apiVersion, kind, resource }: (typeof OWNED_KINDS)[number],
  ): Promise<{ items: KubeObject[]; note?: string }> {
    const base = apiVersion === "v1" ? "/api/v1" : `/apis/${apiVersion}`;
    try {
      const res = await this.client.raw({
        method: "GET",
        path: `${base}/namespaces/${namespace}/${resource}`,
        query: { limit: MAX_LISTED },
        timeoutMs: 5000,
      });
      if (res.status === 403) return { items: [], note: `gitgate may not list ${resource} in ${namespace}` };
      if (res.status !== 200)
        return { items: [], note: `listing ${resource} in ${namespace} failed (${res.status})` };
      const body = isPlainObject(res.body) ? res.body : {};
      const items = Array.isArray(body.items) ? body.items.slice(0, MAX_LISTED) : [];
      const more = isPlainObject(body.metadata) && body.metadata.continue;
      return {
        items: items.filter(isPlainObject).map((o) => slim(o as KubeObject, apiVersion, kind)),
        ...(more ? { note: `only the first ${MAX_LISTED} ${resource} in ${namespace} are looked at` } : {}),
      };
    } catch (err) {
      this.logger.debug(
        { namespace, resource, err: String(err).slice(0, 300) },
        "listing owned objects failed",
      );
      return { items: [], note: `listing ${resource} in ${namespace} failed` };
    }
  }
}
