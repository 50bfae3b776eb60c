/**
 * The ValidatingWebhookConfiguration and MutatingWebhookConfiguration gitgate registers. Pure.
 *
 * Selection, and why:
 * - `objectSelector: gitgate.io/app Exists` keeps kube-apiserver from calling gitgate for objects it
 *   does not manage. A Scale object carries no labels (the API server builds it from name, namespace
 *   and uid only), so the scale subresource gets its own webhook without an objectSelector; decide()
 *   answers unmanaged Scale requests on its fast path.
 * - Namespaces: kube-system and gitgate's own are excluded two ways, ANDed in one list:
 *   `kubernetes.io/metadata.name NotIn […]` (automatic on Kubernetes ≥ 1.21) and
 *   `gitgate.io/webhook NotIn [ignore]`, a label gitgate puts on those namespaces when it registers
 *   (the only way on 1.20, where the automatic name label does not exist). A missing label satisfies
 *   NotIn, so neither expression excludes anything else.
 * - Both labels would let anyone allowed to label a namespace take it out of the gate (on 1.20
 *   nothing guards kubernetes.io/metadata.name either), so a third validating webhook
 *   (`namespaces.gitgate.io`) sees every Namespace CREATE/UPDATE — rare writes — and decide()
 *   refuses `gitgate.io/webhook=ignore` outside kube-system and gitgate's namespace, and a
 *   kubernetes.io/metadata.name other than the namespace's own (reservedLabelDecision). It has no
 *   objectSelector (two labels cannot be ORed there) and an empty namespaceSelector: for a
 *   Namespace the API server matches that selector against the Namespace itself, and the labels
 *   under guard would exclude it. Its failurePolicy is always Ignore: gitgate labels kube-system
 *   and its namespace at start-up, when its own webhook is not reachable yet (Fail would lock it
 *   out). While gitgate is down the labels are therefore unguarded; registerWebhooks warns at
 *   start about every other namespace that carries gitgate.io/webhook=ignore.
 * - A rule resource `*` matches no subresource, so the scale rule names `<any>/scale` explicitly;
 *   status and other subresources are never sent. Webhook configurations are never sent either.
 * - The mutating webhook (mutate.ts) annotates an admitted UPDATE that changes declared fields
 *   away from Git; it is registered for UPDATE only. A CREATE of a managed object is nearly always
 *   gitgate's own apply (which it never annotates): a hand-made object reaches the webhooks only
 *   if it copies gitgate's label (the objectSelector); then the validating webhook's alert still
 *   names the user, and drift attribution falls back to managedFields. Sparing every CREATE the
 *   second call halves the admission round trips of a first sync. What decides whether an UPDATE
 *   gets a patch — the requester, the enforcement mode, whether a declared field differs from Git —
 *   is not visible to rules or selectors (matchConditions need Kubernetes 1.28; clusters from 1.20
 *   on are supported), so every UPDATE of a managed object is still sent.
 */
import {
  APP_LABEL,
  NAMESPACE_NAME_LABEL,
  WEBHOOK_NAMESPACE_IGNORE,
  WEBHOOK_NAMESPACE_LABEL,
} from "../manifest/labels.js";
import type { KubeObject } from "../manifest/object.js";
import { trimTrailing } from "../strings.js";

export const VALIDATE_PATH = "/validate";
export const MUTATE_PATH = "/mutate";

export type FailurePolicy = "Fail" | "Ignore";
export type RuleOperation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT" | "*";

export interface RuleWithOperations {
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  operations: RuleOperation[];
  scope: "*" | "Cluster" | "Namespaced";
}

/** Where kube-apiserver reaches gitgate; `/validate` and `/mutate` are appended to the url or path. */
export type WebhookEndpoint =
  { url: string } | { service: { namespace: string; name: string; port?: number; path?: string } };

export interface WebhookConfigOptions {
  /** metadata.name prefix: `<prefix>-validate`, `<prefix>-mutate`. */
  namePrefix: string;
  /** Base64 of the CA certificate PEM. */
  caBundle: string;
  clientConfig: WebhookEndpoint;
  /** gitgate's own namespace, excluded with kube-system. */
  ownNamespace: string;
  /** Validating failure policy (mutating is always Ignore: the annotation it adds is a courtesy). */
  failurePolicy?: FailurePolicy;
  timeoutSeconds?: number;
  /** Overrides the rules of the main validating webhook (the scale webhook keeps its own rule). */
  rules?: RuleWithOperations[];
  /** A registered cluster's configurations: paths `/validate/<cluster>`, `/mutate/<cluster>`. */
  cluster?: string;
}

