import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Condition, GitApp } from "../api/gitapp.js";
import { fleetRows, formatTable } from "./cmd-status.js";

function app(name: string, cluster: string | undefined, status: GitApp["status"], set?: string): GitApp {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name, namespace: "default", ...(set ? { labels: { "gitgate.io/appset": set } } : {}) },
    spec: { source: { repoURL: "https://git/r" }, destination: cluster ? { cluster } : {} },
    status,
  };
}

const T = "2026-01-01T00:00:00Z";
const synced: Condition = {
  type: "Synced",
  status: "True",
  reason: "Synced",
  message: "1 objects",
  lastTransitionTime: T,
};

describe("status --fleet", () => {
  const apps = [
    app("web-staging", "staging", {
      revision: "b".repeat(40),
      health: "Healthy",
      cluster: { name: "staging", reachable: false, lastError: "timeout" },
      conditions: [
        {
          type: "Synced",
          status: "False",
          reason: "ClusterUnreachable",
          message: 'cluster "staging" is unreachable',
          lastTransitionTime: T,
        },
      ],
    }),
    app("web-dev", "dev", {
      revision: "a".repeat(40),
      health: "Healthy",
      cluster: { name: "dev", reachable: true },
      conditions: [synced],
    }),
    app("web", undefined, { revision: "c".repeat(40), conditions: [synced] }),
    app("web-qa", "qa", {}),
    app(
      "shop-staging",
      "staging",
      { revision: "e".repeat(40), health: "Degraded", conditions: [synced] },
      "shop",
    ),
    app("shop-in-cluster", undefined, { revision: "d".repeat(40), conditions: [synced] }, "shop"),
    app("api-dev", "dev", { revision: "f".repeat(40), conditions: [synced] }, "api"),
  ];
  const cases: Array<
    [name: string, set: string, cluster: string, reachable: string, revision: string, synced: string]
  > = [
    ["api-dev", "api", "dev", "unknown", "fffffff", "True (Synced)"],
    ["shop-in-cluster", "shop", "in-cluster", "-", "ddddddd", "True (Synced)"],
    ["shop-staging", "shop", "staging", "unknown", "eeeeeee", "True (Synced)"],
    ["web-dev", "-", "dev", "yes", "aaaaaaa", "True (Synced)"],
    ["web", "-", "in-cluster", "-", "ccccccc", "True (Synced)"],
    ["web-qa", "-", "qa", "unknown", "", "Unknown"],
    ["web-staging", "-", "staging", "no", "bbbbbbb", "False (ClusterUnreachable)"],
  ];
  const rows = fleetRows(apps);
  it("one row per GitApp, grouped by set (GitApps of no set last), then sorted by cluster", () =>
    assert.deepEqual(
      rows.map((r) => [r.name, r.set, r.cluster, r.reachable, r.revision, r.synced]),
      cases,
    ));
  it("the table leads with SET, CLUSTER and REACHABLE", () => {
    // No TTY under the test runner: no colour codes.
    const [header, first] = formatTable(rows, true).split("\n");
    assert.deepEqual(header?.split(/\s+/), [
      "SET",
      "CLUSTER",
      "REACHABLE",
      "NAMESPACE",
      "NAME",
      "REVISION",
      "SYNCED",
      "DRIFTED",
      "HEALTH",
      "MESSAGE",
    ]);
    assert.match(first ?? "", /^api\s+dev\s+unknown\s+default\s+api-dev\s+fffffff/);
  });
});
