import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { digestOf } from "../manifest/digest.js";
import { AdmittedChanges, type ClaimedField } from "./admitted-changes.js";

const t0 = Date.parse("2026-01-01T00:00:00Z");
const replicas = (value: unknown): ClaimedField[] => [{ path: "spec.replicas", value }];

void describe("AdmittedChanges: a claim names the changer only when the live object confirms it", () => {
  const cases: Array<{
    name: string;
    claims: Array<[key: string, user: string, fields: ClaimedField[], at: number]>;
    key?: string;
    drifted: ClaimedField[];
    now?: number;
    want: string | undefined;
  }> = [
    {
      name: "a recent claim of the drifted value names its user",
      claims: [["k", "alice", replicas(5), t0]],
      drifted: replicas(5),
      want: "alice",
    },
    {
      name: "a claim of another value is no evidence (a forged review, or a write that failed)",
      claims: [["k", "mallory", replicas(7), t0]],
      drifted: replicas(5),
      want: undefined,
    },
    {
      name: "of two users' claims, the one the live value confirms",
      claims: [
        ["k", "mallory", replicas(7), t0 + 50],
        ["k", "bob", replicas(5), t0],
      ],
      drifted: replicas(5),
      want: "bob",
    },
    {
      name: "two users claiming the same value: neither (a forged copy of a real change)",
      claims: [
        ["k", "bob", replicas(5), t0],
        ["k", "mallory", replicas(5), t0 + 10],
      ],
      drifted: replicas(5),
      want: undefined,
    },
    {
      name: "the same user twice is still one user",
      claims: [
        ["k", "bob", replicas(4), t0],
        ["k", "bob", replicas(5), t0 + 10],
      ],
      drifted: replicas(5),
      want: "bob",
    },
    {
      name: "every drifted field the claim names must hold its value",
      claims: [
        [
          "k",
          "bob",
          [
            { path: "spec.replicas", value: 5 },
            { path: "data.a", value: "x" },
          ],
          t0,
        ],
      ],
      drifted: [
        { path: "spec.replicas", value: 5 },
        { path: "data.a", value: "y" },
      ],
      want: undefined,
    },
    {
      name: "objects compare by content, not key order",
      claims: [["k", "bob", [{ path: "spec.template", value: { b: 1, a: [{ y: 2, x: 1 }] } }], t0]],
      drifted: [{ path: "spec.template", value: { a: [{ x: 1, y: 2 }], b: 1 } }],
      want: "bob",
    },
    {
      name: "a removal claimed and found",
      claims: [["k", "bob", [{ path: "metadata.labels[team]", value: undefined }], t0]],
      drifted: [{ path: "metadata.labels[team]", value: undefined }],
      want: "bob",
    },
    {
      name: "other fields are no evidence",
      claims: [["k", "alice", [{ path: "metadata.labels[x]", value: "1" }], t0]],
      drifted: replicas(5),
      want: undefined,
    },
    {
      name: "another object is no evidence",
      claims: [["k", "alice", replicas(5), t0]],
      key: "other",
      drifted: replicas(5),
      want: undefined,
    },
    {
      name: "after an hour it is forgotten",
      claims: [["k", "alice", replicas(5), t0]],
      drifted: replicas(5),
      now: t0 + 3_600_001,
      want: undefined,
    },
  ];
  for (const c of cases)
    void it(c.name, () => {
      const changes = new AdmittedChanges();
      for (const [key, user, fields, at] of c.claims) changes.record(key, user, fields, at);
      assert.equal(changes.changer(c.key ?? "k", c.drifted, c.now ?? t0 + 1000), c.want);
    });

  void it("is bounded: the oldest of 10,001 objects is dropped, and 8 claims are kept per object", () => {
    const changes = new AdmittedChanges();
    for (let i = 0; i <= 10_000; i++) changes.record(`k${i}`, "alice", replicas(1), t0);
    assert.equal(changes.changer("k0", replicas(1), t0), undefined);
    assert.equal(changes.changer("k1", replicas(1), t0), "alice");
    changes.record("x", "bob", replicas(5), t0);
    for (let i = 0; i < 8; i++) changes.record("x", "carol", replicas(100 + i), t0);
    assert.equal(changes.changer("x", replicas(5), t0), undefined, "bob's claim was pushed out");
  });

  void it("digests differ for values JSON would confuse", () => {
    const values: unknown[] = [
      undefined,
      null,
      0,
      "0",
      false,
      "false",
      [],
      {},
      [1, 2],
      [2, 1],
      { a: 1 },
      { a: "1" },
    ];
    assert.equal(new Set(values.map(digestOf)).size, values.length);
    // Total: values no request carries (alert producers may hand anything) get a tag, never a throw.
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    for (const odd of [circular, () => 1, Symbol("s"), 10n, NaN, deep])
      assert.equal(typeof digestOf(odd), "string");
  });
});
