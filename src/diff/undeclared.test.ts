import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IgnoreRule } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import { undeclaredRules } from "./allowed.js";
import { diffUndeclared } from "./undeclared.js";

interface Container {
  name: string;
  image?: string;
  ports?: Array<Record<string, unknown>>;
  env?: unknown[];
  securityContext?: unknown;
  resources?: unknown;
  imagePullPolicy?: string;
  terminationMessagePath?: string;
}
/** The Deployment's shape, as far as the rows edit it. */
interface Json {
  metadata: {
    labels: Record<string, string>;
    annotations: Record<string, string>;
    [field: string]: unknown;
  };
  spec: {
    progressDeadlineSeconds?: number;
    strategy?: unknown;
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: { containers: Container[]; volumes?: unknown[]; [field: string]: unknown };
    };
  };
  status: Record<string, unknown>;
}

const git: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "web",
    namespace: "shop",
    labels: { app: "web", "gitgate.io/app": "gitgate-system.shop" },
    annotations: { "gitgate.io/commit": "a".repeat(40) },
  },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web" } },
      spec: { containers: [{ name: "web", image: "nginx:1.25", ports: [{ containerPort: 80 }] }] },
    },
  },
};

/** The live object as the API server keeps it: Git's fields plus defaults and server fields. */
function live(): Json {
  const obj = structuredClone(git) as unknown as Json;
  obj.metadata.uid = "u-1";
  obj.metadata.resourceVersion = "100";
  obj.metadata.annotations["deployment.kubernetes.io/revision"] = "1";
  obj.spec.strategy = { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } };
  obj.spec.progressDeadlineSeconds = 600;
  const pod = obj.spec.template.spec;
  pod.restartPolicy = "Always";
  pod.dnsPolicy = "ClusterFirst";
  const web = pod.containers[0] as Container;
  web.imagePullPolicy = "IfNotPresent";
  (web.ports?.[0] as Record<string, unknown>).protocol = "TCP";
  web.terminationMessagePath = "/dev/termination-log";
  obj.status = { replicas: 2, readyReplicas: 2 };
  return obj;
}

function first(o: Json): Container {
  return o.spec.template.spec.containers[0] as Container;
}

function changed(edit: (o: Json) => void): Json {
  const obj = live();
  edit(obj);
  return obj;
}

interface Row {
  name: string;
  edit: (o: Json) => void;
  ignore?: IgnoreRule[];
  allowed?: IgnoreRule[];
  /** [path, requested value] of each reported change, in order. */
  want: Array<[string, unknown]>;
}

const sidecar = { name: "sidecar", image: "evil:1", securityContext: { privileged: true } };

const rows: Row[] = [
  {
    name: "a container added by a patch is one change, named by its key",
    edit: (o) => o.spec.template.spec.containers.push(sidecar),
    want: [["spec.template.spec.containers[name=sidecar]", sidecar]],
  },
  {
    name: "hostNetwork set",
    edit: (o) => (o.spec.template.spec.hostNetwork = true),
    want: [["spec.template.spec.hostNetwork", true]],
  },
  {
    name: "an env var added to a container Git declares",
    edit: (o) => (first(o).env = [{ name: "DEBUG", value: "1" }]),
    want: [["spec.template.spec.containers[name=web].env", [{ name: "DEBUG", value: "1" }]]],
  },
  {
    name: "a securityContext field inside a declared container",
    edit: (o) => (first(o).securityContext = { privileged: true }),
    want: [["spec.template.spec.containers[name=web].securityContext", { privileged: true }]],
  },
  {
    name: "a service account and a hostPath volume",
    edit: (o) => {
      o.spec.template.spec.serviceAccountName = "admin";
      o.spec.template.spec.volumes = [{ name: "root", hostPath: { path: "/" } }];
    },
    want: [
      ["spec.template.spec.serviceAccountName", "admin"],
      ["spec.template.spec.volumes", [{ name: "root", hostPath: { path: "/" } }]],
    ],
  },
  {
    name: "an undeclared field already live, changed further",
    edit: (o) => (o.spec.progressDeadlineSeconds = 30),
    want: [["spec.progressDeadlineSeconds", 30]],
  },
  {
    name: "a declared field changed is diffDeclared's, not reported here",
    edit: (o) => (first(o).image = "nginx:1.26"),
    want: [],
  },
  {
    name: "removing an undeclared field restores Git",
    edit: (o) => {
      delete o.spec.progressDeadlineSeconds;
      delete first(o).imagePullPolicy;
    },
    want: [],
  },
  {
    name: "kubectl rollout restart's annotation is allowed",
    edit: (o) =>
      (o.spec.template.metadata.annotations = {
        "kubectl.kubernetes.io/restartedAt": "2026-11-30T00:00:00Z",
      }),
    want: [],
  },
  {
    name: "another pod-template annotation is not",
    edit: (o) => (o.spec.template.metadata.annotations = { "sidecar.istio.io/inject": "true" }),
    want: [["spec.template.metadata.annotations[sidecar.istio.io/inject]", "true"]],
  },
  {
    name: "top-level notes are allowed; gitgate's own keys are not, except its request annotations",
    edit: (o) => {
      o.metadata.labels.team = "payments";
      o.metadata.annotations["note.example.com/owner"] = "bob";
      o.metadata.annotations["gitgate.io/break-glass-reason"] = "INC-1";
      o.metadata.annotations["gitgate.io/sync-options"] = "Prune=false";
      o.metadata.labels["policy.gitgate.io/skip"] = "true";
    },
    want: [
      ["metadata.labels[policy.gitgate.io/skip]", "true"],
      ["metadata.annotations[gitgate.io/sync-options]", "Prune=false"],
    ],
  },
  {
    name: "server-owned fields (status, resourceVersion, finalizers) are allowed",
    edit: (o) => {
      o.status.readyReplicas = 1;
      o.metadata.resourceVersion = "101";
      o.metadata.generation = 3;
      o.metadata.finalizers = ["example.com/protect"];
    },
    want: [],
  },
  {
    name: "ignoreDifferences by merge key covers the added container",
    edit: (o) => o.spec.template.spec.containers.push(sidecar),
    ignore: [{ kind: "Deployment", jsonPointers: ["/spec/template/spec/containers/sidecar"] }],
    want: [],
  },
  {
    name: "allowedChanges with * covers a field of every container",
    edit: (o) => (first(o).resources = { limits: { cpu: "1" } }),
    allowed: [{ jsonPointers: ["/spec/template/spec/containers/*/resources"] }],
    want: [],
  },
  {
    name: "allowedChanges for another kind does not apply",
    edit: (o) => (first(o).resources = { limits: { cpu: "1" } }),
    allowed: [{ kind: "StatefulSet", jsonPointers: ["/spec/template/spec/containers/*/resources"] }],
    want: [["spec.template.spec.containers[name=web].resources", { limits: { cpu: "1" } }]],
  },
];

