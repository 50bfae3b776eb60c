import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { withApplyDefaults } from "./defaults.js";
import type { KubeObject } from "./object.js";

const podSpec = {
  containers: [{ name: "a", ports: [{ containerPort: 80 }, { containerPort: 53, protocol: "UDP" }] }],
  initContainers: [{ name: "i", ports: [{ containerPort: 1 }] }],
};
const protocols = (spec: {
  containers: Array<{ ports: Array<{ protocol?: string }> }>;
  initContainers: Array<{ ports: Array<{ protocol?: string }> }>;
}): string[] =>
  [...spec.containers, ...spec.initContainers].flatMap((c) => c.ports.map((p) => p.protocol ?? "-"));

describe("withApplyDefaults", () => {
  const cases: Array<[string, KubeObject, (o: KubeObject) => unknown, unknown]> = [
    [
      "Service ports",
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "s" },
        spec: { ports: [{ port: 80 }, { port: 53, protocol: "UDP" }] },
      },
      (o) => (o.spec as { ports: Array<{ protocol: string }> }).ports.map((p) => p.protocol),
      ["TCP", "UDP"],
    ],
    [
      "Deployment template",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "d" },
        spec: { template: { spec: structuredClone(podSpec) } },
      },
      (o) => protocols((o.spec as { template: { spec: never } }).template.spec),
      ["TCP", "UDP", "TCP"],
    ],
    [
      "Pod",
      { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: structuredClone(podSpec) },
      (o) => protocols(o.spec as never),
      ["TCP", "UDP", "TCP"],
    ],
    [
      "CronJob",
      {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: "c" },
        spec: { jobTemplate: { spec: { template: { spec: structuredClone(podSpec) } } } },
      },
      (o) =>
        protocols(
          (o.spec as { jobTemplate: { spec: { template: { spec: never } } } }).jobTemplate.spec.template.spec,
        ),
      ["TCP", "UDP", "TCP"],
    ],
    [
      "ConfigMap untouched",
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { ports: "80" } },
      (o) => o.data,
      { ports: "80" },
    ],
    [
      "Service without ports",
      { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { type: "ExternalName" } },
      (o) => o.spec,
      { type: "ExternalName" },
    ],
  ];
  for (const [name, input, read, want] of cases) {
    it(name, () => {
      const before = JSON.stringify(input);
      assert.deepEqual(read(withApplyDefaults(input)), want);
      assert.equal(JSON.stringify(input), before, "input not mutated");
    });
  }
});
