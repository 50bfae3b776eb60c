import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GitgateError } from "../errors.js";
import { APP_LABEL, COMMIT_ANNOTATION, FILE_ANNOTATION, REPO_ANNOTATION } from "./labels.js";
import {
  isBuiltinNamespaced,
  publicRepoURL,
  sortForApply,
  sortForPrune,
  stampObject,
  withDefaultNamespace,
} from "./normalize.js";
import type { KubeObject } from "./object.js";

const obj = (apiVersion: string, kind: string, name: string, namespace?: string): KubeObject => ({
  apiVersion,
  kind,
  metadata: namespace ? { name, namespace } : { name },
});

const info = {
  app: { namespace: "gitgate-system", name: "guestbook" },
  repoURL: "https://git.example.com/team/deploy.git",
  file: "apps/guestbook/deployment.yaml",
  commit: "3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b",
};

void describe("stampObject", () => {
  void it("adds the app label and provenance annotations without touching the input", () => {
    const input: KubeObject = {
      ...obj("apps/v1", "Deployment", "ui", "guestbook"),
      metadata: { name: "ui", labels: { app: "ui" }, annotations: { note: "keep" } },
    };
    const before = structuredClone(input);
    const stamped = stampObject(input, info);
    assert.deepEqual(input, before);
    assert.deepEqual(stamped.metadata.labels, { app: "ui", [APP_LABEL]: "gitgate-system.guestbook" });
    assert.deepEqual(stamped.metadata.annotations, {
      note: "keep",
      [REPO_ANNOTATION]: info.repoURL,
      [FILE_ANNOTATION]: info.file,
      [COMMIT_ANNOTATION]: info.commit,
    });
  });

  void it("never writes credentials from the repo URL into annotations", () => {
    const stamped = stampObject(obj("v1", "ConfigMap", "c"), {
      ...info,
      repoURL: "https://bot:s3cret@git.example.com/x.git",
    });
    assert.equal(stamped.metadata.annotations?.[REPO_ANNOTATION], "https://git.example.com/x.git");
  });

  void it("refuses an app whose label value would exceed 63 characters", () => {
    assert.throws(
      () =>
        stampObject(obj("v1", "ConfigMap", "c"), { ...info, app: { namespace: "ns", name: "a".repeat(70) } }),
      (err: unknown) => err instanceof GitgateError && err.reason === "InvalidAppName",
    );
  });
});

void describe("publicRepoURL", () => {
  for (const [input, want] of [
    ["https://git.example.com/a.git", "https://git.example.com/a.git"],
    ["https://token@git.example.com/a.git", "https://git.example.com/a.git"],
    ["http://u:p@host:8080/a", "http://host:8080/a"],
  ] as const) {
    void it(input, () => assert.equal(publicRepoURL(input), want));
  }
});

void describe("withDefaultNamespace", () => {
  const scope = (o: KubeObject): boolean => isBuiltinNamespaced(o) ?? true;
  void it("sets the namespace of namespaced objects that name none", () => {
    const out = withDefaultNamespace(obj("apps/v1", "Deployment", "ui"), "guestbook", scope);
    assert.equal(out.metadata.namespace, "guestbook");
  });
  void it("keeps an explicit namespace", () => {
    const input = obj("v1", "Service", "ui", "other");
    assert.equal(withDefaultNamespace(input, "guestbook", scope), input);
  });
  void it("leaves cluster-scoped objects alone", () => {
    for (const input of [
      obj("v1", "Namespace", "guestbook"),
      obj("rbac.authorization.k8s.io/v1", "ClusterRole", "r"),
      obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
    ]) {
      assert.equal(withDefaultNamespace(input, "guestbook", scope).metadata.namespace, undefined);
    }
  });
});

void describe("isBuiltinNamespaced", () => {
  const table: Array<[string, string, boolean | undefined]> = [
    ["v1", "ConfigMap", true],
    ["v1", "Namespace", false],
    ["apps/v1", "Deployment", true],
    ["networking.k8s.io/v1", "IngressClass", false],
    ["gateway.networking.k8s.io/v1", "GatewayClass", undefined],
    ["example.com/v1", "Widget", undefined],
  ];
  for (const [apiVersion, kind, want] of table) {
    void it(`${apiVersion} ${kind}`, () => assert.equal(isBuiltinNamespaced({ apiVersion, kind }), want));
  }
});

void describe("sortForApply / sortForPrune", () => {
  const shuffled: KubeObject[] = [
    obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "hook"),
    obj("apps/v1", "Deployment", "web", "app"),
    obj("example.com/v1", "Widget", "w", "app"),
    obj("v1", "Service", "web", "app"),
    obj("v1", "ConfigMap", "b", "app"),
    obj("v1", "ConfigMap", "a", "app"),
    obj("rbac.authorization.k8s.io/v1", "RoleBinding", "rb", "app"),
    obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
    obj("v1", "Secret", "s", "app"),
    obj("v1", "ServiceAccount", "sa", "app"),
    obj("rbac.authorization.k8s.io/v1", "Role", "r", "app"),
    obj("networking.k8s.io/v1", "Ingress", "web", "app"),
    obj("v1", "Namespace", "app"),
    obj("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "hook"),
  ];
  const want = [
    "Namespace/app",
    "CustomResourceDefinition/widgets.example.com",
    "ServiceAccount/sa",
    "Secret/s",
    "ConfigMap/a",
    "ConfigMap/b",
    "Role/r",
    "RoleBinding/rb",
    "Service/web",
    "Deployment/web",
    "Ingress/web",
    "Widget/w",
    "MutatingWebhookConfiguration/hook",
    "ValidatingWebhookConfiguration/hook",
  ];
  const names = (list: KubeObject[]): string[] => list.map((o) => `${o.kind}/${o.metadata.name}`);

  void it("applies namespaces and CRDs first, custom resources after built-ins, webhooks last", () => {
    assert.deepEqual(names(sortForApply(shuffled)), want);
  });
  void it("is independent of input order and does not mutate the input", () => {
    const copy = [...shuffled];
    assert.deepEqual(names(sortForApply([...shuffled].reverse())), want);
    assert.deepEqual(copy, shuffled);
  });
  void it("prunes in reverse", () => {
    assert.deepEqual(names(sortForPrune(shuffled)), [...want].reverse());
  });
});