export function excludedNamespaces(ownNamespace: string): string[] {
  return [...new Set(["kube-system", ownNamespace])];
}

export const defaultValidatingRules: RuleWithOperations[] = [
  {
    apiGroups: ["*"],
    apiVersions: ["*"],
    resources: ["*"],
    operations: ["CREATE", "UPDATE", "DELETE"],
    scope: "*",
  },
];
const scaleRules: RuleWithOperations[] = [
  { apiGroups: ["*"], apiVersions: ["*"], resources: ["*/scale"], operations: ["UPDATE"], scope: "*" },
];
const namespaceRules: RuleWithOperations[] = [
  {
    apiGroups: [""],
    apiVersions: ["v1"],
    resources: ["namespaces"],
    operations: ["CREATE", "UPDATE"],
    scope: "Cluster",
  },
];
const mutatingRules: RuleWithOperations[] = [
  { apiGroups: ["*"], apiVersions: ["*"], resources: ["*"], operations: ["UPDATE"], scope: "*" },
];

function clientConfigFor(opts: WebhookConfigOptions, path: string): Record<string, unknown> {
  const endpoint = opts.clientConfig;
  if ("url" in endpoint) return { url: `${trimTrailing(endpoint.url, "/")}${path}`, caBundle: opts.caBundle };
  const { namespace, name, port = 443, path: prefix = "" } = endpoint.service;
  return {
    service: { namespace, name, port, path: `${trimTrailing(prefix, "/")}${path}` },
    caBundle: opts.caBundle,
  };
}

function common(opts: WebhookConfigOptions, path: string): Record<string, unknown> {
  return {
    clientConfig: clientConfigFor(opts, opts.cluster ? `${path}/${opts.cluster}` : path),
    namespaceSelector: {
      matchExpressions: [
        {
          key: NAMESPACE_NAME_LABEL,
          operator: "NotIn",
          values: excludedNamespaces(opts.ownNamespace),
        },
        { key: WEBHOOK_NAMESPACE_LABEL, operator: "NotIn", values: [WEBHOOK_NAMESPACE_IGNORE] },
      ],
    },
    sideEffects: "None",
    // ≤ 5 s (docs/architecture.md), so a slow gitgate costs a write at most that; kube-apiserver allows 1–30.
    timeoutSeconds: Math.min(Math.max(Math.trunc(opts.timeoutSeconds ?? 5), 1), 30),
    admissionReviewVersions: ["v1"],
    matchPolicy: "Equivalent",
  };
}

const managedSelector = { matchExpressions: [{ key: APP_LABEL, operator: "Exists" }] };

export function validatingWebhookConfiguration(opts: WebhookConfigOptions): KubeObject {
  const failurePolicy = opts.failurePolicy ?? "Fail";
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: `${opts.namePrefix}-validate`, labels: { "app.kubernetes.io/name": "gitgate" } },
    webhooks: [
      {
        name: "validate.gitgate.io",
        rules: opts.rules ?? defaultValidatingRules,
        objectSelector: managedSelector,
        failurePolicy,
        ...common(opts, VALIDATE_PATH),
      },
      { name: "scale.gitgate.io", rules: scaleRules, failurePolicy, ...common(opts, VALIDATE_PATH) },
      {
        name: "namespaces.gitgate.io",
        rules: namespaceRules,
        failurePolicy: "Ignore",
        ...common(opts, VALIDATE_PATH),
        namespaceSelector: {},
      },
    ],
  };
}

export function mutatingWebhookConfiguration(opts: WebhookConfigOptions): KubeObject {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: `${opts.namePrefix}-mutate`, labels: { "app.kubernetes.io/name": "gitgate" } },
    webhooks: [
      {
        name: "mutate.gitgate.io",
        rules: mutatingRules,
        objectSelector: managedSelector,
        failurePolicy: "Ignore",
        reinvocationPolicy: "Never",
        ...common(opts, MUTATE_PATH),
      },
    ],
  };
}
