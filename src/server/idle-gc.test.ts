import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { fullGc, idleGcDue, startIdleGc, type IdleGcState } from "./idle-gc.js";

describe("idleGcDue: one collection when the port goes quiet after a burst", () => {
  const cases: Array<[string, IdleGcState, number, boolean, IdleGcState]> = [
    ["quiet after a burst", { seen: 5000, collectedAt: 0 }, 5000, true, { seen: 5000, collectedAt: 5000 }],
    ["still busy", { seen: 4000, collectedAt: 0 }, 5000, false, { seen: 5000, collectedAt: 0 }],
    [
      "quiet, but only a trickle since",
      { seen: 900, collectedAt: 0 },
      900,
      false,
      { seen: 900, collectedAt: 0 },
    ],
    [
      "quiet again, nothing new since the collection",
      { seen: 5000, collectedAt: 5000 },
      5000,
      false,
      { seen: 5000, collectedAt: 5000 },
    ],
    ["exactly a burst", { seen: 1000, collectedAt: 0 }, 1000, true, { seen: 1000, collectedAt: 1000 }],
    [
      "a second burst, then quiet",
      { seen: 7000, collectedAt: 5000 },
      7000,
      true,
      { seen: 7000, collectedAt: 7000 },
    ],
  ];
  for (const [name, state, requests, due, next] of cases)
    it(name, () => assert.deepEqual(idleGcDue(state, requests, 1000), { due, next }));

  it("a busy stretch never collects, its quiet end collects once", () => {
    let state: IdleGcState = { seen: 0, collectedAt: 0 };
    const counts = [800, 1600, 2400, 2400, 2400, 2450, 2450];
    const dues = counts.map((n) => {
      const r = idleGcDue(state, n, 1000);
      state = r.next;
      return r.due;
    });
    assert.deepEqual(dues, [false, false, false, true, false, false, false]);
  });
});

describe("fullGc and startIdleGc", () => {
  it("fullGc gives V8's collector, and calling it frees unreachable memory", () => {
    const gc = fullGc();
    assert.equal(typeof gc, "function");
    assert.equal(fullGc(), gc, "exposed once");
    let garbage: number[][] | undefined = Array.from({ length: 200 }, () =>
      new Array<number>(10_000).fill(1),
    );
    const withGarbage = process.memoryUsage().heapUsed;
    garbage = undefined;
    gc?.();
    assert.equal(garbage, undefined);
    assert.ok(process.memoryUsage().heapUsed < withGarbage - 5_000_000, "the arrays were collected");
  });

  it("startIdleGc checks on its timer and stops", async () => {
    let reads = 0;
    const stop = startIdleGc(() => ++reads * 0, 5);
    await new Promise((resolve) => setTimeout(resolve, 40));
    stop();
    const after = reads;
    assert.ok(after >= 3, `read the count on each check (${after})`);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(reads, after, "no check after stop");
  });
});
