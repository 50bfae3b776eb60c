import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { configMapDenied } from "../../test/fixtures/alerts/events.js";
import type { AlertEvent } from "../manifest/event.js";
import { RepeatFilter } from "./repeat.js";

const denied = configMapDenied;

describe("admission: one alert per client request (kube-apiserver's stale-cache retry)", () => {
  const cases: Array<{ name: string; second: AlertEvent; afterMs: number; first: boolean }> = [
    {
      name: "the retry 30 ms later (other time stamp)",
      second: denied({ time: "later" }),
      afterMs: 30,
      first: false,
    },
    { name: "the same change after the window", second: denied(), afterMs: 2500, first: true },
    {
      name: "another user",
      second: denied({ actor: { username: "bob", via: "admission" } }),
      afterMs: 30,
      first: true,
    },
    {
      name: "another value",
      second: denied({ changes: [{ path: "data.color", gitValue: "blue", liveValue: "green" }] }),
      afterMs: 30,
      first: true,
    },
    {
      name: "another object",
      second: denied({ object: { group: "", kind: "ConfigMap", namespace: "shop", name: "other" } }),
      afterMs: 30,
      first: true,
    },
    { name: "another operation", second: denied({ operation: "DELETE" }), afterMs: 30, first: true },
    { name: "another type", second: denied({ type: "change-warned" }), afterMs: 30, first: true },
    // The same GitApp on two registered clusters: two changes, not a retry.
    { name: "another cluster", second: denied({ cluster: "staging" }), afterMs: 30, first: true },
  ];
  for (const c of cases)
    it(c.name, () => {
      let now = 1_000_000;
      const filter = new RepeatFilter(2000, 100, () => now);
      assert.equal(filter.first(denied()), true);
      now += c.afterMs;
      assert.equal(filter.first(c.second), c.first);
    });

  it("stays bounded: the oldest keys go", () => {
    let now = 0;
    const filter = new RepeatFilter(2000, 3, () => now);
    for (const name of ["a", "b", "c", "d"]) filter.first(denied({ app: { namespace: "x", name } }));
    now += 1;
    // "a" was evicted by the bound: it counts as new again; "d" is still remembered.
    assert.equal(filter.first(denied({ app: { namespace: "x", name: "a" } })), true);
    assert.equal(filter.first(denied({ app: { namespace: "x", name: "d" } })), false);
  });
});
