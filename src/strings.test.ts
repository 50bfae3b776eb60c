import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { trimLeading, trimTrailing } from "./strings.js";

void describe("trimTrailing / trimLeading", () => {
  const cases: Array<[text: string, trailing: string, leading: string]> = [
    ["a/b//", "a/b", "a/b//"],
    ["//a", "//a", "a"],
    ["", "", ""],
    ["///", "", ""],
    ["/a/", "/a", "a/"],
  ];
  for (const [text, trailing, leading] of cases)
    void it(JSON.stringify(text), () => {
      assert.equal(trimTrailing(text, "/"), trailing);
      assert.equal(trimLeading(text, "/"), leading);
    });

  void it("is linear where /\\/+$/ was not: a////…//b of 1 MB", () => {
    const text = `a${"/".repeat(1_000_000)}b`;
    assert.equal(trimTrailing(text, "/"), text);
  });
});
