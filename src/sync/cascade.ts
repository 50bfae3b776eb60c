/**
 * Deleting a GitApp with deletionPolicy Delete (or the cascade finalizer put on by hand): its
 * inventory is deleted with prune's checks (still this app's, no cascade into another app's
 * objects, Prune=false kept), then the finalizer comes off. Orphan stays the default.
 */
import { CASCADE_FINALIZER, wantsCascade, type GitApp } from "../api/gitapp.js";
import type { ClusterClient } from "../cluster/client.js";
import type { DesiredIndex } from "../gate/desired-index.js";
import type { AppRef } from "../manifest/desired.js";
import { deletePruned, planPrune, type PruneProgress } from "./prune.js";

export interface CascadeResult {
  deleted: string[];
  kept: string[];
  /** Why some objects are still there (the finalizer stays; retried later). */
  refused?: string;
}

export async function cascadeDelete(
  app: GitApp,
  target: {
    client: ClusterClient;
    writer: ClusterClient;
    /** Where the GitApp lives, when not on the destination cluster (a registered cluster's app). */
    hub?: ClusterClient;
    index: Pick<DesiredIndex, "isComplete" | "findOther" | "removeApp">;
    app: AppRef;
  },
): Promise<CascadeResult> {
  // Its Git no longer judges anything: the gate must not hold its objects against their deletion.
  target.index.removeApp(target.app);
  const { toDelete } = planPrune(app.status?.inventory ?? [], [], 1); // ordered: Namespaces, CRDs last
  const progress: PruneProgress = { pruned: [], retained: [], kept: [] };
  await deletePruned(toDelete, target, progress);
  if (progress.retained.length > 0)
    return {
      deleted: progress.pruned,
      kept: progress.kept ?? [],
      refused: progress.refused ?? "objects remain",
    };
  await setFinalizer(target.hub ?? target.client, app, false);
  return { deleted: progress.pruned, kept: progress.kept ?? [] };
}

/** The JSON patch that puts the finalizer on or takes it off, guarded by the list it was read from. */
export function finalizerPatch(app: GitApp, on: boolean): unknown[] | undefined {
  const current = app.metadata.finalizers ?? [];
  const has = current.includes(CASCADE_FINALIZER);
  if (has === on) return undefined;
  const next = on ? [...current, CASCADE_FINALIZER] : current.filter((f) => f !== CASCADE_FINALIZER);
  return [
    { op: "test", path: "/metadata/resourceVersion", value: app.metadata.resourceVersion },
    { op: "add", path: "/metadata/finalizers", value: next },
  ];
}

/** Whether the finalizer should be on: deletionPolicy Delete puts it on, an explicit Orphan off. */
export function finalizerWanted(app: GitApp): boolean | undefined {
  const policy = app.spec.sync?.deletionPolicy;
  if (!policy) return undefined; // by hand, or not at all: left as the user set it
  return wantsCascade(app);
}

export async function setFinalizer(client: ClusterClient, app: GitApp, on: boolean): Promise<void> {
  const patch = finalizerPatch(app, on);
  if (!patch) return;
  await client.patch(
    {
      apiVersion: app.apiVersion,
      kind: app.kind,
      namespace: app.metadata.namespace,
      name: app.metadata.name ?? "",
    },
    patch,
    "json",
  );
}
