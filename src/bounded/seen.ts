/**
 * Whether a key was seen within a window: alert dedup, and kube-apiserver's admission retries.
 * Bounded, so a storm of distinct keys cannot grow it without limit.
 */
export type Clock = () => number;

/** Remembers each key for `windowMs` from its first sighting. */
export class Deduplicator {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock,
    private readonly maxKeys = 10_000,
  ) {}

  /** True when the key was seen within the window (the event should be suppressed). */
  isDuplicate(key: string): boolean {
    if (this.windowMs <= 0) return false;
    const now = this.clock();
    const expires = this.seen.get(key);
    if (expires !== undefined && expires > now) return true;
    // Re-insert so Map order stays oldest-first for eviction.
    this.seen.delete(key);
    this.seen.set(key, now + this.windowMs);
    if (this.seen.size > this.maxKeys) this.evict(now);
    return false;
  }

  private evict(now: number): void {
    for (const [key, expires] of this.seen) {
      if (this.seen.size <= this.maxKeys && expires > now) break;
      this.seen.delete(key);
    }
  }
}
