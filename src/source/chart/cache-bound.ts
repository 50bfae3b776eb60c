/**
 * The chart cache's bound: at most `maxEntries` unpacked charts and `maxBytes` of them, the least
 * recently used evicted first. A chart some request currently resolves to is never evicted: each
 * request (repository, chart, revision as written, credentials) pins the version it last got, which
 * is what a GitApp renders on its next sync. Pins of requests not seen for `pinTtlMs` lapse, so a
 * deleted GitApp's chart becomes evictable. The decision is pure (`evictions`); ChartCacheIndex keeps
 * the bookkeeping, the caller deletes the directories.
 */

export interface CacheEntry {
  key: string;
  bytes: number;
  lastUsed: number;
}

export interface CacheLimits {
  maxEntries: number;
  maxBytes: number;
}

/** Keys to evict, least recently used first, until both limits hold (pinned entries stay even if over). */
export function evictions(
  entries: readonly CacheEntry[],
  pinned: ReadonlySet<string>,
  limits: CacheLimits,
): string[] {
  let count = entries.length;
  let bytes = entries.reduce((sum, e) => sum + e.bytes, 0);
  const out: string[] = [];
  const oldestFirst = [...entries].sort((a, b) => a.lastUsed - b.lastUsed || a.key.localeCompare(b.key));
  for (const e of oldestFirst) {
    if (count <= limits.maxEntries && bytes <= limits.maxBytes) break;
    if (pinned.has(e.key)) continue;
    out.push(e.key);
    count--;
    bytes -= e.bytes;
  }
  return out;
}

/** Requests remembered for pinning; past this the least recently seen lapse first. */
const MAX_PINS = 4096;

export class ChartCacheIndex {
  private readonly entries = new Map<string, CacheEntry>();
  /** request key → [entry key it last resolved to, when]. */
  private readonly pins = new Map<string, { entry: string; at: number }>();

  constructor(
    private readonly limits: CacheLimits,
    private readonly pinTtlMs: number,
  ) {}

  /** An entry found on disk at startup (its size and age from the filesystem). */
  known(entry: CacheEntry): void {
    if (!this.entries.has(entry.key)) this.entries.set(entry.key, entry);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** A request resolved to `key` (unpacked now with `bytes`, or found in the cache). */
  used(request: string, key: string, now: number, bytes?: number): void {
    const prev = this.entries.get(key);
    this.entries.set(key, { key, bytes: bytes ?? prev?.bytes ?? 0, lastUsed: now });
    this.pins.delete(request); // re-inserted last: the Map's order is least recently seen first
    this.pins.set(request, { entry: key, at: now });
    while (this.pins.size > MAX_PINS) this.pins.delete(this.pins.keys().next().value as string);
  }

  /** Keys to delete now; they are forgotten here, the caller removes their directories. */
  evict(now: number): string[] {
    const pinned = new Set<string>();
    for (const [request, pin] of this.pins) {
      if (now - pin.at > this.pinTtlMs) this.pins.delete(request);
      else pinned.add(pin.entry);
    }
    const out = evictions([...this.entries.values()], pinned, this.limits);
    for (const key of out) this.entries.delete(key);
    return out;
  }

  get size(): { entries: number; bytes: number } {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    return { entries: this.entries.size, bytes };
  }
}
