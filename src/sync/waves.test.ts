import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GitApp, SyncOperation } from "../api/gitapp.js";
import type { KubeObject } from "../manifest/object.js";
import { finalizerPatch, finalizerWanted } from "./cascade.js";
import {
  currentOperation,
  deleteWhenDone,
  finish,
  createdBy,
  HOOK_OPERATION_ANNOTATION,
  hookObject,
  hookState,
  operationPatch,
  timedOut,
  waitAt,
} from "./hooks.js";
import { withLiveIgnored } from "./respect-ignore.js";
import { hookOf, planSteps, syncOptionsOf, waveOf, type Planned, type SyncOptions } from "./waves.js";

function obj(kind: string, annotations: Record<string, string> = {}, name = "x"): KubeObject {
  return { apiVersion: "v1", kind, metadata: { name, annotations } };
}

describe("waveOf", () => {
  const cases: Array<[string, Record<string, string>, number | RegExp]> = [
    ["no annotation", {}, 0],
    ["gitgate's", { "gitgate.io/sync-wave": "3" }, 3],
    ["Argo CD's", { "argocd.argoproj.io/sync-wave": "-2" }, -2],
    ["gitgate's wins", { "gitgate.io/sync-wave": "1", "argocd.argoproj.io/sync-wave": "5" }, 1],
    ["a Helm hook's weight", { "helm.sh/hook": "pre-install", "helm.sh/hook-weight": "-5" }, -5],
    ["weight without a hook", { "helm.sh/hook-weight": "4" }, 0],
    ["not an integer", { "gitgate.io/sync-wave": "1.5" }, /sync-wave: "1.5" is not an integer/],
    ["too long", { "gitgate.io/sync-wave": "1".repeat(12) }, /is not an integer/],
  ];
  for (const [name, annotations, want] of cases)
    it(name, () => {
      if (want instanceof RegExp) assert.throws(() => waveOf(obj("ConfigMap", annotations)), want);
      else assert.equal(waveOf(obj("ConfigMap", annotations)), want);
    });
});

describe("hookOf", () => {
  const cases: Array<[string, Record<string, string>, unknown]> = [
    ["plain resource", {}, undefined],
    [
      "gitgate PreSync",
      { "gitgate.io/hook": "PreSync" },
      { phases: ["PreSync"], deletePolicies: ["BeforeHookCreation"] },
    ],
    [
      "Argo CD, two phases, policies",
      {
        "argocd.argoproj.io/hook": "PreSync, PostSync",
        "argocd.argoproj.io/hook-delete-policy": "HookSucceeded,HookFailed",
      },
      { phases: ["PreSync", "PostSync"], deletePolicies: ["HookSucceeded", "HookFailed"] },
    ],
    ["Argo CD Skip", { "argocd.argoproj.io/hook": "Skip" }, "skip"],
    [
      "Helm pre-install,pre-upgrade",
      { "helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-delete-policy": "hook-succeeded" },
      { phases: ["PreSync"], deletePolicies: ["HookSucceeded"] },
    ],
    [
      "Helm post-upgrade",
      { "helm.sh/hook": "post-upgrade" },
      { phases: ["PostSync"], deletePolicies: ["BeforeHookCreation"] },
    ],
    ["Helm test: skipped", { "helm.sh/hook": "test" }, "skip"],
    ["Helm pre-delete: skipped", { "helm.sh/hook": "pre-delete" }, "skip"],
    ["Helm crd-install: a plain resource", { "helm.sh/hook": "crd-install" }, undefined],
    [
      "gitgate's wins over Helm's",
      { "gitgate.io/hook": "Sync", "helm.sh/hook": "pre-install" },
      { phases: ["Sync"], deletePolicies: ["BeforeHookCreation"] },
    ],
    [
      "unknown phase",
      { "gitgate.io/hook": "Later" },
      /hook: "Later" is not PreSync, Sync, PostSync, SyncFail or Skip/,
    ],
    ["empty phase", { "gitgate.io/hook": " " }, /is not a hook phase/],
    [
      "unknown policy",
      { "gitgate.io/hook": "PreSync", "gitgate.io/hook-delete-policy": "Never" },
      /is not BeforeHookCreation, HookSucceeded or HookFailed/,
    ],
  ];
  for (const [name, annotations, want] of cases)
    it(name, () => {
      if (want instanceof RegExp) assert.throws(() => hookOf(obj("Job", annotations)), want);
      else assert.deepEqual(hookOf(obj("Job", annotations)), want);
    });
});

