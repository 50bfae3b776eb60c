import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { configMapEntry, gitConfigMap } from "../../test/fixtures/admission/configmap.js";
import { admissionReview } from "../testenv/admission-client.js";
import { parseReview } from "./codec.js";
import { decide } from "./decide.js";
import { capDepth, deeperThan, depthMarker, MAX_DEPTH, noteDepthCap } from "./depth.js";
import { outOfBandPatch } from "./mutate.js";
import type { AdmissionPolicy, Decision } from "./types.js";

/** JSON text nested `levels` deep (JSON.stringify itself overflows the stack on such values). */
function nestedText(levels: number, asArray = false): string {
  return asArray
    ? `${"[".repeat(levels)}"x"${"]".repeat(levels)}`
    : `${'{"a":'.repeat(levels)}"x"${"}".repeat(levels)}`;
}

function nested(levels: number, leaf: unknown = "x", asArray = false): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = asArray ? [value] : { a: value };
  return value;
}

void describe("capDepth", () => {
  const cases: Array<[name: string, value: unknown, max: number, capped: boolean, want: unknown]> = [
    ["a scalar", "x", 2, false, "x"],
    ["within the cap", { a: { b: 1 } }, 2, false, { a: { b: 1 } }],
    ["one level too deep", { a: { b: { c: 1 } } }, 2, true, { a: { b: "M" } }],
    ["arrays count as levels", [[[1]], 2], 2, true, [["M"], 2]],
    ["an empty container is capped too", { a: { b: {} } }, 2, true, { a: { b: "M" } }],
    ["siblings are kept", { a: { b: { c: 1 } }, d: 1 }, 2, true, { a: { b: "M" }, d: 1 }],
  ];
  for (const [name, value, max, capped, want] of cases)
    void it(name, () => {
      assert.equal(capDepth(value, "M", max), capped);
      assert.deepEqual(value, want);
    });

  void it("replaces an own __proto__ key from JSON.parse", () => {
    const value = JSON.parse('{"a":{"__proto__":{"x":{"y":1}}}}') as Record<string, unknown>;
    assert.ok(capDepth(value, "M", 2));
    assert.equal(JSON.stringify(value), '{"a":{"__proto__":"M"}}');
  });

  void it("takes any depth without recursion, and leaves nothing deeper than the cap", () => {
    for (const asArray of [false, true]) {
      const value = nested(200_000, "x", asArray);
      assert.ok(capDepth(value, "M"));
      assert.equal(deeperThan(value, MAX_DEPTH), false);
      assert.equal(deeperThan(value, MAX_DEPTH - 1), true);
    }
  });
});

void describe("a review with values nested 6,000 levels deep", () => {
  const git = gitConfigMap;
  const entry = configMapEntry;
  const policy: AdmissionPolicy = {
    selfUsername: "gitgate",
    exemptUsers: [],
    exemptGroups: [],
    defaultMode: "enforce",
    breakGlassGroups: [],
    breakGlassMaxSeconds: 3600,
    breakGlassDefaultSeconds: 600,
  };
  const index = { get: (k: string) => (k === entry.key ? entry : undefined), isComplete: () => true };
  const review = (name: string, username: string, deep: string): string =>
    JSON.stringify(
      admissionReview({
        uid: "u",
        name,
        userInfo: { username },
        object: { ...git, metadata: { ...git.metadata, name }, data: { a: "DEEP-NEW" } },
        oldObject: { ...git, metadata: { ...git.metadata, name }, data: { a: "DEEP-OLD" } },
      }),
    )
      .replace('"DEEP-NEW"', deep)
      .replace('"DEEP-OLD"', nestedText(6000));
  const decideOn = (
    body: string,
    mode: "enforce" | "warn" = "enforce",
  ): { capped: boolean; decision: Decision; patch: () => unknown } => {
    const parsed = parseReview(JSON.parse(body));
    assert.ok(parsed.ok);
    const idx = { ...index, get: (k: string) => (k === entry.key ? { ...entry, mode } : undefined) };
    return {
      capped: parsed.capped === true,
      decision: noteDepthCap(decide({ request: parsed.request, index: idx, policy, now: new Date() })),
      patch: () => outOfBandPatch(parsed.request, idx, policy, new Date()),
    };
  };

  const cases: Array<[string, string, string, string, "enforce" | "warn", boolean, RegExp | undefined]> = [
    [
      "a managed object is refused, naming the cap",
      "c",
      "bob",
      nestedText(6000),
      "enforce",
      false,
      /not compared with Git\)$/,
    ],
    [
      "the message says what Git holds",
      "c",
      "bob",
      nestedText(6000),
      "enforce",
      false,
      /^ConfigMap n\/c is managed by Git: data\.a is 1/,
    ],
    ["warn mode admits it with a warning", "c", "bob", nestedText(6000), "warn", true, undefined],
    ["gitgate itself is admitted", "c", "gitgate", nestedText(6000), "enforce", true, undefined],
    ["an unmanaged object is admitted", "other", "bob", nestedText(6000, true), "enforce", true, undefined],
  ];
  for (const [name, object, user, deep, mode, allowed, message] of cases)
    void it(name, () => {
      const { capped, decision, patch } = decideOn(review(object, user, deep), mode);
      assert.ok(capped);
      assert.equal(decision.allowed, allowed);
      if (message) assert.match(decision.status?.message ?? "", message);
      if (mode === "warn") assert.match(decision.warnings?.[0] ?? "", /nested deeper than 512 levels/);
      assert.doesNotThrow(patch);
    });

  void it("the markers of object and oldObject differ, so drift never hides a change", () => {
    assert.notEqual(depthMarker("object"), depthMarker("oldObject"));
  });
});
