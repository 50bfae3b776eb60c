/**
 * A map with expiry and a size bound: the oldest entry (by last set) goes first when full. With
 * `ttlMs` Infinity it is a bounded map (the commit log).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V, ttlMs = this.ttlMs): void {
    this.entries.delete(key);
    while (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: this.now() + ttlMs });
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Deletes every entry whose value matches; returns how many. */
  deleteWhere(matches: (value: V, key: string) => boolean): number {
    let deleted = 0;
    for (const [key, hit] of this.entries) {
      if (!matches(hit.value, key)) continue;
      this.entries.delete(key);
      deleted++;
    }
    return deleted;
  }

  get size(): number {
    return this.entries.size;
  }
}
