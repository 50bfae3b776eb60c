import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { KubeObject } from "../manifest/object.js";
import { slim } from "./owned.js";
import { ownedTree } from "./tree.js";

const obj = (kind: string, name: string, uid: string, owners: string[] = []): KubeObject => ({
  apiVersion: kind === "Pod" ? "v1" : kind === "Job" ? "batch/v1" : "apps/v1",
  kind,
  metadata: {
    name,
    namespace: "web",
    uid,
    ownerReferences: owners.map((o) => ({ apiVersion: "apps/v1", kind: "X", name: o, uid: o })),
  },
  status: kind === "Pod" ? { phase: "Pending" } : {},
});
const root = { key: "apps/Deployment/web/web", uid: "d1" };
const shape = (t: ReturnType<typeof ownedTree>): string[] =>
  [...t.rows.entries()].flatMap(([k, rows]) =>
    rows.map((r) => `${k} ${r.depth}:${r.kind}/${r.name}<${r.owner}`),
  );

describe("dashboard: object tree (owner → owned)", () => {
  const limits = { maxPerOwner: 2, maxTotal: 4, maxDepth: 2 };
  const cases: Array<{
    name: string;
    roots: Array<{ key: string; uid?: string }>;
    objects: KubeObject[];
    rows: string[];
    hidden: number;
  }> = [
    {
      name: "Deployment → ReplicaSet → Pods, depth first, sorted",
      roots: [root],
      objects: [
        obj("Pod", "web-b", "p2", ["r1"]),
        obj("ReplicaSet", "web-1", "r1", ["d1"]),
        obj("Pod", "web-a", "p1", ["r1"]),
      ],
      rows: [
        "apps/Deployment/web/web 1:ReplicaSet/web-1<apps/Deployment/web/web",
        "apps/Deployment/web/web 2:Pod/web-a<apps/ReplicaSet/web/web-1",
        "apps/Deployment/web/web 2:Pod/web-b<apps/ReplicaSet/web/web-1",
      ],
      hidden: 0,
    },
    {
      name: "objects not owned by the app are not shown",
      roots: [root],
      objects: [obj("Pod", "other", "p9", ["zz"]), obj("Pod", "loose", "p8")],
      rows: [],
      hidden: 0,
    },
    {
      name: "a root without a live uid has no children",
      roots: [{ key: "apps/Deployment/web/web" }],
      objects: [obj("ReplicaSet", "web-1", "r1", ["d1"])],
      rows: [],
      hidden: 0,
    },
    {
      name: "per-owner bound: the rest counted as hidden",
      roots: [root],
      objects: ["a", "b", "c"].map((n) => obj("ReplicaSet", n, `r-${n}`, ["d1"])),
      rows: [
        "apps/Deployment/web/web 1:ReplicaSet/a<apps/Deployment/web/web",
        "apps/Deployment/web/web 1:ReplicaSet/b<apps/Deployment/web/web",
      ],
      hidden: 1,
    },
    {
      name: "depth bound",
      roots: [root],
      objects: [
        obj("ReplicaSet", "r", "r1", ["d1"]),
        obj("Pod", "p", "p1", ["r1"]),
        obj("Pod", "q", "p2", ["p1"]),
      ],
      rows: [
        "apps/Deployment/web/web 1:ReplicaSet/r<apps/Deployment/web/web",
        "apps/Deployment/web/web 2:Pod/p<apps/ReplicaSet/web/r",
      ],
      hidden: 1,
    },
    {
      name: "an ownership cycle (forged references) ends",
      roots: [root],
      objects: [obj("ReplicaSet", "r", "r1", ["d1", "p1"]), obj("Pod", "p", "p1", ["r1"])],
      rows: [
        "apps/Deployment/web/web 1:ReplicaSet/r<apps/Deployment/web/web",
        "apps/Deployment/web/web 2:Pod/p<apps/ReplicaSet/web/r",
      ],
      hidden: 0,
    },
    {
      name: "total bound across roots",
      roots: [root, { key: "batch/Job/web/j", uid: "j1" }],
      objects: [
        ...["a", "b"].map((n) => obj("ReplicaSet", n, `r-${n}`, ["d1"])),
        ...["c", "d", "e"].map((n) => obj("Pod", n, `p-${n}`, ["j1"])),
      ],
      rows: [
        "apps/Deployment/web/web 1:ReplicaSet/a<apps/Deployment/web/web",
        "apps/Deployment/web/web 1:ReplicaSet/b<apps/Deployment/web/web",
        "batch/Job/web/j 1:Pod/c<batch/Job/web/j",
        "batch/Job/web/j 1:Pod/d<batch/Job/web/j",
      ],
      hidden: 1,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const tree = ownedTree(c.roots, c.objects, limits);
      assert.deepEqual(shape(tree), c.rows);
      assert.equal(tree.hidden, c.hidden);
    });

  it("shows the health of owned objects", () => {
    const tree = ownedTree([root], [obj("Pod", "p", "p1", ["d1"])], limits);
    assert.equal(tree.rows.get(root.key)?.[0]?.health, "Progressing");
  });

  it("keeps of a listed Pod no spec beyond restartPolicy (env values stay out of the cache)", () => {
    const pod = slim(
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p", uid: "u", annotations: { a: "b" }, managedFields: [{}] },
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "c", env: [{ name: "PASSWORD", value: "x" }] }],
        },
        status: { phase: "Running" },
      },
      "v1",
      "Pod",
    );
    assert.deepEqual(pod.spec, { restartPolicy: "Never" });
    assert.ok(!JSON.stringify(pod).includes("PASSWORD"));
    assert.ok(!JSON.stringify(pod).includes("managedFields"));
  });
});
