import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IgnoreRule } from "../manifest/desired.js";
import type { KubeObject, ManagedFieldsEntry } from "../manifest/object.js";
import { undeclaredRules } from "./allowed.js";
import { takeOver, undeclaredAdditions } from "./managed-fields.js";

const git: KubeObject = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web", namespace: "shop", labels: { "gitgate.io/app": "x.shop" } },
  spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 80, protocol: "TCP" }] },
};

/** gitgate's Apply entry for `git`, as the API server records it. */
const GITGATE: ManagedFieldsEntry = {
  manager: "gitgate",
  operation: "Apply",
  apiVersion: "v1",
  fieldsType: "FieldsV1",
  fieldsV1: {
    "f:metadata": { "f:labels": { "f:gitgate.io/app": {} } },
    "f:spec": {
      "f:selector": { "f:app": {} },
      "f:ports": {
        'k:{"port":80,"protocol":"TCP"}': { ".": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {} },
      },
    },
  },
};

function live(
  spec: Record<string, unknown>,
  managers: ManagedFieldsEntry[],
  annotations?: Record<string, string>,
): KubeObject {
  return {
    ...git,
    metadata: {
      ...git.metadata,
      resourceVersion: "7",
      ...(annotations ? { annotations } : {}),
      managedFields: [GITGATE, ...managers],
    },
    spec: {
      clusterIP: "10.0.0.12",
      clusterIPs: ["10.0.0.12"],
      sessionAffinity: "None",
      type: "ClusterIP",
      ...(git.spec as Record<string, unknown>),
      ...spec,
    },
  };
}

const update = (manager: string, fieldsV1: Record<string, unknown>): ManagedFieldsEntry => ({
  manager,
  operation: "Update",
  apiVersion: "v1",
  fieldsType: "FieldsV1",
  fieldsV1,
});

interface Row {
  name: string;
  obj: KubeObject;
  rules?: IgnoreRule[];
  want: Array<[path: string, value: unknown, manager: string]>;
}

const rows: Row[] = [
  {
    name: "no foreign manager: nothing",
    obj: live({}, []),
    want: [],
  },
  {
    name: "a field kubectl patch added",
    obj: live({ sessionAffinity: "ClientIP" }, [
      update("kubectl-patch", { "f:spec": { "f:sessionAffinity": {} } }),
    ]),
    want: [["spec.sessionAffinity", "ClientIP", "kubectl-patch"]],
  },
  {
    name: "a controller's field is trusted",
    obj: live({ sessionAffinity: "ClientIP" }, [
      update("kube-controller-manager", { "f:spec": { "f:sessionAffinity": {} } }),
    ]),
    want: [],
  },
  {
    name: "a field shared with a trusted manager is left",
    obj: live({ sessionAffinity: "ClientIP" }, [
      update("kube-controller-manager", { "f:spec": { "f:sessionAffinity": {} } }),
      update("kubectl-edit", { "f:spec": { "f:sessionAffinity": {} } }),
    ]),
    want: [],
  },
  {
    name: "a declared field owned by kubectl too is gitgate's to apply, not an addition",
    obj: live({}, [update("kubectl-client-side-apply", { "f:spec": { "f:selector": { "f:app": {} } } })]),
    want: [],
  },
  {
    name: "kubectl create's defaults and allocated values: clusterIP is never removed",
    obj: live({}, [
      update("kubectl-create", { "f:spec": { "f:clusterIP": {}, "f:clusterIPs": {}, "f:type": {} } }),
    ]),
    want: [["spec.type", "ClusterIP", "kubectl-create"]],
  },
  {
    name: "a port item added by another manager, by its key",
    obj: live(
      {
        ports: [
          { port: 80, targetPort: 80, protocol: "TCP" },
          { port: 9090, protocol: "TCP" },
        ],
      },
      [
        update("ops-script", {
          "f:spec": {
            "f:ports": { 'k:{"port":9090,"protocol":"TCP"}': { ".": {}, "f:port": {}, "f:protocol": {} } },
          },
        }),
      ],
    ),
    want: [["spec.ports[port=9090]", { port: 9090, protocol: "TCP" }, "ops-script"]],
  },
  {
    name: "a note annotation is allowed; gitgate's own key is not",
    obj: live(
      {},
      [
        update("kubectl-annotate", {
          "f:metadata": { "f:annotations": { ".": {}, "f:note": {}, "f:gitgate.io/prune": {} } },
        }),
      ],
      { note: "x", "gitgate.io/prune": "false" },
    ),
    want: [["metadata.annotations[gitgate.io/prune]", "false", "kubectl-annotate"]],
  },
  {
    name: "ignoreDifferences covers the field",
    obj: live({ sessionAffinity: "ClientIP" }, [
      update("kubectl-patch", { "f:spec": { "f:sessionAffinity": {} } }),
    ]),
    rules: [{ kind: "Service", jsonPointers: ["/spec/sessionAffinity"] }],
    want: [],
  },
  {
    name: "stale bookkeeping (the field is gone) is skipped",
    obj: live({}, [update("kubectl-patch", { "f:spec": { "f:externalName": {} } })]),
    want: [],
  },
  {
    name: "a status writer is not judged",
    obj: {
      ...live({}, [update("some-controller", { "f:status": { "f:loadBalancer": {} } })]),
      status: { loadBalancer: {} },
    },
    want: [],
  },
];

