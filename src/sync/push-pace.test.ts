import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PushPace } from "./push-pace.js";

void describe("PushPace", () => {
  type Step =
    | ["start", number]
    | ["push", number, number]
    | ["pushRunning"]
    | ["finish", number | undefined, number, number | undefined];
  const cases: Array<[string, Step[]]> = [
    ["the first push syncs at once", [["push", 0, 0]]],
    [
      "a push right after a sync waits out minInterval",
      [
        ["start", 1000],
        ["push", 1200, 4800],
      ],
    ],
    [
      "a push after minInterval syncs at once",
      [
        ["start", 1000],
        ["push", 7000, 0],
      ],
    ],
    [
      "a push during a sync schedules the next at minInterval, not at once",
      [["start", 1000], ["pushRunning"], ["finish", 60_000, 2000, 4000]],
    ],
    [
      "a push during a sync that then finds minInterval over syncs at once",
      [["start", 1000], ["pushRunning"], ["finish", 60_000, 9000, 0]],
    ],
    [
      "without a push, a sync keeps its own next",
      [
        ["start", 1000],
        ["finish", 60_000, 2000, 60_000],
      ],
    ],
    [
      "a push never shortens the backoff after a failure",
      [["start", 1000], ["pushRunning"], ["finish", undefined, 2000, undefined]],
    ],
    [
      "many pushes in a row all wait for the same point",
      [
        ["start", 0],
        ["push", 100, 4900],
        ["push", 200, 4800],
        ["push", 4999, 1],
      ],
    ],
  ];
  for (const [name, steps] of cases)
    void it(name, () => {
      const pace = new PushPace(5000);
      for (const step of steps) {
        if (step[0] === "start") pace.started("k", step[1]);
        else if (step[0] === "push") assert.equal(pace.delay("k", step[1]), step[2]);
        else if (step[0] === "pushRunning") pace.pushedWhileRunning("k");
        else assert.equal(pace.next("k", step[1], step[2]), step[3]);
      }
    });

  void it("keeps apps apart", () => {
    const pace = new PushPace(5000);
    pace.started("a", 0);
    assert.deepEqual([pace.delay("a", 1000), pace.delay("b", 1000)], [4000, 0]);
  });
});
