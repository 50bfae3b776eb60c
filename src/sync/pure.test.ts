import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { setConditions } from "./conditions.js";
import { effectiveSpec, type GitApp } from "../api/gitapp.js";
import { parseDuration } from "../config/duration.js";
import { planPrune } from "./prune.js";
import type { InventoryEntry } from "../api/gitapp.js";
import type { KubeObject } from "../manifest/object.js";
import { lastChanger } from "./attribution.js";
import { planApply } from "./apply.js";
import { stampContent } from "../manifest/normalize.js";
import type { DesiredEntry } from "../manifest/desired.js";

const inv = (kind: string, name: string, namespace = "ns"): InventoryEntry => ({
  group: kind === "Deployment" ? "apps" : "",
  version: "v1",
  kind,
  namespace: kind === "Namespace" ? undefined : namespace,
  name,
});

describe("parseDuration", () => {
  const cases: Array<[string, number | undefined]> = [
    ["1m", 60_000],
    ["90s", 90_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    ["1.5s", 1500],
    ["", undefined],
    ["5", undefined],
    ["1d", undefined],
    ["-1s", undefined],
  ];
  for (const [text, want] of cases)
    it(`${JSON.stringify(text)} → ${want}`, () => assert.equal(parseDuration(text), want));
});

describe("effectiveSpec", () => {
  const app = (spec: GitApp["spec"]): GitApp => ({
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name: "a", namespace: "team" },
    spec,
  });
  it("fills defaults", () => {
    const s = effectiveSpec(app({ source: { repoURL: "http://x/r.git" } }), "enforce");
    assert.deepEqual(
      [s.revision, s.path, s.namespace, s.intervalMs, s.prune, s.selfHeal, s.mode],
      ["HEAD", ".", "team", 60_000, true, true, "enforce"],
    );
  });
  it("normalises the path and honours the minimum interval", () => {
    const s = effectiveSpec(
      app({
        source: { repoURL: "u", path: "./apps/x/" },
        sync: { interval: "1s" },
        destination: { namespace: "dest" },
      }),
      "warn",
      5000,
    );
    assert.deepEqual([s.path, s.intervalMs, s.namespace, s.mode], ["apps/x", 5000, "dest", "warn"]);
  });
});

describe("planPrune", () => {
  const old = [
    inv("Namespace", "ns"),
    inv("ConfigMap", "a"),
    inv("ConfigMap", "b"),
    inv("Deployment", "web"),
  ];
  const cases: Array<{
    name: string;
    next: InventoryEntry[];
    share: number;
    del: string[];
    refused: boolean;
  }> = [
    { name: "nothing left Git", next: old, share: 0.5, del: [], refused: false },
    {
      name: "one object removed",
      next: old.filter((e) => e.name !== "b"),
      share: 0.5,
      del: ["b"],
      refused: false,
    },
    {
      name: "namespace deleted last",
      next: [inv("ConfigMap", "a"), inv("Deployment", "web")],
      share: 0.5,
      del: ["b", "ns"],
      refused: false,
    },
    { name: "too many removed", next: [inv("ConfigMap", "a")], share: 0.5, del: [], refused: true },
    { name: "everything removed is refused", next: [], share: 0.9, del: [], refused: true },
    { name: "limit 1 allows all", next: [], share: 1, del: ["a", "b", "web", "ns"], refused: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planPrune(old, c.next, c.share);
      assert.deepEqual(
        plan.toDelete.map((e) => e.name),
        c.del,
      );
      assert.equal(plan.refused !== undefined, c.refused);
    });
  }
});

describe("setConditions", () => {
  const t1 = new Date("2026-01-01T00:00:00Z");
  const t2 = new Date("2026-01-01T00:05:00Z");
  it("keeps lastTransitionTime when the status does not change", () => {
    const first = setConditions(
      undefined,
      [{ type: "Synced", status: "True", reason: "Synced", message: "a" }],
      t1,
      1,
    );
    const second = setConditions(
      first,
      [{ type: "Synced", status: "True", reason: "Synced", message: "b" }],
      t2,
      2,
    );
    assert.equal(second[0]?.lastTransitionTime, t1.toISOString());
    assert.equal(second[0]?.message, "b");
    assert.equal(second[0]?.observedGeneration, 2);
  });
  it("moves it on a transition and orders Ready, Synced, Drifted", () => {
    const first = setConditions(
      undefined,
      [
        { type: "Drifted", status: "False", reason: "InSync", message: "" },
        { type: "Synced", status: "True", reason: "Synced", message: "" },
      ],
      t1,
    );
    const second = setConditions(
      first,
      [
        { type: "Synced", status: "False", reason: "RenderFailed", message: "x" },
        { type: "Ready", status: "False", reason: "RenderFailed", message: "x" },
      ],
      t2,
    );
    assert.deepEqual(
      second.map((c) => c.type),
      ["Ready", "Synced", "Drifted"],
    );
    assert.equal(second.find((c) => c.type === "Synced")?.lastTransitionTime, t2.toISOString());
    assert.equal(second.find((c) => c.type === "Drifted")?.lastTransitionTime, t1.toISOString());
  });
});

