import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { highestTag, isTagRange, SHORT_SHA } from "./revision.js";

void describe("isTagRange", () => {
  const cases: [string, boolean][] = [
    ["v1.2.x", true],
    [">=1.0 <2", true],
    ["^1.2", true],
    ["~1.2.3", true],
    ["1", true],
    ["1.x || 3.x", true],
    ["v1.2.3", false], // one exact version: a tag name
    ["1.2.3", false],
    ["main", false],
    ["release-1.2", false],
    ["refs/tags/v1", false],
    ["HEAD", false],
    [`>=${"1".repeat(200)}`, false],
  ];
  for (const [revision, want] of cases)
    void it(`${revision.slice(0, 20)} → ${want}`, () => assert.equal(isTagRange(revision), want));
});

void describe("SHORT_SHA", () => {
  for (const [rev, want] of [
    ["abcd", true],
    ["ABCDEF1", true],
    ["abc", false],
    ["a".repeat(40), false],
    ["g123456", false],
  ] as const)
    void it(rev, () => assert.equal(SHORT_SHA.test(rev), want));
});

void describe("highestTag", () => {
  const sha = (n: number): string => String(n).repeat(40).slice(0, 40);
  const refs = [
    { ref: "refs/tags/v1.0.0", oid: sha(1) },
    { ref: "refs/tags/v1.2.0", oid: sha(2) },
    { ref: "refs/tags/v1.2.10", oid: sha(3), peeled: sha(4) },
    { ref: "refs/tags/v1.2.9", oid: sha(5) },
    { ref: "refs/tags/v1.3.0-rc.1", oid: sha(6) },
    { ref: "refs/tags/v2.0.0", oid: sha(7) },
    { ref: "refs/tags/not-a-version", oid: sha(8) },
    { ref: "refs/heads/v1.9.9", oid: sha(9) },
  ];
  const cases: [string, string | undefined, string | undefined][] = [
    ["v1.2.x", "refs/tags/v1.2.10", sha(4)], // numeric order, annotated tag peeled
    [">=1.0 <2", "refs/tags/v1.2.10", sha(4)], // prereleases and branches are not candidates
    [">=1.3.0-rc.0 <2", "refs/tags/v1.3.0-rc.1", sha(6)],
    ["^2", "refs/tags/v2.0.0", sha(7)],
    ["v3.x", undefined, undefined],
  ];
  for (const [range, ref, commit] of cases) {
    void it(range, () => {
      const head = highestTag(refs, range);
      assert.deepEqual(head, ref ? { ref, commit } : undefined);
    });
  }
});
