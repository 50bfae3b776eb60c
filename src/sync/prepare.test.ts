import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DesiredEntry } from "../manifest/desired.js";
import { keyOf, refOf, type KubeObject } from "../manifest/object.js";
import { markAutoscaled } from "./prepare.js";

function entry(object: KubeObject): DesiredEntry {
  const ref = refOf(object);
  return {
    key: keyOf(ref),
    ref,
    object,
    app: { namespace: "gitgate-system", name: "shop" },
    source: {
      repoURL: "https://git.example/x.git",
      path: "shop",
      file: "shop/x.yaml",
      commit: "c".repeat(40),
    },
    mode: "enforce",
    ignore: [],
  };
}

const deployment = (name: string, namespace = "shop"): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace },
});
const hpa = (
  name: string,
  target: Record<string, unknown>,
  apiVersion = "autoscaling/v2beta2",
): KubeObject => ({
  apiVersion,
  kind: "HorizontalPodAutoscaler",
  metadata: { name, namespace: "shop" },
  spec: { scaleTargetRef: target, minReplicas: 1, maxReplicas: 3 },
});

void describe("markAutoscaled", () => {
  const rows: Array<[string, KubeObject[], Record<string, string | undefined>]> = [
    [
      "an HPA marks the Deployment it targets",
      [deployment("web"), hpa("web-hpa", { apiVersion: "apps/v1", kind: "Deployment", name: "web" })],
      { web: "shop/web-hpa" },
    ],
    [
      "autoscaling/v1 too; a Deployment no HPA targets stays unmarked",
      [deployment("web"), deployment("api"), hpa("h", { kind: "Deployment", name: "api" }, "autoscaling/v1")],
      { web: undefined, api: "shop/h" },
    ],
    [
      "another kind or another namespace is not the target",
      [deployment("web"), deployment("web", "other"), hpa("h", { kind: "StatefulSet", name: "web" })],
      { web: undefined },
    ],
    [
      "a target missing its name is skipped",
      [deployment("web"), hpa("h", { kind: "Deployment" })],
      { web: undefined },
    ],
  ];
  for (const [name, objects, want] of rows) {
    void it(name, () => {
      const entries = objects.map(entry);
      markAutoscaled(entries);
      for (const [deploymentName, autoscaler] of Object.entries(want)) {
        const found = entries.find(
          (e) => e.ref.kind === "Deployment" && e.ref.name === deploymentName && e.ref.namespace === "shop",
        );
        assert.equal(found?.autoscaler, autoscaler, deploymentName);
      }
    });
  }
});
