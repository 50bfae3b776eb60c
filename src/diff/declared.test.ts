import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IgnoreRule } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import { REDACTED } from "../manifest/redact.js";
import { diffDeclared } from "./declared.js";
import { removedManagedMarkers } from "./markers.js";
import { cursorIgnoresPath, ignoreTrie } from "./ignore.js";
import { parsePointer } from "./path.js";
import { quantitiesEqual } from "./quantity.js";

function deployment(
  spec: Record<string, unknown>,
  labels: Record<string, string> = { app: "ui" },
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "ui", namespace: "guestbook", labels, annotations: { "gitgate.io/commit": "abc" } },
    spec,
  };
}

const container = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: "web",
  image: "nginx:1.25",
  ports: [{ containerPort: 80 }],
  resources: { requests: { cpu: "0.5", memory: "1Gi" } },
  ...extra,
});

const gitDeployment = deployment({ replicas: 2, template: { spec: { containers: [container()] } } });

/** The same Deployment as the API server returns it: defaults, status, bookkeeping, reordered lists. */
const defaultedLive: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "ui",
    namespace: "guestbook",
    uid: "1",
    resourceVersion: "99",
    generation: 3,
    creationTimestamp: "2024-01-01T00:00:00Z",
    labels: { app: "ui", extra: "x" },
    annotations: { "gitgate.io/commit": "abc", "deployment.kubernetes.io/revision": "2" },
    managedFields: [{ manager: "kubectl" }],
  },
  spec: {
    replicas: 2,
    revisionHistoryLimit: 10,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%" } },
    template: {
      spec: {
        restartPolicy: "Always",
        containers: [
          { name: "sidecar", image: "envoy" },
          {
            name: "web",
            image: "nginx:1.25",
            imagePullPolicy: "IfNotPresent",
            ports: [{ containerPort: 80, protocol: "TCP" }],
            resources: { requests: { cpu: "500m", memory: "1024Mi" } },
            terminationMessagePath: "/dev/termination-log",
          },
        ],
      },
    },
  },
  status: { replicas: 2 },
};

function withSpec(mutate: (spec: Record<string, unknown>) => void): KubeObject {
  const copy = structuredClone(defaultedLive);
  mutate(copy.spec as Record<string, unknown>);
  return copy;
}

const webOf = (spec: Record<string, unknown>): Record<string, unknown> =>
  (spec.template as { spec: { containers: Array<Record<string, unknown>> } }).spec.containers[1] as Record<
    string,
    unknown
  >;

interface Case {
  name: string;
  desired: KubeObject;
  live: KubeObject | undefined;
  ignore?: IgnoreRule[];
  expected: Array<{ path: string; gitValue?: unknown; liveValue?: unknown }>;
}

const secret = (fields: Record<string, unknown>): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "db", namespace: "guestbook" },
  ...fields,
});

