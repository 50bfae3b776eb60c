/**
 * Live state of every gitgate-managed object, kept by one label-selected informer per kind. The
 * reconciler diffs against it (a no-op resync makes no API calls) and drift events come from it.
 */
import { ApiError } from "../cluster/api-error.js";
import type { ClusterClient } from "../cluster/client.js";
import { Informer, type WatchEventType } from "../cluster/watch.js";
import { terminal, transient } from "../errors.js";
import type { Logger } from "../log/logger.js";
import { APP_LABEL } from "../manifest/labels.js";
import { objectKey, type KubeObject } from "../manifest/object.js";

export type LiveChangeHandler = (type: WatchEventType, obj: KubeObject) => void;

export class LiveState {
  private readonly informers = new Map<string, Informer>();
  private stopped = false;

  constructor(
    private readonly client: ClusterClient,
    private readonly logger: Logger,
    private readonly onChange: LiveChangeHandler,
  ) {}

  /** Starts watching a kind (once) and waits until its first list is in the cache. */
  async watch(apiVersion: string, kind: string): Promise<void> {
    // A reconcile still running when the controller stops must not start an informer nobody stops
    // (it would retry forever and keep the process alive).
    if (this.stopped) throw transient("Stopping", "gitgate is stopping");
    const id = `${apiVersion}/${kind}`;
    let informer = this.informers.get(id);
    if (!informer) {
      // Fail fast on kinds the server does not serve, instead of an informer retrying forever.
      await this.client.discovery.resource(apiVersion, kind);
      // stop() may have come while discovery answered (seen: a Deployment informer retrying for
      // a minute after its control plane was gone), and another call may have started it meanwhile.
      if (this.stopped) throw transient("Stopping", "gitgate is stopping");
      informer = this.informers.get(id);
    }
    if (!informer) {
      informer = new Informer(this.client, { apiVersion, kind }, this.onChange, this.logger, {
        labelSelector: APP_LABEL,
      });
      this.informers.set(id, informer);
      informer.start();
    }
    await informer.hasSynced().catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 403)
        throw terminal(
          "Forbidden",
          `gitgate may not list ${kind} (${apiVersion}): grant it get/list/watch/create/update/patch/delete ` +
            `(chart: add it to rbac.managedResources) — ${err.message}`,
          err,
        );
      throw err;
    });
  }

  /** Whether the object's kind is watched here: only then does a cache miss mean the object is gone. */
  watches(obj: KubeObject): boolean {
    return this.informers.has(`${obj.apiVersion}/${obj.kind}`);
  }

  get(obj: KubeObject): KubeObject | undefined {
    return this.informers.get(`${obj.apiVersion}/${obj.kind}`)?.cache.get(objectKey(obj));
  }

  /** Records the object the API server returned from an apply, ahead of the watch event. */
  remember(obj: KubeObject): void {
    const cache = this.informers.get(`${obj.apiVersion}/${obj.kind}`)?.cache;
    if (!cache) return;
    const key = objectKey(obj);
    if (isNewer(obj, cache.get(key))) cache.set(key, obj);
  }

  stop(): void {
    this.stopped = true;
    for (const informer of this.informers.values()) informer.stop();
    this.informers.clear();
  }
}

/**
 * Whether `incoming` may replace `cached`. The watch can deliver a later version (a controller's
 * status update) before the apply's own response is handled; that response must not put the older
 * object back, or health and drift are judged on it until the next event, which may never come.
 * resourceVersions are etcd revisions: compared as numbers when both are, else the incoming wins.
 */
export function isNewer(incoming: KubeObject, cached: KubeObject | undefined): boolean {
  const a = incoming.metadata.resourceVersion;
  const b = cached?.metadata.resourceVersion;
  if (!a || !b || !/^\d{1,20}$/.test(a) || !/^\d{1,20}$/.test(b)) return true;
  return BigInt(a) >= BigInt(b);
}
