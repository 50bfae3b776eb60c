import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { GitAppStatus } from "../api/gitapp.js";
import { mergePatch, statusWriteNeeded } from "./status-write.js";

describe("mergePatch (RFC 7386)", () => {
  const cases: Array<[string, unknown, unknown, unknown]> = [
    ["replaces a scalar", { a: 1 }, { a: 2 }, { a: 2 }],
    ["null deletes", { a: 1, b: 2 }, { a: null }, { b: 2 }],
    ["undefined leaves alone", { a: 1 }, { a: undefined }, { a: 1 }],
    ["objects merge", { o: { x: 1, y: 2 } }, { o: { y: 3, z: null } }, { o: { x: 1, y: 3 } }],
    ["arrays replace", { l: [1, 2] }, { l: [3] }, { l: [3] }],
    ["adds into a missing object", {}, { o: { x: 1 } }, { o: { x: 1 } }],
    ["a scalar patch replaces all", { a: 1 }, 5, 5],
  ];
  for (const [name, target, patch, want] of cases)
    it(name, () => assert.deepEqual(mergePatch(target, patch), want));
});

describe("statusWriteNeeded", () => {
  const now = new Date("2026-12-01T12:00:00Z");
  const ago = (ms: number): string => new Date(now.getTime() - ms).toISOString();
  const heartbeat = 300_000;
  const previous: GitAppStatus = {
    revision: "abc",
    observedGeneration: 2,
    lastSyncTime: ago(60_000),
    conditions: [
      { type: "Synced", status: "True", reason: "Synced", message: "ok", lastTransitionTime: ago(600_000) },
    ],
    cluster: { name: "dev", reachable: true, checkedAt: ago(10_000) },
  };
  const cases: Array<[string, GitAppStatus | undefined, Record<string, unknown>, boolean]> = [
    ["no status yet", undefined, { lastSyncTime: now.toISOString() }, true],
    [
      "only lastSyncTime moved, inside the heartbeat",
      previous,
      { ...previous, lastSyncTime: now.toISOString() },
      false,
    ],
    [
      "only timestamps moved (cluster.checkedAt too)",
      previous,
      {
        ...previous,
        lastSyncTime: now.toISOString(),
        cluster: { ...previous.cluster, checkedAt: now.toISOString() },
      },
      false,
    ],
    [
      "lastSyncTime a heartbeat old",
      { ...previous, lastSyncTime: ago(heartbeat) },
      { ...previous, lastSyncTime: now.toISOString() },
      true,
    ],
    [
      "no lastSyncTime before",
      { ...previous, lastSyncTime: undefined },
      { ...previous, lastSyncTime: now.toISOString() },
      true,
    ],
    ["a new revision", previous, { ...previous, revision: "def", lastSyncTime: now.toISOString() }, true],
    [
      "a condition message",
      previous,
      { ...previous, conditions: [{ ...previous.conditions![0], message: "x" }] },
      true,
    ],
    [
      "null clears a field that is set",
      { ...previous, degradedSince: ago(1) },
      { ...previous, degradedSince: null },
      true,
    ],
    ["null clears a field that is absent", previous, { ...previous, degradedSince: null }, false],
    ["an undefined member is no change", previous, { ...previous, health: undefined }, false],
    ["the same patch, no timestamps", previous, { ...previous }, false],
    [
      "cluster becomes unreachable",
      previous,
      { ...previous, cluster: { ...previous.cluster, reachable: false } },
      true,
    ],
  ];
  for (const [name, prev, patch, want] of cases)
    it(`${name} → ${want ? "write" : "skip"}`, () =>
      assert.equal(statusWriteNeeded(prev, patch, now, heartbeat), want));

  it("a heartbeat of 0 writes every sync", () =>
    assert.equal(
      statusWriteNeeded(previous, { ...previous, lastSyncTime: now.toISOString() }, now, 0),
      true,
    ));
});