void describe("undeclaredAdditions", () => {
  for (const row of rows) {
    void it(row.name, () => {
      const out = undeclaredAdditions(git, row.obj, undeclaredRules(row.rules ?? []));
      assert.deepEqual(
        out.map((a) => [a.path, a.liveValue, a.manager]),
        row.want,
      );
    });
  }

  void it("a Secret's added key is reported redacted", () => {
    const secret: KubeObject = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s" },
      data: { a: "YQ==" },
    };
    const obj: KubeObject = {
      ...secret,
      metadata: { name: "s", managedFields: [update("kubectl-patch", { "f:data": { "f:b": {} } })] },
      data: { a: "YQ==", b: "c2VjcmV0" },
    };
    assert.deepEqual(
      undeclaredAdditions(secret, obj, undeclaredRules([])).map((a) => [a.path, a.liveValue]),
      [["data.b", "<redacted>"]],
    );
  });
});

void describe("takeOver", () => {
  const obj = live({ sessionAffinity: "ClientIP" }, [
    update("kubectl-patch", { "f:spec": { "f:sessionAffinity": {} } }),
    update("kube-controller-manager", { "f:metadata": { "f:annotations": { "f:x": {} } } }),
  ]);
  const additions = undeclaredAdditions(git, obj, undeclaredRules([]));
  const now = new Date("2026-11-30T12:00:00.123Z");

  void it("moves the additions into gitgate's Apply entry and drops the foreign entry", () => {
    const entries = takeOver(obj, additions, "v1", now);
    assert.deepEqual(
      entries.map((e) => [e.manager, e.operation]),
      [
        ["gitgate", "Apply"],
        ["kube-controller-manager", "Update"],
      ],
    );
    const spec = (entries[0]?.fieldsV1 as Record<string, Record<string, unknown>>)["f:spec"];
    assert.deepEqual(Object.keys(spec ?? {}).sort(), ["f:ports", "f:selector", "f:sessionAffinity"]);
    assert.equal(entries[0]?.time, "2026-11-30T12:00:00Z");
    // The input is not modified.
    assert.equal(obj.metadata.managedFields?.length, 3);
    assert.equal(
      ((GITGATE.fieldsV1 as Record<string, Record<string, unknown>>)["f:spec"] ?? {})["f:sessionAffinity"],
      undefined,
    );
  });

  void it("creates gitgate's entry for an object it never applied", () => {
    const adopted: KubeObject = {
      ...obj,
      metadata: { ...obj.metadata, managedFields: obj.metadata.managedFields?.slice(1) },
    };
    const entries = takeOver(adopted, undeclaredAdditions(git, adopted, undeclaredRules([])), "v1", now);
    assert.deepEqual(entries[0], {
      manager: "gitgate",
      operation: "Apply",
      apiVersion: "v1",
      fieldsType: "FieldsV1",
      time: "2026-11-30T12:00:00Z",
      fieldsV1: { "f:spec": { "f:sessionAffinity": {} } },
    });
  });
});
