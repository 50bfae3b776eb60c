/**
 * Prune: which inventory entries left Git and whether deleting them is safe (planPrune, pure), and
 * the deletes themselves (deletePruned), each re-checked against the live object first — like
 * Flux's manager_delete.
 */
import type { InventoryEntry } from "../api/gitapp.js";
import type { ClusterClient } from "../cluster/client.js";
import type { DesiredIndex } from "../gate/desired-index.js";
import type { AppRef, DesiredEntry } from "../manifest/desired.js";
import { APP_LABEL, appLabelValue } from "../manifest/labels.js";
import { describeRef, isPlainObject, type KubeObject, type ObjectRef } from "../manifest/object.js";
import { syncOptionsOf } from "./waves.js";

export interface PrunePlan {
  toDelete: InventoryEntry[];
  /** Set when the plan was refused; nothing may be deleted then. */
  refused?: string;
}

export function inventoryKey(entry: Pick<InventoryEntry, "group" | "kind" | "namespace" | "name">): string {
  return `${entry.group}/${entry.kind}/${entry.namespace ?? ""}/${entry.name}`;
}

/** Namespaces and CRDs go last when deleting: the reverse of apply order. */
const DELETE_LAST: Record<string, number> = { CustomResourceDefinition: 2, Namespace: 3 };

/**
 * @param maxShare fraction of the old inventory that one sync may delete (0..1). A sync that would
 * delete more is refused: a mistaken path or a truncated render must not wipe an application.
 */
export function planPrune(
  oldInventory: InventoryEntry[],
  newInventory: InventoryEntry[],
  maxShare: number,
): PrunePlan {
  const keep = new Set(newInventory.map(inventoryKey));
  const toDelete = oldInventory
    .filter((entry) => !keep.has(inventoryKey(entry)))
    .sort((a, b) => (DELETE_LAST[a.kind] ?? 0) - (DELETE_LAST[b.kind] ?? 0));
  if (toDelete.length === 0) return { toDelete };
  const share = toDelete.length / oldInventory.length;
  if (share > maxShare && toDelete.length > 1) {
    return {
      toDelete: [],
      refused: `prune of ${toDelete.length} of ${oldInventory.length} objects (${Math.round(share * 100)}%) exceeds the limit of ${Math.round(maxShare * 100)}%`,
    };
  }
  return { toDelete };
}

/** What a prune run did so far; filled in as it goes, so a failure mid-way still reports it. */
export interface PruneProgress {
  /** Deleted objects, described. */
  pruned: string[];
  /** Entries kept in the inventory for a later sync. */
  retained: InventoryEntry[];
  /** Why a delete was refused (the first reason). */
  refused?: string;
  /** Objects left in place because their sync options disable pruning (they leave the inventory). */
  kept?: string[];
  /** `PruneLast=true` objects whose prune waits for the rest of the app (kept in the inventory). */
  deferred?: string[];
}

export interface PruneTarget {
  /** Reads the live object (gitgate's identity). */
  client: ClusterClient;
  /** Deletes it: a tenant's GitApp deletes as its ServiceAccount. Absent: `client`. */
  writer?: ClusterClient;
  /** Cascading deletes (Namespace, CRD) are checked against every app's desired objects. */
  index: Pick<DesiredIndex, "isComplete" | "findOther">;
  app: AppRef;
  /** True while the rest of the app is not synced and healthy: `PruneLast=true` objects wait. */
  holdPruneLast?: boolean;
}

/**
 * Deletes the planned entries in order. An entry whose live object is gone or no longer carries
 * this app's label is skipped; a failed read keeps it and the rest for the next sync and throws.
 */
export async function deletePruned(
  toDelete: InventoryEntry[],
  target: PruneTarget,
  progress: PruneProgress,
): Promise<void> {
  const ours = appLabelValue(target.app);
  for (const [i, entry] of toDelete.entries()) {
    const apiVersion = entry.group ? `${entry.group}/${entry.version}` : entry.version;
    const ref = { apiVersion, kind: entry.kind, namespace: entry.namespace, name: entry.name };
    let live: KubeObject | undefined;
    try {
      live = await target.client.get(ref);
    } catch (err) {
      // Unknown is not gone: keep it (and the rest) for the next sync.
      progress.retained.push(...toDelete.slice(i));
      throw err;
    }
    // Never delete what another app (or a human) took over since we applied it.
    if (!live || live.metadata.labels?.[APP_LABEL] !== ours) continue;
    // `gitgate.io/prune: "false"` or `Prune=false`: orphaned, as Argo CD leaves such objects.
    const options = syncOptionsOf(live);
    if (!options.prune) {
      progress.kept?.push(describeRef(refOfEntry(entry)));
      continue;
    }
    // Argo CD's per-object PruneLast: deleted in a later sync, once everything else is healthy.
    if (options.pruneLast && target.holdPruneLast === true) {
      progress.retained.push(entry);
      progress.deferred?.push(describeRef(refOfEntry(entry)));
      continue;
    }
    const blocker = cascadeBlocker(entry, live, target.index, target.app);
    if (blocker) {
      progress.refused ??= blocker;
      progress.retained.push(entry);
      continue;
    }
    await (target.writer ?? target.client).delete(ref);
    progress.pruned.push(describeRef(refOfEntry(entry)));
  }
}

function refOfEntry(entry: InventoryEntry): ObjectRef {
  return { group: entry.group, kind: entry.kind, namespace: entry.namespace ?? "", name: entry.name };
}

/**
 * Deleting a Namespace or a CRD deletes everything in it or of its kind: refused while another
 * GitApp still declares such objects, or while not every GitApp has been rendered yet.
 */
export function cascadeBlocker(
  entry: InventoryEntry,
  live: KubeObject,
  index: PruneTarget["index"],
  app: AppRef,
): string | undefined {
  const spec = isPlainObject(live.spec) ? live.spec : {};
  const names = isPlainObject(spec.names) ? spec.names : {};
  const contains =
    entry.kind === "Namespace" && !entry.group
      ? (e: DesiredEntry): boolean => e.ref.namespace === entry.name
      : entry.kind === "CustomResourceDefinition"
        ? (e: DesiredEntry): boolean => e.ref.group === spec.group && e.ref.kind === names.kind
        : undefined;
  if (!contains) return undefined;
  const what = `${entry.kind} ${entry.name}`;
  if (!index.isComplete()) return `prune of ${what} waits until every GitApp has been rendered`;
  const other = index.findOther(app, contains);
  return other
    ? `prune of ${what} refused: GitApp ${other.app.namespace}/${other.app.name} still declares ${describeRef(other.ref)}`
    : undefined;
}