const cases: Case[] = [
  {
    name: "defaults, status and bookkeeping are not differences",
    desired: gitDeployment,
    live: defaultedLive,
    expected: [],
  },
  {
    name: "replicas differ",
    desired: gitDeployment,
    live: withSpec((s) => (s.replicas = 5)),
    expected: [{ path: "spec.replicas", gitValue: 2, liveValue: 5 }],
  },
  {
    name: "container image differs, found by name",
    desired: gitDeployment,
    live: withSpec((s) => (webOf(s).image = "nginx:1.26")),
    expected: [
      {
        path: "spec.template.spec.containers[name=web].image",
        gitValue: "nginx:1.25",
        liveValue: "nginx:1.26",
      },
    ],
  },
  {
    name: "a declared container missing live",
    desired: gitDeployment,
    live: withSpec((s) => (s.template as { spec: { containers: unknown[] } }).spec.containers.splice(1, 1)),
    expected: [
      { path: "spec.template.spec.containers[name=web]", gitValue: container(), liveValue: undefined },
    ],
  },
  {
    name: "quantities differ in value, not spelling",
    desired: gitDeployment,
    live: withSpec((s) => (webOf(s).resources = { requests: { cpu: "600m", memory: "1Gi" } })),
    expected: [
      {
        path: "spec.template.spec.containers[name=web].resources.requests.cpu",
        gitValue: "0.5",
        liveValue: "600m",
      },
    ],
  },
  {
    name: "container port with another protocol is a different item",
    desired: gitDeployment,
    live: withSpec((s) => (webOf(s).ports = [{ containerPort: 80, protocol: "UDP" }])),
    expected: [
      {
        path: "spec.template.spec.containers[name=web].ports[containerPort=80]",
        gitValue: { containerPort: 80 },
      },
    ],
  },
  {
    name: "ignore pointer by index and by merge-key value",
    desired: gitDeployment,
    live: withSpec((s) => {
      s.replicas = 7;
      webOf(s).image = "other";
    }),
    ignore: [
      { group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] },
      { kind: "Deployment", name: "ui", jsonPointers: ["/spec/template/spec/containers/web/image"] },
      { kind: "StatefulSet", jsonPointers: [""] },
    ],
    expected: [],
  },
  {
    name: "ignore rule for another object does not apply",
    desired: gitDeployment,
    live: withSpec((s) => (s.replicas = 7)),
    ignore: [{ group: "apps", kind: "Deployment", name: "other", jsonPointers: ["/spec/replicas"] }],
    expected: [{ path: "spec.replicas", gitValue: 2, liveValue: 7 }],
  },
  {
    name: "label removed and changed; extra live labels fine",
    desired: deployment({}, { app: "ui", tier: "web" }),
    live: { ...deployment({}, { app: "api", other: "x" }) },
    expected: [
      { path: "metadata.labels.app", gitValue: "ui", liveValue: "api" },
      { path: "metadata.labels.tier", gitValue: "web", liveValue: undefined },
    ],
  },
  {
    name: "annotation keys with slashes are bracketed; last-applied never compared",
    desired: {
      ...deployment({}),
      metadata: {
        name: "ui",
        annotations: {
          "example.com/owner": "team-a",
          "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
      },
    },
    live: deployment({}),
    expected: [{ path: "metadata.annotations[example.com/owner]", gitValue: "team-a", liveValue: undefined }],
  },
  {
    name: 'Service targetPort: int-or-string keeps 80 and "80" apart; ports keyed by port',
    desired: {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "ui" },
      spec: {
        ports: [
          { port: 80, targetPort: 80 },
          { port: 53, protocol: "UDP" },
        ],
      },
    },
    live: {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "ui" },
      spec: {
        clusterIP: "10.0.0.7",
        ports: [
          { port: 53, protocol: "UDP", targetPort: 53 },
          { port: 80, protocol: "TCP", targetPort: "80" },
        ],
      },
    },
    expected: [{ path: "spec.ports[port=80].targetPort", gitValue: 80, liveValue: "80" }],
  },
  {
    name: "atomic list (args) compared whole, element by element",
    desired: deployment({ template: { spec: { containers: [{ name: "web", args: ["--a", "--b"] }] } } }),
    live: deployment({ template: { spec: { containers: [{ name: "web", args: ["--a", "--c"] }] } } }),
    expected: [
      { path: "spec.template.spec.containers[name=web].args[1]", gitValue: "--b", liveValue: "--c" },
    ],
  },
  {
    name: "atomic list of another length",
    desired: deployment({ template: { spec: { tolerations: [{ key: "a", operator: "Exists" }] } } }),
    live: deployment({ template: { spec: { tolerations: [] } } }),
    expected: [
      { path: "spec.template.spec.tolerations", gitValue: [{ key: "a", operator: "Exists" }], liveValue: [] },
    ],
  },
  {
    name: "zero values dropped by omitempty and nulls declare nothing",
    desired: deployment({
      paused: false,
      minReadySeconds: 0,
      selector: null,
      template: { spec: { containers: [] } },
    }),
    live: deployment({}),
    expected: [],
  },
  {
    name: "Secret stringData equals live data (base64); values redacted",
    desired: secret({ stringData: { user: "admin", password: "s3cret" }, data: { token: "dG9rZW4=" } }),
    live: secret({
      data: { user: Buffer.from("admin").toString("base64"), password: "b3RoZXI=", token: "dG9rZW4=" },
    }),
    expected: [{ path: "stringData.password", gitValue: REDACTED, liveValue: REDACTED }],
  },
  {
    name: "Secret key missing live",
    desired: secret({ data: { "tls.key": "a2V5" } }),
    live: secret({ data: {} }),
    expected: [{ path: "data[tls.key]", gitValue: REDACTED, liveValue: undefined }],
  },
  {
    name: "object missing altogether",
    desired: deployment({ replicas: 1 }),
    live: undefined,
    expected: [
      { path: "metadata.labels.app", gitValue: "ui", liveValue: undefined },
      { path: "metadata.annotations[gitgate.io/commit]", gitValue: "abc", liveValue: undefined },
      { path: "spec.replicas", gitValue: 1, liveValue: undefined },
    ],
  },
];

