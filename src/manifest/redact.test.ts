import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { REDACTED, redactText } from "./redact.js";

void describe("redactText", () => {
  const cases: Array<[string, string, string]> = [
    [
      "user and password in a URL",
      "cannot reach https://deploy:s3cr3t@git.example.com/a.git",
      `cannot reach https://${REDACTED}@git.example.com/a.git`,
    ],
    [
      "a token-only URL",
      "clone https://ghx0123456789abcdef@git.example.com/a.git",
      `clone https://${REDACTED}@git.example.com/a.git`,
    ],
    [
      "an @ in the path is not userinfo",
      "https://git.example.com/team/@scope/pkg",
      "https://git.example.com/team/@scope/pkg",
    ],
    ["a URL without userinfo", "https://git.example.com/a.git", "https://git.example.com/a.git"],
    ["a GitHub token", "token ghp_abcdefghijklmnopqrstuvwx1234", `token ${REDACTED}`],
    ["password=", "password=hunter22 and more", `password=${REDACTED} and more`],
    ["a bearer token", "Authorization: Bearer abcdefgh12345678", `Authorization: Bearer ${REDACTED}`],
  ];
  for (const [name, input, want] of cases) it(name, () => assert.equal(redactText(input), want));
});
