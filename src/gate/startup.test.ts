import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { awaitingAppDecision } from "../admission/awaiting.js";
import { decide } from "../admission/decide.js";
import type { AdmissionPolicy, AdmissionRequest } from "../admission/types.js";
import type { KubeObject } from "../manifest/object.js";
import { StartupReadiness } from "../sync/startup-readiness.js";
import { DesiredIndex } from "./desired-index.js";

const POLICY: AdmissionPolicy = {
  selfUsername: "system:serviceaccount:gitgate-system:gitgate",
  exemptUsers: [],
  exemptGroups: ["system:masters"],
  defaultMode: "enforce",
  breakGlassGroups: [],
  breakGlassMaxSeconds: 3600,
  breakGlassDefaultSeconds: 900,
};
const SHOP = { namespace: "apps", name: "shop" };
const OTHER = { namespace: "apps", name: "other" };

function configMap(label: string | undefined, value: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "settings",
      namespace: "shop",
      ...(label ? { labels: { "gitgate.io/app": label } } : {}),
    },
    data: { LOG_LEVEL: value },
  };
}

function update(label: string | undefined, username = "alice", groups: string[] = []): AdmissionRequest {
  return {
    uid: "u1",
    kind: { group: "", version: "v1", kind: "ConfigMap" },
    resource: { group: "", version: "v1", resource: "configmaps" },
    name: "settings",
    namespace: "shop",
    operation: "UPDATE",
    userInfo: { username, groups },
    object: configMap(label, "debug"),
    oldObject: configMap(label, "info"),
  };
}

void describe("DesiredIndex.awaits: an app seen but not rendered since start", () => {
  const cases: Array<{ name: string; setup: (i: DesiredIndex) => void; label: string; want: boolean }> = [
    { name: "unknown app", setup: () => undefined, label: "apps.shop", want: false },
    { name: "expected, not rendered", setup: (i) => i.expect(SHOP), label: "apps.shop", want: true },
    {
      name: "expected and rendered",
      setup: (i) => (i.expect(SHOP), i.replaceApp(SHOP, [])),
      label: "apps.shop",
      want: false,
    },
    {
      name: "render attempted (failed)",
      setup: (i) => (i.expect(SHOP), i.markAttempted(SHOP)),
      label: "apps.shop",
      want: false,
    },
    { name: "removed", setup: (i) => (i.expect(SHOP), i.removeApp(SHOP)), label: "apps.shop", want: false },
    { name: "another app's label", setup: (i) => i.expect(OTHER), label: "apps.shop", want: false },
  ];
  for (const c of cases)
    void it(c.name, () => {
      const index = new DesiredIndex();
      c.setup(index);
      assert.equal(index.awaits(c.label), c.want);
    });
});

void describe("a labelled object whose app is not rendered yet: answered per failurePolicy", () => {
  const cases: Array<{
    name: string;
    label?: string;
    username?: string;
    groups?: string[];
    failurePolicy?: "Fail" | "Ignore";
    rendered?: boolean;
    want: { allowed: boolean; reason: string; says?: RegExp };
  }> = [
    {
      name: "Fail (default): refused, saying why",
      label: "apps.shop",
      want: {
        allowed: false,
        reason: "index-incomplete",
        says: /not yet rendered GitApp apps\/shop .*failurePolicy Fail/,
      },
    },
    {
      name: "Ignore: allowed with a warning",
      label: "apps.shop",
      failurePolicy: "Ignore",
      want: { allowed: true, reason: "index-incomplete", says: /allowed unchecked \(failurePolicy Ignore\)/ },
    },
    {
      name: "app rendered: pending prune, allowed",
      label: "apps.shop",
      rendered: true,
      want: { allowed: true, reason: "not-indexed" },
    },
    {
      name: "label of an unknown app: allowed",
      label: "apps.nobody",
      want: { allowed: true, reason: "not-indexed" },
    },
    { name: "unlabelled: the fast path", want: { allowed: true, reason: "unmanaged" } },
    {
      name: "exempt user: allowed",
      label: "apps.shop",
      groups: ["system:masters"],
      want: { allowed: true, reason: "exempt" },
    },
    {
      name: "gitgate itself: allowed",
      label: "apps.shop",
      username: POLICY.selfUsername,
      want: { allowed: true, reason: "self" },
    },
  ];
  for (const c of cases)
    void it(c.name, () => {
      const index = new DesiredIndex();
      index.expect(SHOP);
      if (c.rendered) index.replaceApp(SHOP, []);
      const policy = { ...POLICY, ...(c.failurePolicy ? { failurePolicy: c.failurePolicy } : {}) };
      const decision = decide({
        request: update(c.label, c.username, c.groups),
        index,
        policy,
        now: new Date(),
      });
      assert.equal(decision.allowed, c.want.allowed);
      assert.equal(decision.reason, c.want.reason);
      const text = decision.status?.message ?? decision.warnings?.join(" ") ?? "";
      if (c.want.says) assert.match(text, c.want.says);
      if (!c.want.allowed) assert.equal(decision.status?.code, 503);
    });

  void it("an index reader without awaits (older fakes) never refuses", () => {
    const index = { get: () => undefined, isComplete: () => false };
    assert.equal(awaitingAppDecision(update("apps.shop"), index, POLICY, "k"), undefined);
  });
});

void describe("StartupReadiness: every GitApp listed at start rendered, then latched", () => {
  void it("walks through start, renders, deletion and a later app", () => {
    const r = new StartupReadiness();
    const rendered = new Set<string>();
    const exists = new Set(["a/x", "a/y", "a/z"]);
    const ready = (): boolean =>
      r.isReady(
        (k) => rendered.has(k),
        (k) => exists.has(k),
      );
    assert.equal(ready(), false, "not listed yet");
    r.listed(exists);
    assert.equal(ready(), false);
    assert.equal(r.waitingFor, 3);
    rendered.add("a/x");
    assert.equal(ready(), false);
    exists.delete("a/y"); // deleted before it rendered
    assert.equal(ready(), false);
    rendered.add("a/z");
    assert.equal(ready(), true);
    exists.add("a/new"); // created later: does not take the replica out again
    assert.equal(ready(), true);
  });

  void it("no GitApps at all: ready once listed", () => {
    const r = new StartupReadiness();
    assert.equal(
      r.isReady(
        () => false,
        () => true,
      ),
      false,
    );
    r.listed([]);
    assert.equal(
      r.isReady(
        () => false,
        () => true,
      ),
      true,
    );
  });
});
