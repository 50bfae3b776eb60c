/**
 * UPDATE AdmissionReviews of the Deployments gitgate synced to a cluster, as that cluster's
 * kube-apiserver would send them (the live object with defaults, managedFields and gitgate's labels),
 * by a human who is not exempt: the shapes of manifests.ts's reviewWorkload — 10 % violations
 * (replicas, image), denied in enforce mode; the rest allowed after a full comparison with the index.
 */
import { ClusterClient } from "../../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../../src/cluster/transport.js";
import type { KubeObject } from "../../src/manifest/object.js";

type Json = Record<string, unknown>;

export interface LiveReview {
  body: string;
  uid: string;
  /** What gitgate must answer (enforce mode). */
  expect: "allowed" | "denied";
}

/** `uidPrefix` (8 hex digits) keeps uids unique across namespaces reviewed in one run. */
export async function liveReviews(
  kubeconfig: string,
  namespace: string,
  uidPrefix = "6a0e0000",
): Promise<LiveReview[]> {
  const client = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig })));
  try {
    const { items } = await client.list({ apiVersion: "apps/v1", kind: "Deployment", namespace });
    const live = items.sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
    return live.map((item, i) => {
      const old = { ...item, apiVersion: "apps/v1", kind: "Deployment" } as KubeObject & { spec: Json };
      const object = structuredClone(old);
      let expect: LiveReview["expect"] = "allowed";
      if (i % 20 === 0) {
        object.spec.replicas = Number(object.spec.replicas ?? 1) + 4;
        expect = "denied";
      } else if (i % 20 === 10) {
        const containers = ((object.spec.template as Json).spec as Json).containers as Json[];
        if (containers[0]) containers[0].image = "registry.example.com/shop/hotfix:latest";
        expect = "denied";
      } else if (i % 4 === 1) object.metadata.labels = { ...object.metadata.labels, "cost-center": "cc-42" };
      const gvk = { group: "apps", version: "v1", kind: "Deployment" };
      const gvr = { group: "apps", version: "v1", resource: "deployments" };
      const uid = `${uidPrefix}-1b2c-4d3e-8f40-${String(i).padStart(12, "0")}`;
      const body = JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: {
          uid,
          kind: gvk,
          resource: gvr,
          requestKind: gvk,
          requestResource: gvr,
          name: object.metadata.name,
          namespace: object.metadata.namespace,
          operation: "UPDATE",
          userInfo: { username: "alice", uid: "1001", groups: ["developers", "system:authenticated"] },
          object,
          oldObject: old,
          dryRun: false,
          options: { kind: "UpdateOptions", apiVersion: "meta.k8s.io/v1", fieldManager: "kubectl-edit" },
        },
      });
      return { body, uid, expect };
    });
  } finally {
    client.transport.close();
  }
}
