import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { effectiveSpec, type GitApp, type GitAppStatus } from "../api/gitapp.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { objectKey, refOf, type KubeObject } from "../manifest/object.js";
import { healthUpdate } from "./health-refresh.js";
import { composeOutcome } from "./outcome.js";
import type { ReconcileContext } from "./reconcile.js";

const deployment = (available: number, conditions: unknown[] = []): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop", generation: 1 },
  spec: { replicas: 1 },
  status: {
    observedGeneration: 1,
    replicas: 1,
    updatedReplicas: 1,
    availableReplicas: available,
    conditions,
  },
});
const stuck = deployment(0, [
  { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: "timed out" },
]);

const entry = (obj: KubeObject): DesiredEntry => ({
  key: objectKey(obj),
  ref: refOf(obj),
  object: obj,
  app: { namespace: "apps", name: "shop" },
  source: {
    repoURL: "https://git.example/shop.git",
    path: "deploy",
    file: "deploy/web.yaml",
    commit: "a".repeat(40),
  },
  mode: "enforce",
  ignore: [],
});

const app = (status: GitAppStatus): GitApp => ({
  apiVersion: "gitgate.io/v1alpha1",
  kind: "GitApp",
  metadata: { name: "shop", namespace: "apps", generation: 1 },
  spec: { source: { repoURL: "https://git.example/shop.git", path: "deploy" } },
  status,
});

const synced = {
  type: "Synced" as const,
  status: "True" as const,
  reason: "Synced",
  message: "",
  lastTransitionTime: "2026-11-30T10:00:00Z",
};
const liveOf = (
  obj: KubeObject | undefined,
  watched = true,
): { get: () => KubeObject | undefined; watches: () => boolean } => ({
  get: () => obj,
  watches: () => watched,
});
const now = new Date("2026-11-30T12:00:00Z");

describe("healthUpdate (between syncs)", () => {
  const desired = [entry(deployment(1))];
  const readyTrue = {
    ...synced,
    type: "Ready" as const,
    reason: "Healthy",
    message: "all objects are healthy",
  };
  it("message-only change: written, flagged for pacing", () => {
    const got = healthUpdate(
      app({ health: "Healthy", conditions: [synced] }),
      desired,
      liveOf(deployment(1)),
      now,
    );
    assert.equal(got?.levelChanged, false);
    assert.equal(got?.alert, undefined);
  });
  it("nothing to write while health and message stay", () =>
    assert.equal(
      healthUpdate(
        app({ health: "Healthy", conditions: [readyTrue, synced] }),
        desired,
        liveOf(deployment(1)),
        now,
      ),
      undefined,
    ));

  it("Healthy → Degraded: Ready False naming the object, degradedSince, one alert", () => {
    const got = healthUpdate(
      app({ health: "Healthy", revision: "b".repeat(40), conditions: [synced] }),
      desired,
      liveOf(stuck),
      now,
    );
    assert.ok(got);
    assert.equal(got.status.health, "Degraded");
    assert.equal(got.status.degradedSince, now.toISOString());
    const ready = got.status.conditions?.find((c) => c.type === "Ready");
    assert.deepEqual(
      [ready?.status, ready?.reason, ready?.message],
      ["False", "Degraded", "Degraded: Deployment shop/web: timed out"],
    );
    assert.equal(got.alert?.type, "health-degraded");
    assert.equal(got.alert?.detail, "Degraded: Deployment shop/web: timed out");
    assert.equal(got.alert?.source?.commit, "b".repeat(40));
  });

  it("Degraded → Healthy: recovered, degradedSince cleared with null", () => {
    const got = healthUpdate(
      app({ health: "Degraded", degradedSince: "2026-11-30T11:00:00Z", conditions: [synced] }),
      desired,
      liveOf(deployment(1)),
      now,
    );
    assert.equal(got?.status.degradedSince, null);
    assert.equal(got?.alert?.type, "health-recovered");
    assert.equal(got?.status.conditions?.find((c) => c.type === "Ready")?.status, "True");
  });

  it("a deleted object is Missing; a kind not watched yet is Unknown", () => {
    assert.equal(
      healthUpdate(app({ health: "Healthy", conditions: [synced] }), desired, liveOf(undefined), now)?.status
        .health,
      "Missing",
    );
    assert.equal(
      healthUpdate(
        app({ health: "Healthy", conditions: [readyTrue, synced] }),
        desired,
        liveOf(undefined, false),
        now,
      ),
      undefined,
    );
  });

  it("leaves Ready alone when the last sync failed", () => {
    const failed = { ...synced, status: "False" as const, reason: "RenderFailed" };
    const ready = { ...synced, type: "Ready" as const, status: "False" as const, reason: "RenderFailed" };
    const got = healthUpdate(
      app({ health: "Healthy", conditions: [ready, failed] }),
      desired,
      liveOf(stuck),
      now,
    );
    assert.equal(got?.status.health, "Degraded");
    assert.deepEqual(got?.status.conditions, [ready, failed]);
  });
});

describe("composeOutcome: health and sync alerts", () => {
  const ctx = (
    status: GitAppStatus,
    health: ReconcileContext["health"],
    commit = "c".repeat(40),
  ): ReconcileContext => {
    const a = app(status);
    return {
      app: a,
      spec: effectiveSpec(a, "enforce"),
      role: "leader",
      commit,
      desired: [entry(deployment(1))],
      inventory: [],
      drift: [],
      appliedCount: 1,
      pruned: [],
      conflicts: [],
      hooks: [],
      skipped: 0,
      kept: [],
      pruneDeferred: [],
      completed: ["fetch", "render", "index", "apply", "prune", "health"],
      stepMs: {},
      health,
      healthMessage:
        health === "Healthy" ? "all objects are healthy" : `${health}: Deployment shop/web: timed out`,
    };
  };
  const types = (o: ReturnType<typeof composeOutcome>): string[] => o.alerts.map((a) => a.type);

  it("a new revision: sync-succeeded (opt-in on channels)", () =>
    assert.deepEqual(types(composeOutcome(ctx({ revision: "b".repeat(40) }, "Healthy"), now)), [
      "sync-succeeded",
    ]));
  it("the same revision again: nothing", () =>
    assert.deepEqual(
      types(composeOutcome(ctx({ revision: "c".repeat(40), health: "Healthy" }, "Healthy"), now)),
      [],
    ));
  it("degraded by a sync: health-degraded with the object's message, Ready names it", () => {
    const o = composeOutcome(ctx({ revision: "c".repeat(40), health: "Healthy" }, "Degraded"), now);
    assert.deepEqual(types(o), ["health-degraded"]);
    assert.equal(o.alerts[0]?.detail, "Degraded: Deployment shop/web: timed out");
    assert.equal(
      o.status.conditions?.find((c) => c.type === "Ready")?.message,
      "Degraded: Deployment shop/web: timed out",
    );
  });
  it("a fix commit: synced and recovered", () => {
    const o = composeOutcome(
      ctx({ revision: "b".repeat(40), health: "Degraded", degradedSince: "x" }, "Healthy"),
      now,
    );
    assert.deepEqual(types(o), ["health-recovered", "sync-succeeded"]);
    assert.equal(o.status.degradedSince, null);
  });
});