describe("lastChanger", () => {
  it("picks the newest non-gitgate, non-status manager", () => {
    const live: KubeObject = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        managedFields: [
          { manager: "gitgate", operation: "Apply", time: "2026-01-01T00:03:00Z" },
          { manager: "kubectl-edit", operation: "Update", time: "2026-01-01T00:02:00Z" },
          {
            manager: "kube-controller-manager",
            operation: "Update",
            time: "2026-01-01T00:04:00Z",
            subresource: "status",
          },
          { manager: "kubectl-scale", operation: "Update", time: "2026-01-01T00:01:00Z" },
        ],
      },
    };
    assert.equal(lastChanger(live), "kubectl-edit");
    assert.equal(lastChanger({ ...live, metadata: {} }), undefined);
  });

  const at = (min: number): string => `2026-01-01T00:0${min}:00Z`;
  const deployment = (
    managedFields: NonNullable<KubeObject["metadata"]["managedFields"]>,
    annotations?: Record<string, string>,
  ): KubeObject => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { managedFields, ...(annotations ? { annotations } : {}) },
  });
  const replicas = { "f:spec": { "f:replicas": {} } };
  const image = { "f:spec": { "f:template": { "f:spec": { "f:containers": {} } } } };
  const status = { "f:metadata": { "f:annotations": {} }, "f:status": { "f:replicas": {} } };
  const record = (user: string, fields: string[]): Record<string, string> => ({
    "gitgate.io/last-out-of-band-change": JSON.stringify({ user, fields, time: at(5) }),
  });
  const cases: Array<[string, KubeObject, string[], string | undefined]> = [
    [
      "a status update without `subresource` (Kubernetes < 1.22) is not the change",
      deployment([
        { manager: "kubectl", operation: "Update", time: at(1), fieldsV1: replicas },
        { manager: "kube-controller-manager", operation: "Update", time: at(2), fieldsV1: status },
      ]),
      ["spec.replicas"],
      "kubectl",
    ],
    [
      "the manager owning the drifted field beats a newer one that changed something else",
      deployment([
        { manager: "kubectl-scale", operation: "Update", time: at(1), fieldsV1: replicas },
        { manager: "kubectl-set", operation: "Update", time: at(3), fieldsV1: image },
      ]),
      ["spec.replicas"],
      "kubectl-scale",
    ],
    [
      "keyed list paths match on their plain prefix",
      deployment([
        { manager: "kubectl-scale", operation: "Update", time: at(3), fieldsV1: replicas },
        { manager: "kubectl-set", operation: "Update", time: at(1), fieldsV1: image },
      ]),
      ["spec.template.spec.containers[name=web].image"],
      "kubectl-set",
    ],
    [
      "the webhook's record names the user, when it covers a drifted field",
      deployment(
        [{ manager: "kubectl-edit", operation: "Update", time: at(1), fieldsV1: replicas }],
        record("alice", ["spec.replicas"]),
      ),
      ["spec.replicas"],
      "alice",
    ],
    [
      "a record of other fields is not evidence",
      deployment(
        [{ manager: "kubectl-edit", operation: "Update", time: at(1), fieldsV1: replicas }],
        record("alice", ["metadata.labels[x]"]),
      ),
      ["spec.replicas"],
      "kubectl-edit",
    ],
    [
      "a malformed record is ignored",
      deployment([{ manager: "kubectl-edit", operation: "Update", time: at(1), fieldsV1: replicas }], {
        "gitgate.io/last-out-of-band-change": "{not json",
      }),
      ["spec.replicas"],
      "kubectl-edit",
    ],
    [
      "nobody but gitgate and status writers: unknown",
      deployment([
        { manager: "gitgate", operation: "Apply", time: at(1), fieldsV1: replicas },
        { manager: "kube-controller-manager", operation: "Update", time: at(2), fieldsV1: status },
      ]),
      ["spec.replicas"],
      undefined,
    ],
  ];
  for (const [name, live, paths, want] of cases) it(name, () => assert.equal(lastChanger(live, paths), want));
});

