import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { routeOf } from "./admission-http.js";

describe("routeOf: which webhook and which registered cluster a request is for", () => {
  const cases: Array<[method: string, url: string, expected: ReturnType<typeof routeOf>]> = [
    ["POST", "/validate", { webhook: "validate" }],
    ["POST", "/mutate/?timeout=5s", { webhook: "mutate" }],
    ["POST", "/validate/dev", { webhook: "validate", cluster: "dev" }],
    ["POST", "/VALIDATE/Prod-1/", { webhook: "validate", cluster: "prod-1" }],
    ["POST", "/mutate/staging?timeout=5s", { webhook: "mutate", cluster: "staging" }],
    ["POST", "/validate/a/b", undefined],
    ["POST", "/validate/..", undefined],
    ["POST", "/validate/-dev", undefined],
    ["POST", `/validate/${"a".repeat(64)}`, undefined],
    ["POST", "/validated", undefined],
    ["GET", "/validate/dev", undefined],
    ["POST", "/hooks/git", undefined],
  ];
  for (const [method, url, expected] of cases)
    it(`${method} ${url.slice(0, 40)}`, () => assert.deepEqual(routeOf({ method, url }), expected));
});
