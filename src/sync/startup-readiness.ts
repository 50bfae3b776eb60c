/**
 * When a replica is ready to answer admission: once every GitApp that existed when its first list
 * of GitApps came back has been rendered (or its render attempted and failed, so that a broken
 * repository cannot keep the webhook out forever), or has been deleted. Latched: a GitApp created
 * later does not take a serving replica out of the Service (its objects are not on the cluster
 * yet; changes to them are answered per failurePolicy until it renders, admission/awaiting.ts).
 */
export class StartupReadiness {
  /** App keys still to be rendered; undefined until the first list of GitApps. */
  private pending?: Set<string>;
  private done = false;

  /** The first list of GitApps is in: these are the apps readiness waits for. */
  listed(keys: Iterable<string>): void {
    if (this.pending === undefined) this.pending = new Set(keys);
  }

  isReady(rendered: (key: string) => boolean, exists: (key: string) => boolean): boolean {
    if (this.done) return true;
    if (this.pending === undefined) return false;
    for (const key of this.pending) if (rendered(key) || !exists(key)) this.pending.delete(key);
    this.done = this.pending.size === 0;
    return this.done;
  }

  /** Apps still awaited (for logs and the bench); undefined before the first list. */
  get waitingFor(): number | undefined {
    return this.pending?.size;
  }
}
