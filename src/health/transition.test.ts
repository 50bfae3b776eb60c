import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { healthTransition, type HealthRecord } from "./transition.js";
import type { HealthStatus } from "./types.js";

const now = new Date("2026-11-30T12:00:00Z");
const since = "2026-11-30T11:00:00.000Z";

describe("healthTransition", () => {
  const table: Array<[string, HealthRecord, HealthStatus, HealthRecord, string | undefined]> = [
    ["first sync healthy", {}, "Healthy", { health: "Healthy" }, undefined],
    [
      "rollout: progressing to healthy",
      { health: "Progressing" },
      "Healthy",
      { health: "Healthy" },
      undefined,
    ],
    [
      "becomes degraded",
      { health: "Healthy" },
      "Degraded",
      { health: "Degraded", degradedSince: now.toISOString() },
      "health-degraded",
    ],
    [
      "stays degraded: no second alert",
      { health: "Degraded", degradedSince: since },
      "Degraded",
      { health: "Degraded", degradedSince: since },
      undefined,
    ],
    [
      "fix rolling out: still remembered",
      { health: "Degraded", degradedSince: since },
      "Progressing",
      { health: "Progressing", degradedSince: since },
      undefined,
    ],
    [
      "recovered after passing through progressing",
      { health: "Progressing", degradedSince: since },
      "Healthy",
      { health: "Healthy" },
      "health-recovered",
    ],
    [
      "recovered directly",
      { health: "Degraded", degradedSince: since },
      "Healthy",
      { health: "Healthy" },
      "health-recovered",
    ],
    ["missing is not degraded", { health: "Healthy" }, "Missing", { health: "Missing" }, undefined],
    [
      "suspended keeps the record",
      { health: "Degraded", degradedSince: since },
      "Suspended",
      { health: "Suspended", degradedSince: since },
      undefined,
    ],
  ];
  for (const [name, previous, next, record, alert] of table)
    it(name, () => {
      const got = healthTransition(previous, next, now);
      assert.deepEqual(got.record, record);
      assert.equal(got.alert, alert);
    });
});