describe("syncOptionsOf", () => {
  const off = { replace: false, prune: true, pruneLast: false };
  const cases: Array<[string, Record<string, string>, SyncOptions]> = [
    ["defaults", {}, off],
    ["Replace=true", { "gitgate.io/sync-options": "Replace=true" }, { ...off, replace: true }],
    [
      "Argo CD's, two options",
      { "argocd.argoproj.io/sync-options": "Prune=false, Replace=true" },
      { ...off, replace: true, prune: false },
    ],
    ['gitgate.io/prune: "false"', { "gitgate.io/prune": "false" }, { ...off, prune: false }],
    ['gitgate.io/prune: "true"', { "gitgate.io/prune": "true" }, off],
    ["PruneLast=true", { "argocd.argoproj.io/sync-options": "PruneLast=true" }, { ...off, pruneLast: true }],
    ["PruneLast=false", { "gitgate.io/sync-options": "PruneLast=false" }, off],
  ];
  for (const [name, annotations, want] of cases)
    it(name, () => assert.deepEqual(syncOptionsOf(obj("ConfigMap", annotations)), want));
});

describe("planSteps", () => {
  const p = (
    item: string,
    kind: string,
    wave: number,
    phases?: Array<"PreSync" | "Sync" | "PostSync" | "SyncFail">,
  ): Planned<string> => ({
    item,
    kind,
    wave,
    ...(phases ? { hook: { phases, deletePolicies: ["BeforeHookCreation"] } } : {}),
  });
  it("namespaces and CRDs first, then PreSync, Sync and PostSync, each by wave", () => {
    const plan = planSteps([
      p("late", "ConfigMap", 2),
      p("post", "Job", 0, ["PostSync"]),
      p("ns", "Namespace", 5),
      p("early", "ConfigMap", -1),
      p("migrate", "Job", 1, ["PreSync"]),
      p("crd", "CustomResourceDefinition", 0),
      p("plain", "Deployment", 0),
      p("sync-hook", "Job", 0, ["Sync"]),
      p("cleanup", "Job", 0, ["SyncFail"]),
      p("both", "Job", -3, ["PreSync", "PostSync"]),
    ]);
    assert.deepEqual(
      plan.steps.map((s) => `${s.label}: ${[...s.resources, ...s.hooks].join(",")}`),
      [
        "namespaces and CRDs: ns,crd",
        "PreSync wave -3: both",
        "PreSync wave 1: migrate",
        "wave -1: early",
        "wave 0: plain,sync-hook",
        "wave 2: late",
        "PostSync wave -3: both",
        "PostSync wave 0: post",
      ],
    );
    assert.deepEqual(plan.syncFail, ["cleanup"]);
  });
  it("a render without annotations is one wave after namespaces and CRDs", () => {
    assert.deepEqual(
      planSteps([p("a", "ConfigMap", 0), p("n", "Namespace", 0)]).steps.map((s) => s.label),
      ["namespaces and CRDs", "wave 0"],
    );
    assert.deepEqual(planSteps([]).steps, []);
  });
});

describe("sync operation", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  it("continues the operation of the same revision and generation, else starts one", () => {
    const op: SyncOperation = { revision: "abc", generation: 2, phase: "Failed", startedAt: "t", hooks: [] };
    assert.equal(currentOperation(op, "abc", 2, now).phase, "Failed");
    assert.equal(currentOperation(op, "def", 2, now).phase, "Running");
    assert.equal(currentOperation(op, "abc", 3, now).phase, "Running");
    assert.equal(currentOperation(undefined, "abc", 1, now).startedAt, now.toISOString());
    assert.equal(currentOperation(op, "def", 2, now, true).recovering, true, "started after a failure");
    assert.equal(currentOperation(op, "def", 2, now).recovering, undefined);
  });
  it("hook states from health; delete policies", () => {
    assert.equal(hookState({ status: "Healthy" }), "Succeeded");
    assert.equal(hookState({ status: "Unknown" }), "Succeeded");
    assert.equal(hookState({ status: "Progressing" }), "Running");
    assert.equal(hookState({ status: "Degraded" }), "Failed");
    assert.equal(deleteWhenDone(["HookSucceeded"], "Succeeded"), true);
    assert.equal(deleteWhenDone(["HookSucceeded"], "Failed"), false);
    assert.equal(deleteWhenDone(["HookFailed"], "Failed"), true);
    assert.equal(deleteWhenDone(["BeforeHookCreation"], "Succeeded"), false);
    assert.equal(deleteWhenDone(["HookSucceeded", "HookFailed"], "Running"), false);
  });
  it("a wait keeps its start while at the same step; the timeout counts from it", () => {
    const op: SyncOperation = { revision: "a", phase: "Running", startedAt: "t" };
    waitAt(op, "wave 1", "waits", now);
    waitAt(op, "wave 1", "still", new Date(now.getTime() + 5_000));
    assert.equal(op.waitingSince, now.toISOString());
    assert.equal(timedOut(op, 10_000, new Date(now.getTime() + 9_000)), false);
    assert.equal(timedOut(op, 10_000, new Date(now.getTime() + 11_000)), true);
    waitAt(op, "wave 2", "next", new Date(now.getTime() + 11_000));
    assert.equal(
      timedOut(op, 10_000, new Date(now.getTime() + 12_000)),
      false,
      "a new step starts its own clock",
    );
    finish(op, "Failed", now, "SyncTimeout", "too slow");
    assert.deepEqual(
      [op.phase, op.reason, op.message, op.waitingSince],
      ["Failed", "SyncTimeout", "too slow", undefined],
    );
  });
  it("the status merge patch clears what the new operation lacks", () => {
    const op: SyncOperation = { revision: "a", phase: "Running", startedAt: "t", hooks: [] };
    assert.deepEqual(operationPatch(op), {
      ...op,
      generation: null,
      finishedAt: null,
      step: null,
      waitingSince: null,
      reason: null,
      message: null,
      recovering: null,
    });
    assert.equal(operationPatch(undefined), undefined);
  });
  it("a generateName hook is created without a name", () => {
    const op: SyncOperation = { revision: "a", phase: "Running", startedAt: "t", hooks: [] };
    const hook = hookObject(
      { apiVersion: "batch/v1", kind: "Job", metadata: { name: "", generateName: "m-" } },
      op,
    );
    assert.equal(hook.metadata.name, undefined);
    assert.equal(hookObject(obj("Job", {}, "fixed"), op).metadata.name, "fixed");
  });
  it("a hook's object names its operation; only that operation's object is followed again", () => {
    const op: SyncOperation = { revision: "c0ffee", generation: 3, phase: "Running", startedAt: "t" };
    const made = hookObject(obj("Job", { keep: "yes" }, "migrate"), op);
    assert.equal(made.metadata.annotations?.[HOOK_OPERATION_ANNOTATION], "c0ffee/3");
    assert.equal(made.metadata.annotations?.keep, "yes", "the hook's own annotations stay");
    const cases: Array<[string, Pick<SyncOperation, "revision" | "generation">, boolean]> = [
      ["the same operation (its status record lost)", { revision: "c0ffee", generation: 3 }, true],
      ["a new commit", { revision: "beef", generation: 3 }, false],
      ["a new spec generation", { revision: "c0ffee", generation: 4 }, false],
    ];
    for (const [name, other, expected] of cases)
      assert.equal(createdBy(made, { ...op, ...other }), expected, name);
    assert.equal(createdBy(obj("Job", {}, "migrate"), op), false, "an unmarked object (older gitgate)");
  });
});

