import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GitApp } from "../api/gitapp.js";
import type { GitAppSet, GitAppSetSpec } from "../api/gitappset.js";
import { planSet, upToDate, type PlanContext } from "./plan.js";
import { setStatus } from "./status.js";

const set: GitAppSet = {
  apiVersion: "gitgate.io/v1alpha1",
  kind: "GitAppSet",
  metadata: { name: "web", namespace: "default", uid: "set-uid" },
  spec: {} as GitAppSetSpec,
};

const spec: GitAppSetSpec = {
  generators: [],
  template: {
    metadata: { name: "web-{{cluster.name}}", labels: { team: "a" } },
    spec: {
      source: { repoURL: "http://git/fleet.git", path: "overlays/{{cluster.name}}" },
      destination: { namespace: "web", cluster: "{{cluster.name}}" },
    },
  },
};

const platform: PlanContext = { tenant: false };
const params: Array<Record<string, string>> = [{ "cluster.name": "dev" }, { "cluster.name": "in-cluster" }];

function existing(name: string, owner?: string, labels: Record<string, string> = {}): GitApp {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: {
      name,
      namespace: "default",
      labels,
      ...(owner
        ? {
            ownerReferences: [
              {
                apiVersion: "gitgate.io/v1alpha1",
                kind: "GitAppSet",
                name: "web",
                uid: owner,
                controller: true,
              },
            ],
          }
        : {}),
    },
    spec: { source: { repoURL: "x" } },
  };
}

describe("planSet", () => {
  it("renders one GitApp per parameter set, owned and labelled; in-cluster means the hub", () => {
    const got = planSet(set, spec, params, [], platform);
    assert.ok(got.ok);
    const [dev, hub] = got.plan.apply;
    assert.deepEqual(dev?.metadata, {
      name: "web-dev",
      namespace: "default",
      labels: { team: "a", "gitgate.io/appset": "web" },
      ownerReferences: [
        {
          apiVersion: "gitgate.io/v1alpha1",
          kind: "GitAppSet",
          name: "web",
          uid: "set-uid",
          controller: true,
        },
      ],
    });
    assert.deepEqual(dev?.spec.destination, { namespace: "web", cluster: "dev" });
    assert.deepEqual(hub?.spec.destination, { namespace: "web" });
    assert.equal(hub?.spec.source.path, "overlays/in-cluster");
  });

  it("never takes over a GitApp it does not own; lists its own it no longer generates", () => {
    const got = planSet(
      set,
      spec,
      params,
      [
        existing("web-dev"), // someone else's
        existing("web-in-cluster", "set-uid", { "gitgate.io/appset": "web" }),
        existing("web-staging", "set-uid", { "gitgate.io/appset": "web" }), // ours, gone from the generators
        existing("web-qa", "other-uid", { "gitgate.io/appset": "web" }), // a former set of the same name
      ],
      platform,
    );
    assert.ok(got.ok);
    assert.deepEqual(
      got.plan.apply.map((a) => a.metadata.name),
      ["web-in-cluster"],
    );
    assert.deepEqual(got.plan.notOwned, ["web-dev"]);
    assert.deepEqual(got.plan.orphans, ["web-staging"]);
  });

  const refusals: Array<
    [
      name: string,
      change: (s: GitAppSetSpec) => GitAppSetSpec,
      ctx: PlanContext,
      p: typeof params,
      reason: string,
      message: RegExp,
    ]
  > = [
    [
      "a tenant's set naming a remote cluster",
      (s) => s,
      { tenant: true },
      params,
      "RemoteClusterRefused",
      /GitApp web-dev would name cluster "dev"/,
    ],
    [
      "another namespace",
      (s) => ({
        ...s,
        template: { ...s.template, metadata: { ...s.template.metadata, namespace: "kube-system" } as never },
      }),
      platform,
      params,
      "NamespaceRefused",
      /template names namespace "kube-system"/,
    ],
    [
      "a bad generated name",
      (s) => s,
      platform,
      [{ "cluster.name": "Dev_1" }],
      "InvalidName",
      /"web-Dev_1" is not a valid GitApp name/,
    ],
    [
      "two sets, one name",
      (s) => s,
      platform,
      [{ "cluster.name": "dev" }, { "cluster.name": "dev" }],
      "DuplicateName",
      /"web-dev"/,
    ],
    [
      "an unknown param",
      (s) => s,
      platform,
      [{ env: "dev" }],
      "TemplateError",
      /unknown param "cluster.name"/,
    ],
  ];
  for (const [name, change, ctx, p, reason, message] of refusals)
    it(`refuses ${name}, the whole set`, () => {
      const got = planSet(set, change(spec), p, [], ctx);
      assert.equal(got.ok, false);
      if (!got.ok) {
        assert.equal(got.error.reason, reason);
        assert.match(got.error.message, message);
      }
    });

  it("a tenant's set may generate for the hub", () => {
    const got = planSet(set, spec, [{ "cluster.name": "in-cluster" }], [], { tenant: true });
    assert.ok(got.ok);
  });
});

