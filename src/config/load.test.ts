import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { durationsOf } from "./duration.js";
import { DEFAULT_CONFIG, applyEnv, parseConfig } from "./load.js";

/** The defaults as documented (chart/values.yaml, README), written out: not read back from load.ts. */
const DOCUMENTED_DEFAULTS = {
  clusterName: "kubernetes",
  namespace: "gitgate-system",
  logLevel: "info",
  enforcement: {
    defaultMode: "enforce",
    exemptUsers: [],
    exemptGroups: ["system:masters"],
    breakGlass: { groups: [], maxDuration: "4h", defaultDuration: "1h" },
  },
  sync: {
    concurrency: 16,
    workers: 4,
    maxPruneShare: 0.5,
    maxFetchBytes: 536870912,
    minInterval: "5s",
    statusHeartbeat: "5m",
  },
  render: { timeout: "60s", maxFileBytes: 4194304, maxRepoFileBytes: 67108864, maxObjects: 10000 },
  webhook: {
    enabled: true,
    port: 9443,
    failurePolicy: "Fail",
    timeoutSeconds: 5,
    certSecret: "gitgate-webhook-tls",
    register: true,
    namePrefix: "gitgate",
  },
  hooks: { maxBodyBytes: 1048576, allowUnsigned: false },
  alerts: { channels: [], dedupWindow: "10m", ratePerMinute: 20 },
  leaderElection: { enabled: true, leaseName: "gitgate-leader" },
  dashboard: {
    enabled: false,
    address: "127.0.0.1:8080",
    secureCookie: false,
    activityEntries: 500,
    streamsPerUser: 4,
    failedLoginsPerMinute: 10,
  },
};

describe("parseConfig", () => {
  it("empty document gives the defaults", () => {
    assert.deepEqual(parseConfig(null, "x"), DOCUMENTED_DEFAULTS);
    assert.deepEqual(parseConfig({}, "x"), DOCUMENTED_DEFAULTS);
  });
  it("merges nested values over defaults", () => {
    const c = parseConfig(
      {
        enforcement: { defaultMode: "warn" },
        alerts: { channels: [{ name: "s", type: "slack", url: "http://127.0.0.1/x" }] },
      },
      "x",
    );
    assert.deepEqual(c, {
      ...DOCUMENTED_DEFAULTS,
      enforcement: { ...DOCUMENTED_DEFAULTS.enforcement, defaultMode: "warn" },
      alerts: {
        channels: [{ name: "s", type: "slack", url: "http://127.0.0.1/x" }],
        dedupWindow: "10m",
        ratePerMinute: 20,
      },
    });
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
      "client names without a client CA",
      { webhook: { clientNames: ["kube-apiserver"] } },
      /\/webhook must have property clientCA when property clientNames is present/,
    ],
    [
      "an empty client names list",
      { webhook: { clientCA: "/ca.pem", clientNames: [] } },
      /\/webhook\/clientNames/,
    ],
    [
      "bad duration",
      { enforcement: { breakGlass: { maxDuration: "forever" } } },
      /maxDuration must match pattern/,
    ],
    [
      "a certificate check interval that is not a duration",
      { webhook: { certCheckInterval: "hourly" } },
      /certCheckInterval must match pattern/,
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
  it("takes the webhook's client CA and names, merged over the defaults", () => {
    const c = parseConfig(
      { webhook: { clientCA: "/etc/gitgate/client-ca/ca.crt", clientNames: ["a"] } },
      "x",
    );
    assert.deepEqual(c.webhook, {
      ...DOCUMENTED_DEFAULTS.webhook,
      clientCA: "/etc/gitgate/client-ca/ca.crt",
      clientNames: ["a"],
    });
  });
  it("checks certificates every webhook.certCheckInterval: 1h by default, never more often than 1 s", () => {
    const cases: Array<[string | undefined, number]> = [
      [undefined, 3_600_000],
      ["5s", 5000],
      ["10m", 600_000],
      ["100ms", 1000],
    ];
    for (const [interval, want] of cases) {
      const c = parseConfig(interval ? { webhook: { certCheckInterval: interval } } : null, "x");
      assert.equal(durationsOf(c).certCheckIntervalMs, want, String(interval));
    }
  });
  it("takes webhook secrets from the environment", () => {
    const c = applyEnv(DEFAULT_CONFIG, { GITGATE_GITHUB_WEBHOOK_SECRET: "s3", GITGATE_LOG_LEVEL: "debug" });
    assert.deepEqual(c, {
      ...DOCUMENTED_DEFAULTS,
      logLevel: "debug",
      hooks: { maxBodyBytes: 1048576, allowUnsigned: false, githubSecret: "s3" },
    });
    assert.deepEqual(DEFAULT_CONFIG, DOCUMENTED_DEFAULTS, "the defaults are not changed in place");
  });
});
