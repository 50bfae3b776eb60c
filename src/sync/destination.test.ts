import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GitApp } from "../api/gitapp.js";
import { destinationRefusal, type ClusterView } from "./destination.js";

function app(cluster?: string): GitApp {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name: "web", namespace: "default" },
    spec: { source: { repoURL: "https://git/r" }, destination: cluster ? { cluster } : {} },
  };
}

describe("destinationRefusal", () => {
  const clusters: Record<string, ClusterView> = {
    dev: { reachable: true },
    prod: { reachable: false, lastError: "connect ECONNREFUSED 127.0.0.1:6443" },
  };
  const cases: Array<{ what: string; cluster?: string; actAs?: string; reason?: string; message?: RegExp }> =
    [
      { what: "no cluster: the one gitgate runs in", cluster: undefined },
      { what: "a tenant on its own cluster", cluster: undefined, actAs: "system:serviceaccount:t:default" },
      { what: "registered and reachable", cluster: "dev" },
      { what: "unknown", cluster: "qa", reason: "ClusterUnknown", message: /"qa" is not registered/ },
      { what: "unreachable", cluster: "prod", reason: "ClusterUnreachable", message: /ECONNREFUSED/ },
      {
        what: "a tenant naming a remote cluster",
        cluster: "dev",
        actAs: "system:serviceaccount:t:default",
        reason: "RemoteClusterRefused",
        message: /platform namespace/,
      },
    ];
  for (const c of cases)
    it(c.what, () => {
      const refusal = destinationRefusal(
        app(c.cluster),
        c.actAs ? { actAs: c.actAs } : {},
        (n) => clusters[n],
      );
      assert.equal(refusal?.reason, c.reason);
      if (c.message) assert.match(refusal?.message ?? "", c.message);
    });
  it("an unreachable cluster is retried, an unknown one waits for its Secret", () => {
    assert.equal(destinationRefusal(app("prod"), {}, (n) => clusters[n])?.class, "transient");
    assert.equal(destinationRefusal(app("qa"), {}, (n) => clusters[n])?.class, "terminal");
  });
});