describe("setStatus", () => {
  const T0 = "2026-01-01T00:00:00Z";
  const T1 = "2026-01-01T00:01:00Z";
  it("orphans listed with prune off, conditions like Argo CD's, transition times kept", () => {
    const got = planSet(
      set,
      spec,
      params,
      [existing("web-staging", "set-uid", { "gitgate.io/appset": "web" })],
      platform,
    );
    assert.ok(got.ok);
    const first = setStatus(
      undefined,
      { kind: "done", plan: got.plan, pruned: [], prune: false },
      new Map(),
      3,
      T0,
    );
    assert.deepEqual(first.orphaned, ["web-staging"]);
    assert.deepEqual(
      first.conditions?.map((c) => [c.type, c.status, c.reason]),
      [
        ["ErrorOccurred", "False", "NoError"],
        ["ParametersGenerated", "True", "ParametersGenerated"],
        ["ResourcesUpToDate", "False", "Orphaned"],
      ],
    );
    assert.deepEqual(first.applications, [
      { name: "web-dev", cluster: "in-cluster" },
      { name: "web-in-cluster", cluster: "in-cluster" },
    ]);
    const failed = setStatus(
      first,
      { kind: "failed", stage: "generate", error: { reason: "TooManyApps", message: "too many" } as never },
      new Map(),
      4,
      T1,
    );
    const byType = new Map(failed.conditions?.map((c) => [c.type, c]));
    assert.equal(byType.get("ErrorOccurred")?.lastTransitionTime, T1);
    assert.equal(byType.get("ResourcesUpToDate")?.lastTransitionTime, T0); // False before and after
    assert.equal(byType.get("ParametersGenerated")?.status, "False");
    assert.deepEqual(failed.orphaned, ["web-staging"]); // kept: nothing was decided
  });
});

describe("upToDate", () => {
  const got = planSet(set, spec, [{ "cluster.name": "dev" }], [], platform);
  assert.ok(got.ok);
  const desired = got.plan.apply[0] as GitApp;
  const live = (change: (a: GitApp) => void): GitApp => {
    const copy = structuredClone(desired);
    copy.metadata.labels = { ...copy.metadata.labels, extra: "kept" };
    copy.metadata.resourceVersion = "7";
    change(copy);
    return copy;
  };
  const cases: Array<[name: string, change: (a: GitApp) => void, same: boolean]> = [
    ["as applied, with other labels and metadata", () => undefined, true],
    [
      "spec keys in another order",
      (a) =>
        (a.spec = {
          destination: a.spec.destination,
          source: { path: a.spec.source.path, repoURL: a.spec.source.repoURL },
        }),
      true,
    ],
    ["a spec field changed", (a) => (a.spec.source.path = "elsewhere"), false],
    ["a spec field added by hand", (a) => (a.spec.sync = { prune: false }), false],
    ["the set's label gone", (a) => delete a.metadata.labels?.["gitgate.io/appset"], false],
    ["a template label differs", (a) => ((a.metadata.labels ?? {}).team = "b"), false],
    ["the owner reference gone", (a) => delete a.metadata.ownerReferences, false],
    [
      "a label the last apply set is no longer in the template",
      (a) =>
        (a.metadata.managedFields = [
          {
            manager: "gitgate-appset",
            operation: "Apply",
            fieldsV1: {
              "f:metadata": { "f:labels": { "f:team": {}, "f:old": {}, "f:gitgate.io/appset": {} } },
            },
          },
        ]),
      false,
    ],
    [
      "another manager's label",
      (a) =>
        (a.metadata.managedFields = [
          {
            manager: "kubectl",
            operation: "Update",
            fieldsV1: { "f:metadata": { "f:labels": { "f:extra": {} } } },
          },
          {
            manager: "gitgate-appset",
            operation: "Apply",
            fieldsV1: { "f:metadata": { "f:labels": { "f:team": {}, "f:gitgate.io/appset": {} } } },
          },
        ]),
      true,
    ],
  ];
  for (const [name, change, same] of cases)
    it(name, () => assert.equal(upToDate(live(change), desired), same));
});
