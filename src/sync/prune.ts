/** Prune planning: which inventory entries left Git, and whether deleting them is safe. Pure. */
import type { InventoryEntry } from "../api/gitapp.js";

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