describe("withLiveIgnored", () => {
  const rules = [
    { kind: "Deployment", jsonPointers: ["/spec/replicas", "/spec/template/metadata/annotations/x"] },
  ];
  const desired: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "a" },
    spec: { replicas: 1, paused: false, template: { metadata: { annotations: { x: "git", y: "1" } } } },
  };
  it("takes ignored fields from the live object", () => {
    const live = structuredClone(desired);
    (live.spec as { replicas: number }).replicas = 5;
    (
      live.spec as { template: { metadata: { annotations: Record<string, string> } } }
    ).template.metadata.annotations.x = "live";
    const out = withLiveIgnored(desired, live, rules);
    assert.deepEqual(out.spec, {
      replicas: 5,
      paused: false,
      template: { metadata: { annotations: { x: "live", y: "1" } } },
    });
    assert.equal((desired.spec as { replicas: number }).replicas, 1, "input not mutated");
  });
  it("leaves out what the live object does not have; other kinds untouched", () => {
    const live: KubeObject = { ...desired, spec: { paused: false } };
    assert.deepEqual(withLiveIgnored(desired, live, rules).spec, {
      paused: false,
      template: { metadata: { annotations: { y: "1" } } },
    });
    const cmap: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { a: "1" },
    };
    assert.equal(withLiveIgnored(cmap, cmap, rules), cmap);
  });
});

describe("cascade finalizer", () => {
  const gitapp = (policy?: "Orphan" | "Delete", finalizers?: string[]): GitApp => ({
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name: "a", namespace: "d", resourceVersion: "7", ...(finalizers ? { finalizers } : {}) },
    spec: { source: { repoURL: "https://r" }, ...(policy ? { sync: { deletionPolicy: policy } } : {}) },
  });
  it("Delete puts it on, Orphan takes it off, no policy leaves it as set by hand", () => {
    assert.equal(finalizerWanted(gitapp("Delete")), true);
    assert.equal(finalizerWanted(gitapp("Orphan", ["gitgate.io/cascade-delete"])), false);
    assert.equal(finalizerWanted(gitapp(undefined, ["gitgate.io/cascade-delete"])), undefined);
    assert.deepEqual(finalizerPatch(gitapp("Delete", ["other"]), true), [
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "add", path: "/metadata/finalizers", value: ["other", "gitgate.io/cascade-delete"] },
    ]);
    assert.equal(finalizerPatch(gitapp("Delete", ["gitgate.io/cascade-delete"]), true), undefined);
    assert.deepEqual(finalizerPatch(gitapp("Orphan", ["gitgate.io/cascade-delete", "o"]), false)?.[1], {
      op: "add",
      path: "/metadata/finalizers",
      value: ["o"],
    });
  });
});