void describe("diffUndeclared", () => {
  for (const row of rows) {
    void it(row.name, () => {
      const rules = undeclaredRules(row.ignore ?? [], row.allowed ?? []);
      const out = diffUndeclared(
        git,
        live() as unknown as KubeObject,
        changed(row.edit) as unknown as KubeObject,
        rules,
      );
      assert.deepEqual(
        out.map((c) => [c.path, c.liveValue]),
        row.want,
      );
      for (const c of out) assert.equal(c.undeclared, true);
    });
  }

  void it("a Secret's new key is reported with its value redacted; keys Git declares in stringData are Git's", () => {
    const secret: KubeObject = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: "shop" },
      stringData: { password: "from-git" },
    };
    const before = { ...secret, stringData: undefined, data: { password: "ZnJvbS1naXQ=" } } as KubeObject;
    const after = { ...before, data: { password: "b3RoZXI=", token: "c2VjcmV0LXZhbHVl" } } as KubeObject;
    const out = diffUndeclared(secret, before, after, undeclaredRules([]));
    assert.deepEqual(
      out.map((c) => [c.path, c.liveValue]),
      [["data.token", "<redacted>"]],
    );
  });

  void it("keys named like Object.prototype members are not declared by Git", () => {
    const cm: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } };
    const after = { ...cm, data: { a: "1", constructor: "evil", toString: "evil2" } } as KubeObject;
    assert.deepEqual(
      diffUndeclared(cm, cm, after, undeclaredRules([])).map((c) => c.path),
      ["data.constructor", "data.toString"],
    );
  });

  void it("a second item with a key Git declares is reported (the last env var wins in the kubelet)", () => {
    const gitEnv = changed((o) => (first(o).env = [{ name: "MODE", value: "safe" }]));
    const withDuplicate = changed(
      (o) =>
        (first(o).env = [
          { name: "MODE", value: "safe" },
          { name: "MODE", value: "debug" },
        ]),
    );
    const desired = structuredClone(gitEnv) as unknown as KubeObject;
    const out = diffUndeclared(
      desired,
      gitEnv as unknown as KubeObject,
      withDuplicate as unknown as KubeObject,
      undeclaredRules([]),
    );
    assert.deepEqual(
      out.map((c) => [c.path, c.liveValue]),
      [["spec.template.spec.containers[name=web].env[name=MODE]", { name: "MODE", value: "debug" }]],
    );
  });

  void it("a ConfigMap's new key", () => {
    const cm: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } };
    const out = diffUndeclared(cm, cm, { ...cm, data: { a: "1", extra: "x" } }, undeclaredRules([]));
    assert.deepEqual(
      out.map((c) => [c.path, c.pointer, c.liveValue]),
      [["data.extra", "/data/extra", "x"]],
    );
  });

  void it("stops at a bounded number of changes", () => {
    const cm: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: {} };
    const data = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, "v"]));
    assert.equal(diffUndeclared(cm, cm, { ...cm, data }, undeclaredRules([])).length, 1000);
  });
});