describe("planApply", () => {
  const commit = "3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b";
  const annotations = {
    "gitgate.io/repo": "https://git.example.com/a.git",
    "gitgate.io/file": "apps/cm.yaml",
    "gitgate.io/commit": commit,
  };
  const desired: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cm", namespace: "ns", labels: { "gitgate.io/app": "gitgate-system.a" }, annotations },
    data: { A: "1" },
  };
  const entry: DesiredEntry = {
    key: "/ConfigMap/ns/cm",
    ref: { group: "", kind: "ConfigMap", namespace: "ns", name: "cm" },
    object: desired,
    app: { namespace: "gitgate-system", name: "a" },
    source: { repoURL: "https://git.example.com/a.git", path: "apps", file: "apps/cm.yaml", commit },
    mode: "enforce",
    ignore: [],
  };
  const withLive = (edit: (o: KubeObject) => void): KubeObject => {
    const o = structuredClone(desired);
    edit(o);
    return o;
  };
  const plan = (live: KubeObject | undefined, held = false): ReturnType<typeof planApply> =>
    planApply([entry], () => live, { selfHeal: true, isHeld: () => held });
  const cases: Array<[string, KubeObject | undefined, boolean, number, string[]]> = [
    ["missing: applied", undefined, false, 1, []],
    ["missing while held (deleted under break-glass): left alone until expiry", undefined, true, 0, []],
    ["equal: nothing to do", withLive(() => undefined), false, 0, []],
    [
      "drifted: reverted and reported",
      withLive((o) => ((o.data as Record<string, string>).A = "2")),
      false,
      1,
      ["reverted"],
    ],
    [
      "drifted while held: reported as held, not applied",
      withLive((o) => ((o.data as Record<string, string>).A = "2")),
      true,
      0,
      ["held"],
    ],
    [
      "only gitgate's annotations differ (a repo URL with credentials from before): applied, not drift",
      withLive(
        (o) =>
          (o.metadata.annotations = {
            ...annotations,
            "gitgate.io/repo": "https://tok@git.example.com/a.git",
          }),
      ),
      false,
      1,
      [],
    ],
  ];
  for (const [name, live, held, applies, drift] of cases)
    it(name, () => {
      const p = plan(live, held);
      assert.equal(p.toApply.length, applies);
      assert.deepEqual(
        p.drift.map((d) => d.action),
        drift,
      );
    });
});

describe("planApply with content stamps: a commit elsewhere in the repository writes nothing", () => {
  const commit = "b".repeat(40);
  const older = "a".repeat(40);
  const stamp = (data: Record<string, string>, at: string): KubeObject =>
    stampContent({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "cm",
        namespace: "ns",
        labels: { "gitgate.io/app": "gitgate-system.a" },
        annotations: { "gitgate.io/file": "apps/cm.yaml", "gitgate.io/commit": at },
      },
      data,
    });
  const desired = stamp({ A: "1" }, commit);
  const entry: DesiredEntry = {
    key: "/ConfigMap/ns/cm",
    ref: { group: "", kind: "ConfigMap", namespace: "ns", name: "cm" },
    object: desired,
    app: { namespace: "gitgate-system", name: "a" },
    source: { repoURL: "https://git.example.com/a.git", path: "apps", file: "apps/cm.yaml", commit },
    mode: "enforce",
    ignore: [],
  };
  const unstamped = stamp({ A: "1" }, commit);
  delete unstamped.metadata.annotations?.["gitgate.io/content"];
  const drifted = stamp({ A: "1" }, older);
  (drifted.data as Record<string, string>).A = "2";
  const cases: Array<[string, KubeObject, number, string[]]> = [
    ["same content, stamped by an older commit: nothing written", stamp({ A: "1" }, older), 0, []],
    ["same content stamp, a field changed behind Git's back: drift, reverted", drifted, 1, ["reverted"]],
    ["Git changed the content since: applied, not drift", stamp({ A: "0" }, older), 1, []],
    ["applied before content stamps (same commit): applied once to stamp it, not drift", unstamped, 1, []],
  ];
  for (const [name, live, applies, drift] of cases)
    it(name, () => {
      const p = planApply([entry], () => live, { selfHeal: true, isHeld: () => false });
      assert.equal(p.toApply.length, applies);
      assert.deepEqual(
        p.drift.map((d) => d.action),
        drift,
      );
    });
  it("the stamp ignores the commit and changes with the content", () => {
    const content = (o: KubeObject): string | undefined => o.metadata.annotations?.["gitgate.io/content"];
    assert.equal(content(stamp({ A: "1" }, older)), content(desired));
    assert.notEqual(content(stamp({ A: "2" }, commit)), content(desired));
  });
});
