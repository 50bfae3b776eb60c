import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { DesiredEntry } from "../manifest/desired.js";
import type { HealthStatus } from "./health.js";
import { worstReason } from "./health-reason.js";

const entry = (kind: string, name: string, namespace?: string): DesiredEntry =>
  ({ ref: { kind, name, namespace } }) as unknown as DesiredEntry;

describe("worstReason", () => {
  const desired = [
    entry("ConfigMap", "cfg", "web"),
    entry("Deployment", "api", "web"),
    entry("Namespace", "web"),
  ];
  const cases: Array<
    [string, Array<{ status: HealthStatus; message?: string }>, HealthStatus, string | undefined]
  > = [
    [
      "healthy app: no reason",
      [{ status: "Healthy" }, { status: "Healthy" }, { status: "Healthy" }],
      "Healthy",
      undefined,
    ],
    [
      "the degraded object, named, with its message",
      [
        { status: "Healthy" },
        { status: "Degraded", message: 'ReplicaSet "api-1" has timed out progressing.' },
        { status: "Healthy" },
      ],
      "Degraded",
      'Deployment web/api is degraded: ReplicaSet "api-1" has timed out progressing.',
    ],
    [
      "the first object at the app's health, without a message",
      [{ status: "Progressing" }, { status: "Progressing", message: "1 of 2 ready" }, { status: "Healthy" }],
      "Progressing",
      "ConfigMap web/cfg is progressing",
    ],
    [
      "cluster-scoped object",
      [{ status: "Healthy" }, { status: "Healthy" }, { status: "Degraded" }],
      "Degraded",
      "Namespace web is degraded",
    ],
    [
      "no object at that health: no reason",
      [{ status: "Healthy" }, { status: "Healthy" }, { status: "Healthy" }],
      "Degraded",
      undefined,
    ],
  ];
  for (const [name, healths, app, want] of cases) {
    it(name, () => assert.equal(worstReason(desired, healths, app), want));
  }
});
