import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { within } from "./within.js";

describe("within", () => {
  const cases: Array<{ name: string; work: Promise<unknown>; ms: number; settles: boolean }> = [
    { name: "work that resolves: ends with it", work: Promise.resolve(1), ms: 60_000, settles: true },
    {
      name: "work that rejects: ends with it, and never rejects itself",
      work: Promise.reject(new Error("x")),
      ms: 60_000,
      settles: true,
    },
    {
      name: "work that never settles: ends at the bound",
      work: new Promise(() => undefined),
      ms: 20,
      settles: false,
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      let settled = false;
      c.work.then(
        () => (settled = true),
        () => (settled = true),
      );
      await within(c.work, c.ms); // had the 60 s bound ended it, this case would take a minute
      assert.equal(settled, c.settles);
    });
});
