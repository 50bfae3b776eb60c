/**
 * Pushes may not sync a GitApp more often than sync.minInterval: a push asks for a sync no sooner
 * than minInterval after that app's last one started, and a push during a sync asks for the next
 * one at that same point (not at once, as a queue's "dirty" mark would). Pure: the caller passes
 * the time.
 */
export class PushPace {
  private readonly lastStart = new Map<string, number>();
  private readonly pendingDuringRun = new Set<string>();

  constructor(private readonly minIntervalMs: number) {}

  /** A sync of `key` starts now (whatever triggered it). */
  started(key: string, now: number): void {
    this.lastStart.set(key, now);
    this.pendingDuringRun.delete(key);
  }

  /** Delay before a push may sync `key` that is not running. */
  delay(key: string, now: number): number {
    const last = this.lastStart.get(key);
    return last === undefined ? 0 : Math.max(0, last + this.minIntervalMs - now);
  }

  /** A push arrived while `key` was syncing. */
  pushedWhileRunning(key: string): void {
    this.pendingDuringRun.add(key);
  }

  /**
   * The delay a finished sync schedules, given what it asked for (`next`; undefined = back off after
   * a failure, which a push does not shorten either).
   */
  next(key: string, next: number | undefined, now: number): number | undefined {
    if (!this.pendingDuringRun.delete(key) || next === undefined) return next;
    return Math.min(next, this.delay(key, now));
  }

  forget(key: string): void {
    this.lastStart.delete(key);
    this.pendingDuringRun.delete(key);
  }
}