void describe("diffDeclared", () => {
  for (const c of cases) {
    void it(c.name, () => {
      const changes = diffDeclared(c.desired, c.live, c.ignore ?? []).map(
        ({ path, gitValue, liveValue }) => ({
          path,
          gitValue,
          liveValue,
        }),
      );
      assert.deepEqual(
        changes,
        c.expected.map((e) => ({ gitValue: undefined, liveValue: undefined, ...e })),
      );
    });
  }

  void it("gives JSON pointers into the desired object", () => {
    const [change] = diffDeclared(
      gitDeployment,
      withSpec((s) => (webOf(s).image = "x")),
      [],
    );
    assert.equal(change?.pointer, "/spec/template/spec/containers/0/image");
  });

  void it("never leaks Secret values, even on type mismatches", () => {
    const changes = diffDeclared(secret({ stringData: { a: "plain" } }), secret({ stringData: "oops" }), []);
    assert.ok(!JSON.stringify(changes).includes("plain"));
  });
});

void describe("quantities", () => {
  const equal: Array<[unknown, unknown]> = [
    [0.5, "500m"],
    ["1Gi", "1024Mi"],
    ["1", 1],
    ["1e3", "1k"],
    ["1.5Gi", "1536Mi"],
    ["100M", "100000k"],
  ];
  for (const [a, b] of equal) void it(`${String(a)} == ${String(b)}`, () => assert.ok(quantitiesEqual(a, b)));
  const unequal: Array<[unknown, unknown]> = [
    ["1G", "1Gi"],
    ["1", "1m"],
    ["abc", "abc"],
    ["1e999", "1e999"],
  ];
  for (const [a, b] of unequal)
    void it(`${String(a)} != ${String(b)}`, () => assert.ok(!quantitiesEqual(a, b)));
});

void describe("JSON pointers", () => {
  void it("unescapes ~1 and ~0 in RFC 6901 order", () => {
    assert.deepEqual(parsePointer("/metadata/annotations/a~1b~0c~01"), [
      "metadata",
      "annotations",
      "a/b~c~1",
    ]);
    assert.equal(parsePointer("spec"), undefined);
    assert.ok(
      cursorIgnoresPath(ignoreTrie([["metadata", "annotations", "a/b"]]), [
        "metadata",
        "annotations",
        "a/b",
        "x",
      ]),
    );
  });
});

void describe("removedManagedMarkers", () => {
  const managed: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "c",
      labels: { "gitgate.io/app": "gitgate-system.guestbook" },
      annotations: {
        "gitgate.io/repo": "https://git/r",
        "gitgate.io/file": "a.yaml",
        "gitgate.io/commit": "new",
      },
    },
  };
  void it("lists removed and rewritten markers", () => {
    const requested = structuredClone(managed);
    delete requested.metadata.labels;
    requested.metadata.annotations = { "gitgate.io/repo": "https://elsewhere", "gitgate.io/commit": "new" };
    assert.deepEqual(removedManagedMarkers(managed, requested), [
      "metadata.labels[gitgate.io/app]",
      "metadata.annotations[gitgate.io/repo]",
      "metadata.annotations[gitgate.io/file]",
    ]);
  });
  void it("a marker the request leaves as it was live is not the request's doing", () => {
    const live = structuredClone(managed);
    (live.metadata.annotations as Record<string, string>)["gitgate.io/commit"] = "old";
    assert.deepEqual(removedManagedMarkers(managed, live, live), []);
    assert.deepEqual(removedManagedMarkers(managed, live), ["metadata.annotations[gitgate.io/commit]"]);
  });
});
