import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LabelSelector } from "../api/gitappset.js";
import { matchesSelector, selectorProblem } from "./selector.js";

describe("label selectors", () => {
  const labels = { env: "prod", region: "eu" };
  const cases: Array<[name: string, selector: LabelSelector, match: boolean]> = [
    ["empty selector", {}, true],
    ["matchLabels equal", { matchLabels: { env: "prod" } }, true],
    ["matchLabels differ", { matchLabels: { env: "dev" } }, false],
    ["matchLabels missing key", { matchLabels: { tier: "x" } }, false],
    ["In", { matchExpressions: [{ key: "env", operator: "In", values: ["dev", "prod"] }] }, true],
    ["In, absent key", { matchExpressions: [{ key: "tier", operator: "In", values: ["x"] }] }, false],
    ["NotIn", { matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] }, false],
    ["NotIn, absent key", { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["x"] }] }, true],
    ["Exists", { matchExpressions: [{ key: "region", operator: "Exists" }] }, true],
    ["DoesNotExist", { matchExpressions: [{ key: "region", operator: "DoesNotExist" }] }, false],
    [
      "both parts must hold",
      { matchLabels: { env: "prod" }, matchExpressions: [{ key: "region", operator: "In", values: ["us"] }] },
      false,
    ],
    [
      "inherited keys are not labels",
      { matchExpressions: [{ key: "constructor", operator: "Exists" }] },
      false,
    ],
  ];
  for (const [name, selector, match] of cases)
    it(name, () => assert.equal(matchesSelector(selector, labels), match));

  it("In without values and Exists with values are refused", () => {
    assert.match(selectorProblem({ matchExpressions: [{ key: "a", operator: "In" }] }) ?? "", /needs values/);
    assert.match(
      selectorProblem({ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }) ?? "",
      /takes no values/,
    );
    assert.equal(selectorProblem({ matchLabels: { a: "b" } }), undefined);
  });
});
