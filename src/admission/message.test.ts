import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { changeClause, formatValue } from "./message.js";

void describe("denial message values", () => {
  const password = "Zq8vX2mN4pL7rT1wY6sK9dF3hJ5gB0cV8nM2xQ4zR7tW1yU3"; // 48 characters
  const cases: Array<[string, unknown, (out: string) => void]> = [
    [
      "a long URL with a password is redacted before it is cut",
      `postgres://app:${password}@db.example.com:5432/shop`,
      (out) => assert.ok(!out.includes(password.slice(0, 12)), out),
    ],
    ["a short value is kept", 5, (out) => assert.equal(out, "5")],
    ["objects are JSON", { a: 1 }, (out) => assert.equal(out, '{"a":1}')],
  ];
  for (const [name, value, check] of cases) it(name, () => check(formatValue(value)));

  it("names the repo without its credentials", () => {
    const clause = changeClause(
      { path: "spec.replicas", gitValue: 1, liveValue: 5 },
      {
        repoURL: "https://ghx0123456789abcdef@git.example.com/a.git",
        path: "apps",
        file: "apps/d.yaml",
        commit: "3f2a9c0d1e2f",
      },
    );
    assert.equal(
      clause,
      "spec.replicas is 1 in https://git.example.com/a.git apps/d.yaml@3f2a9c0, request has 5",
    );
  });
});
