/**
 * List-then-watch of one kind, re-listing on expiry (410) or stream end, with a local cache of the
 * latest objects. The handler sees ADDED/MODIFIED/DELETED; errors never escape.
 */
import { isPlainObject, objectKey, type KubeObject } from "../manifest/object.js";
import type { Logger } from "../log/logger.js";
import type { ClusterClient, Target } from "./client.js";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";
export type WatchHandler = (type: WatchEventType, obj: KubeObject) => void;

export interface WatchOptions {
  labelSelector?: string;
  /** Called after every (re-)list with the full set; lets callers notice deletions missed while down. */
  onSync?: (objects: KubeObject[]) => void;
}

export class Informer {
  readonly cache = new Map<string, KubeObject>();
  private stopped = false;
  private abort?: () => void;
  private synced = false;
  private readonly syncWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(
    private readonly client: ClusterClient,
    private readonly target: Target,
    private readonly handler: WatchHandler,
    private readonly logger: Logger,
    private readonly opts: WatchOptions = {},
  ) {}

  start(): void {
    void this.loop();
  }

  /**
   * Resolves once the first list is cached. Rejects with the error when a list fails before that
   * (e.g. 403), so callers report it instead of waiting forever; the informer keeps retrying.
   */
  hasSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  stop(): void {
    this.stopped = true;
    this.abort?.();
  }

  private async loop(): Promise<void> {
    let backoff = 250;
    while (!this.stopped) {
      try {
        const resourceVersion = await this.relist();
        backoff = 250;
        await this.watch(resourceVersion);
      } catch (err) {
        if (this.stopped) return;
        if (!this.synced) for (const waiter of this.syncWaiters.splice(0)) waiter.reject(err);
        this.logger.debug({ kind: this.target.kind, err: String(err) }, "watch interrupted; re-listing");
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  private async relist(): Promise<string> {
    const { items, resourceVersion } = await this.client.list(this.target, {
      labelSelector: this.opts.labelSelector,
    });
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, item);
      if (!old) this.handler("ADDED", item);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.handler("MODIFIED", item);
    }
    for (const [key, obj] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.handler("DELETED", obj);
      }
    }
    this.opts.onSync?.(items);
    if (!this.synced) {
      this.synced = true;
      for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
    }
    return resourceVersion;
  }

  private async watch(resourceVersion: string): Promise<void> {
    const { path } = await this.client.path({ ...this.target, name: undefined });
    const res = await this.client.transport.stream({
      method: "GET",
      path,
      query: {
        watch: true,
        resourceVersion,
        allowWatchBookmarks: true,
        labelSelector: this.opts.labelSelector,
        timeoutSeconds: 300,
      },
      timeoutMs: 330_000,
    });
    if (res.statusCode !== 200) {
      res.resume();
      throw new Error(`watch ${this.target.kind}: HTTP ${res.statusCode}`);
    }
    this.abort = () => res.destroy();
    let buffer = "";
    for await (const chunk of res) {
      buffer += (chunk as Buffer).toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim()) this.onLine(line);
      }
    }
  }

  private onLine(line: string): void {
    const event = JSON.parse(line) as { type?: string; object?: unknown };
    if (event.type === "ERROR") throw new Error(`watch ${this.target.kind} expired`); // 410 Gone: re-list
    if (event.type === "BOOKMARK" || !isPlainObject(event.object)) return;
    const obj = event.object as KubeObject;
    const key = objectKey(obj);
    if (event.type === "DELETED") this.cache.delete(key);
    else this.cache.set(key, obj);
    this.handler(event.type as WatchEventType, obj);
  }
}
