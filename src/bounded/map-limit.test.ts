import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mapLimit } from "./map-limit.js";

describe("mapLimit", () => {
  const cases: Array<{ name: string; items: number[]; limit: number; wantMaxInFlight: number }> = [
    { name: "no items", items: [], limit: 4, wantMaxInFlight: 0 },
    { name: "fewer items than the limit", items: [1, 2], limit: 8, wantMaxInFlight: 2 },
    { name: "more items than the limit", items: [5, 1, 4, 2, 3, 0, 6], limit: 3, wantMaxInFlight: 3 },
    { name: "a limit of one runs them in turn", items: [3, 2, 1], limit: 1, wantMaxInFlight: 1 },
  ];
  for (const c of cases)
    it(`${c.name}: results in input order, at most ${c.wantMaxInFlight} at once`, async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      const out = await mapLimit(c.items, c.limit, async (item, index) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setTimeout(r, item)); // finish out of order
        inFlight--;
        return `${index}:${item}`;
      });
      assert.deepEqual(
        out,
        c.items.map((item, index) => `${index}:${item}`),
      );
      assert.equal(maxInFlight, c.wantMaxInFlight);
    });

  it("rejects with the first failure", async () => {
    await assert.rejects(
      mapLimit([1, 2, 3], 2, async (item) => {
        await Promise.resolve();
        if (item === 2) throw new Error("item 2 failed");
        return item;
      }),
      /item 2 failed/,
    );
  });
});
