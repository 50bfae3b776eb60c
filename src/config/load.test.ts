import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { DEFAULT_CONFIG, applyEnv, parseConfig } from "./load.js";

describe("parseConfig", () => {
  it("empty document gives the defaults", () => assert.deepEqual(parseConfig(null, "x"), DEFAULT_CONFIG));
  it("merges nested values over defaults", () => {
    const c = parseConfig(
      {
        enforcement: { defaultMode: "warn" },
        alerts: { channels: [{ name: "s", type: "slack", url: "http://127.0.0.1/x" }] },
      },
      "x",
    );
    assert.equal(c.enforcement.defaultMode, "warn");
    assert.deepEqual(c.enforcement.exemptGroups, DEFAULT_CONFIG.enforcement.exemptGroups);
    assert.equal(c.alerts.channels[0]?.name, "s");
    assert.equal(c.alerts.ratePerMinute, 20);
  });
  const bad: Array<[string, unknown, RegExp]> = [
    [
      "unknown mode",
      { enforcement: { defaultMode: "block" } },
      /\/enforcement\/defaultMode must be equal to one of the allowed values/,
    ],
    ["unknown key", { nope: 1 }, /must NOT have additional properties/],
    [
      "channel without url",
      { alerts: { channels: [{ name: "a", type: "slack" }] } },
      /\/alerts\/channels\/0/,
    ],
    [
      "bad channel type",
      { alerts: { channels: [{ name: "a", type: "irc", url: "http://x" }] } },
      /\/alerts\/channels\/0\/type/,
    ],
    ["timeout above 5", { webhook: { timeoutSeconds: 10 } }, /\/webhook\/timeoutSeconds must be <= 5/],
    [
      "bad duration",
      { enforcement: { breakGlass: { maxDuration: "forever" } } },
      /maxDuration must match pattern/,
    ],
  ];
  for (const [name, doc, want] of bad) {
    it(`rejects ${name} with a message naming the field`, () => {
      assert.throws(
        () => parseConfig(doc, "config file /etc/gitgate.yaml"),
        (err: Error) => {
          assert.match(err.message, /^config file \/etc\/gitgate.yaml: /);
          assert.match(err.message, want);
          return true;
        },
      );
    });
  }
  it("takes webhook secrets from the environment", () => {
    const c = applyEnv(DEFAULT_CONFIG, { GITGATE_GITHUB_WEBHOOK_SECRET: "s3", GITGATE_LOG_LEVEL: "debug" });
    assert.equal(c.hooks.githubSecret, "s3");
    assert.equal(c.logLevel, "debug");
    assert.equal(DEFAULT_CONFIG.hooks.githubSecret, undefined);
  });
});
