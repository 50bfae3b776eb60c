import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { TurnSlices } from "./turn-slices.js";

/** Runs `count` jobs through a TurnSlices and records them among other work of the same turns. */
async function order(sliceMs: number, count: number): Promise<string[]> {
  const seen: string[] = [];
  const slices = new TurnSlices(sliceMs, (err) => seen.push(`error ${String(err)}`));
  for (let i = 1; i <= count; i++) slices.run(() => seen.push(`job ${i}`));
  // Other work of the loop (an accept, a read), queued after the jobs: it runs at the first yield.
  setImmediate(() => seen.push("other"));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(slices.pending, 0);
  return seen;
}

describe("TurnSlices", () => {
  const cases: Array<[string, number, number, string[]]> = [
    ["a slice long enough runs every job in one turn", 1000, 3, ["job 1", "job 2", "job 3", "other"]],
    ["a slice of 0 ms yields after each job", 0, 3, ["job 1", "other", "job 2", "job 3"]],
    ["no jobs: nothing runs", 0, 0, ["other"]],
  ];
  for (const [name, sliceMs, count, want] of cases)
    it(name, async () => assert.deepEqual(await order(sliceMs, count), want));

  it("a job that throws is reported; the jobs after it still run, in order", async () => {
    const seen: string[] = [];
    const slices = new TurnSlices(1000, (err) => seen.push(`error ${(err as Error).message}`));
    slices.run(() => seen.push("a"));
    slices.run(() => {
      throw new Error("boom");
    });
    slices.run(() => seen.push("c"));
    assert.equal(slices.pending, 3);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ["a", "error boom", "c"]);
  });

  it("jobs queued while a slice runs go after the ones already waiting", async () => {
    const seen: string[] = [];
    const slices = new TurnSlices(0, () => undefined);
    slices.run(() => {
      seen.push("first");
      slices.run(() => seen.push("queued by first"));
    });
    slices.run(() => seen.push("second"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(seen, ["first", "second", "queued by first"]);
  });
});
