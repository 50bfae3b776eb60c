import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  mutatingWebhookConfiguration,
  validatingWebhookConfiguration,
  type WebhookConfigOptions,
} from "./webhook-config.js";

type Webhook = Record<string, unknown> & {
  name: string;
  rules: Array<{ resources: string[]; operations: string[] }>;
};

const base: WebhookConfigOptions = {
  namePrefix: "gitgate",
  caBundle: "Q0E=",
  clientConfig: { service: { namespace: "gitgate-system", name: "gitgate", port: 443 } },
  ownNamespace: "gitgate-system",
};

void describe("webhook configurations", () => {
  const validating = validatingWebhookConfiguration(base);
  const webhooks = validating.webhooks as Webhook[];
  const [main, scale, namespaces] = webhooks as [Webhook, Webhook, Webhook];

  void it("validates CREATE/UPDATE/DELETE of managed objects, with the DESIGN's settings", () => {
    assert.equal(validating.apiVersion, "admissionregistration.k8s.io/v1");
    assert.equal(validating.metadata.name, "gitgate-validate");
    assert.deepEqual(main.rules, [
      {
        apiGroups: ["*"],
        apiVersions: ["*"],
        resources: ["*"],
        operations: ["CREATE", "UPDATE", "DELETE"],
        scope: "*",
      },
    ]);
    assert.deepEqual(main.objectSelector, {
      matchExpressions: [{ key: "gitgate.io/app", operator: "Exists" }],
    });
    assert.equal(main.failurePolicy, "Fail");
    assert.equal(main.sideEffects, "None");
    assert.equal(main.timeoutSeconds, 5);
    assert.deepEqual(main.admissionReviewVersions, ["v1"]);
    assert.equal(main.matchPolicy, "Equivalent");
    assert.deepEqual(main.clientConfig, {
      service: { namespace: "gitgate-system", name: "gitgate", port: 443, path: "/validate" },
      caBundle: "Q0E=",
    });
  });

  void it("excludes kube-system and gitgate's namespace by name (≥1.21) and by gitgate's label (1.20)", () => {
    assert.deepEqual(main.namespaceSelector, {
      matchExpressions: [
        { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", "gitgate-system"] },
        { key: "gitgate.io/webhook", operator: "NotIn", values: ["ignore"] },
      ],
    });
  });

  void it("sends scale requests through a second webhook without objectSelector (Scale objects carry no labels)", () => {
    assert.deepEqual(scale.rules[0]?.resources, ["*/scale"]);
    assert.equal(scale.objectSelector, undefined);
    assert.deepEqual(scale.namespaceSelector, main.namespaceSelector);
  });

  void it("guards the namespace labels the selectors trust: every Namespace CREATE/UPDATE", () => {
    assert.equal(namespaces.name, "namespaces.gitgate.io");
    assert.deepEqual(namespaces.rules, [
      {
        apiGroups: [""],
        apiVersions: ["v1"],
        resources: ["namespaces"],
        operations: ["CREATE", "UPDATE"],
        scope: "Cluster",
      },
    ]);
    // Every Namespace write: two labels are guarded, and an objectSelector cannot OR them.
    assert.equal(namespaces.objectSelector, undefined);
    // For a Namespace the API server matches namespaceSelector against the Namespace itself.
    assert.deepEqual(namespaces.namespaceSelector, {});
    // Fail would lock gitgate out when it labels kube-system at start-up (its webhook not up yet).
    assert.equal(namespaces.failurePolicy, "Ignore");
    assert.deepEqual(namespaces.clientConfig, main.clientConfig);
  });

  void it("mutating: UPDATE only, failurePolicy Ignore, /mutate on a URL endpoint", () => {
    const mutating = mutatingWebhookConfiguration({
      ...base,
      clientConfig: { url: "https://127.0.0.1:9443/" },
      failurePolicy: "Fail",
    });
    const [hook] = mutating.webhooks as [Webhook];
    assert.equal(mutating.kind, "MutatingWebhookConfiguration");
    assert.equal(hook.failurePolicy, "Ignore");
    assert.deepEqual(hook.rules[0]?.operations, ["UPDATE"]);
    assert.deepEqual(hook.objectSelector, main.objectSelector);
    assert.deepEqual(hook.clientConfig, { url: "https://127.0.0.1:9443/mutate", caBundle: "Q0E=" });
  });

  void it("honours failurePolicy and clamps timeoutSeconds", () => {
    const hooks = validatingWebhookConfiguration({ ...base, failurePolicy: "Ignore", timeoutSeconds: 99 })
      .webhooks as Webhook[];
    assert.ok(hooks.every((h) => h.failurePolicy === "Ignore" && h.timeoutSeconds === 30));
    const failing = validatingWebhookConfiguration({ ...base, failurePolicy: "Fail" }).webhooks as Webhook[];
    assert.deepEqual(
      failing.map((h) => h.failurePolicy),
      ["Fail", "Fail", "Ignore"],
    );
  });

  void it("a registered cluster's configurations name it in every path", () => {
    const opts = { ...base, clientConfig: { url: "https://gitgate.example.com:8443" }, cluster: "prod-1" };
    const urls = [
      ...(validatingWebhookConfiguration(opts).webhooks as Webhook[]),
      ...(mutatingWebhookConfiguration(opts).webhooks as Webhook[]),
    ].map((h) => (h.clientConfig as { url: string }).url);
    assert.deepEqual(urls, [
      "https://gitgate.example.com:8443/validate/prod-1",
      "https://gitgate.example.com:8443/validate/prod-1",
      "https://gitgate.example.com:8443/validate/prod-1",
      "https://gitgate.example.com:8443/mutate/prod-1",
    ]);
  });
});
