/**
 * Registers gitgate's webhook configurations with the API server (server-side apply, so re-running
 * only updates the caBundle), and labels the namespaces that must never reach the webhook: on
 * clusters older than 1.21 the kubernetes.io/metadata.name label does not exist yet.
 */
import {
  mutatingWebhookConfiguration,
  validatingWebhookConfiguration,
  excludedNamespaces,
  type WebhookConfigOptions,
} from "../admission/webhook-config.js";
import type { ClusterClient } from "../cluster/client.js";
import {
  FIELD_MANAGER,
  NAMESPACE_NAME_LABEL,
  WEBHOOK_NAMESPACE_IGNORE,
  WEBHOOK_NAMESPACE_LABEL,
} from "../manifest/labels.js";

export async function registerWebhooks(client: ClusterClient, opts: WebhookConfigOptions): Promise<void> {
  for (const ns of excludedNamespaces(opts.ownNamespace)) {
    const existing = await client.get({ apiVersion: "v1", kind: "Namespace", name: ns });
    if (existing && existing.metadata.labels?.[WEBHOOK_NAMESPACE_LABEL] !== WEBHOOK_NAMESPACE_IGNORE) {
      await client.patch(
        { apiVersion: "v1", kind: "Namespace", name: ns },
        { metadata: { labels: { [WEBHOOK_NAMESPACE_LABEL]: WEBHOOK_NAMESPACE_IGNORE } } },
        "merge",
      );
    }
  }
  await client.apply(validatingWebhookConfiguration(opts), { fieldManager: FIELD_MANAGER, force: true });
  await client.apply(mutatingWebhookConfiguration(opts), { fieldManager: FIELD_MANAGER, force: true });
}

/** A namespace whose labels take it out of the gate, and which label does. */
export interface NamespaceOutOfGate {
  namespace: string;
  label: string;
}

/**
 * Namespaces the webhooks' namespaceSelector skips without gitgate having put them there:
 * `gitgate.io/webhook=ignore` outside kube-system and gitgate's own, or (Kubernetes 1.20) a
 * kubernetes.io/metadata.name naming one of those two. The namespace webhook refuses both while
 * gitgate runs; this finds what was set while it did not (or before it was installed).
 */
export async function namespacesOutOfGate(
  client: ClusterClient,
  ownNamespace: string,
): Promise<NamespaceOutOfGate[]> {
  const excluded = excludedNamespaces(ownNamespace);
  const { items } = await client.list({ apiVersion: "v1", kind: "Namespace" });
  const out: NamespaceOutOfGate[] = [];
  for (const ns of items) {
    const namespace = ns.metadata.name ?? "";
    if (namespace === "" || excluded.includes(namespace)) continue;
    const labels = ns.metadata.labels ?? {};
    if (labels[WEBHOOK_NAMESPACE_LABEL] === WEBHOOK_NAMESPACE_IGNORE)
      out.push({ namespace, label: `${WEBHOOK_NAMESPACE_LABEL}=${WEBHOOK_NAMESPACE_IGNORE}` });
    const name = labels[NAMESPACE_NAME_LABEL];
    if (name !== undefined && excluded.includes(name))
      out.push({ namespace, label: `${NAMESPACE_NAME_LABEL}=${name}` });
  }
  return out;
}

/** Removes the configurations so that a stopped gitgate can never lock the cluster (dev, uninstall). */
export async function unregisterWebhooks(client: ClusterClient, namePrefix: string): Promise<void> {
  await client.delete({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    name: `${namePrefix}-validate`,
  });
  await client.delete({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    name: `${namePrefix}-mutate`,
  });
}
