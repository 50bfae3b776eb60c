import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { BackgroundWrites } from "./background-writes.js";

interface Gated {
  writes: BackgroundWrites<number>;
  started: number[];
  drops: number[];
  releaseAll: () => Promise<void>;
  peak: () => number;
}

/** A write that waits until released, recording what started and the most running at once. */
function gatedWrites(concurrency: number, max: number): Gated {
  const started: number[] = [];
  const releases: Array<() => void> = [];
  const drops: number[] = [];
  let running = 0;
  let peak = 0;
  const writes = new BackgroundWrites<number>({
    concurrency,
    max,
    write: async (item) => {
      started.push(item);
      peak = Math.max(peak, ++running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
    },
    onDrop: (n) => drops.push(n),
  });
  const releaseAll = async (): Promise<void> => {
    while (releases.length > 0) {
      for (const release of releases.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { writes, started, drops, releaseAll, peak: () => peak };
}

describe("BackgroundWrites", () => {
  const cases: Array<[string, number, number, number, number[], number[], number]> = [
    // name, concurrency, max waiting, items added, started in order, drop counts, peak running
    ["all written, two at a time", 2, 10, 5, [0, 1, 2, 3, 4], [], 2],
    ["one at a time", 1, 10, 3, [0, 1, 2], [], 1],
    ["past max waiting the oldest waiting go", 1, 2, 5, [0, 3, 4], [1, 2], 1],
  ];
  for (const [name, concurrency, max, count, want, wantDrops, wantPeak] of cases)
    it(name, async () => {
      const g = gatedWrites(concurrency, max);
      for (let i = 0; i < count; i++) g.writes.add(i);
      let flushed = false;
      const done = g.writes.flushed().then(() => void (flushed = true));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(flushed, false, "not flushed while writes wait");
      await g.releaseAll();
      await done;
      assert.deepEqual(g.started, want);
      assert.deepEqual(g.drops, wantDrops);
      assert.equal(g.peak(), wantPeak);
    });

  it("a write that throws does not stop the ones after it", async () => {
    const seen: number[] = [];
    const writes = new BackgroundWrites<number>({
      concurrency: 1,
      max: 10,
      write: (item) => {
        seen.push(item);
        return item === 1 ? Promise.reject(new Error("refused")) : Promise.resolve();
      },
    });
    for (const i of [1, 2, 3]) writes.add(i);
    await writes.flushed();
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it("close drops what waits and waits for the write under way", async () => {
    const g = gatedWrites(1, 10);
    for (const i of [0, 1, 2]) g.writes.add(i);
    const closed = g.writes.close();
    await g.releaseAll();
    await closed;
    assert.deepEqual(g.started, [0]);
  });

  it("flushed resolves at once with nothing handed over", async () => {
    const g = gatedWrites(1, 10);
    await g.writes.flushed();
    assert.deepEqual(g.started, []);
  });
});
