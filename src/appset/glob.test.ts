import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchGlob, matchSegment, patternProblem } from "./glob.js";

describe("directory globs", () => {
  const cases: Array<[pattern: string, path: string, match: boolean]> = [
    ["apps/*", "apps/web", true],
    ["apps/*", "apps", false],
    ["apps/*", "apps/web/base", false], // `*` stays within one segment
    ["apps/*/overlays", "apps/web/overlays", true],
    ["overlays/dev", "overlays/dev", true],
    ["overlays/dev", "overlays/devx", false],
    ["overlays/d?v", "overlays/dev", true],
    ["overlays/d?v", "overlays/dv", false],
    ["*", "anything", true],
    ["*", "", true],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "aXcYb", false],
    ["a*bc*bc", "abcbc", true],
    ["a*bc*bc", "abcbcbc", true],
    ["a*ab", "ab", false], // prefix and suffix may not overlap
    ["*-prod", "eu-prod", true],
    ["*-prod", "eu-production", false],
    ["team-*/*", "team-a/web", true],
    ["team-*/*", "other/web", false],
  ];
  for (const [pattern, path, match] of cases)
    it(`${pattern} ${match ? "matches" : "does not match"} ${JSON.stringify(path)}`, () =>
      assert.equal(matchGlob(pattern, path), match));

  it("stays fast on a hostile segment (no backtracking blow-up)", () => {
    const pattern = "*a".repeat(60) + "b";
    const text = "a".repeat(255);
    const start = process.hrtime.bigint();
    assert.equal(matchSegment(pattern, text), false);
    assert.ok(process.hrtime.bigint() - start < 50_000_000n, "under 50 ms");
  });

  const problems: Array<[pattern: string, problem: RegExp | undefined]> = [
    ["apps/*", undefined],
    ["/apps", /relative/],
    ["apps//x", /empty/],
    ["apps/../x", /".."/],
    ["apps/**", /"\*\*" is not supported/],
    ["apps/[ab]", /character classes/],
    ["x".repeat(257), /1 to 256/],
    [Array(17).fill("a").join("/"), /more than 16 segments/],
  ];
  for (const [pattern, problem] of problems)
    it(`pattern ${JSON.stringify(pattern.slice(0, 20))}: ${problem ? "refused" : "usable"}`, () => {
      const got = patternProblem(pattern);
      if (problem) assert.match(got ?? "", problem);
      else assert.equal(got, undefined);
    });
});
