import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChartCacheIndex, evictions, type CacheEntry } from "./cache-bound.js";

const e = (key: string, bytes: number, lastUsed: number): CacheEntry => ({ key, bytes, lastUsed });

void describe("evictions", () => {
  const entries = [e("a", 100, 1), e("b", 100, 3), e("c", 100, 2), e("d", 100, 4)];
  const cases: Array<[string, { maxEntries: number; maxBytes: number }, string[], string[]]> = [
    ["within both limits: nothing", { maxEntries: 4, maxBytes: 400 }, [], []],
    ["over the entry limit: the least recently used", { maxEntries: 3, maxBytes: 1e9 }, [], ["a"]],
    ["over by two: the two oldest, oldest first", { maxEntries: 2, maxBytes: 1e9 }, [], ["a", "c"]],
    ["over the byte limit", { maxEntries: 10, maxBytes: 150 }, [], ["a", "c", "b"]],
    ["a pinned entry is skipped, the next oldest goes", { maxEntries: 3, maxBytes: 1e9 }, ["a"], ["c"]],
    [
      "everything pinned: nothing, even over the limit",
      { maxEntries: 1, maxBytes: 1 },
      ["a", "b", "c", "d"],
      [],
    ],
    ["zero limits: all unpinned", { maxEntries: 0, maxBytes: 0 }, ["d"], ["a", "c", "b"]],
  ];
  for (const [name, limits, pinned, want] of cases)
    void it(name, () => assert.deepEqual(evictions(entries, new Set(pinned), limits), want));

  void it("one large entry evicts several small old ones only as far as needed", () => {
    const got = evictions([e("old1", 10, 1), e("old2", 10, 2), e("big", 1000, 3)], new Set(["big"]), {
      maxEntries: 10,
      maxBytes: 1010,
    });
    assert.deepEqual(got, ["old1"]);
  });
});

void describe("ChartCacheIndex", () => {
  void it("a request pins the version it last resolved to; the one it moved away from is evictable", () => {
    const idx = new ChartCacheIndex({ maxEntries: 1, maxBytes: 1e9 }, 60_000);
    idx.used("app-range", "v1", 1, 10);
    assert.deepEqual(idx.evict(1), []);
    idx.used("app-range", "v2", 2, 10); // the range moved to a new version
    assert.deepEqual(idx.evict(2), ["v1"]);
    assert.equal(idx.has("v1"), false);
    assert.deepEqual(idx.size, { entries: 1, bytes: 10 });
  });

  void it("two requests pin two versions; a pin lapses after its TTL", () => {
    const idx = new ChartCacheIndex({ maxEntries: 1, maxBytes: 1e9 }, 1_000);
    idx.used("app-a", "x", 0, 5);
    idx.used("app-b", "y", 10, 5);
    assert.deepEqual(idx.evict(10), [], "both in use");
    idx.used("app-b", "y", 900);
    assert.deepEqual(idx.evict(1_500), ["x"], "app-a not seen for more than the TTL");
  });

  void it("entries found on disk count against the bound and go first when unpinned", () => {
    const idx = new ChartCacheIndex({ maxEntries: 2, maxBytes: 1e9 }, 60_000);
    idx.known(e("disk-old", 50, 1));
    idx.known(e("disk-new", 50, 5));
    idx.used("app", "fresh", 10, 50);
    assert.deepEqual(idx.evict(10), ["disk-old"]);
    assert.deepEqual(idx.size, { entries: 2, bytes: 100 });
  });

  void it("a cache hit refreshes the entry's age and keeps its size", () => {
    const idx = new ChartCacheIndex({ maxEntries: 1, maxBytes: 1e9 }, 0);
    idx.used("r1", "a", 1, 7);
    idx.used("r2", "b", 2, 7);
    idx.used("r1", "a", 3); // hit: no size given
    assert.deepEqual(idx.evict(100), ["b"]);
    assert.deepEqual(idx.size, { entries: 1, bytes: 7 });
  });
});
