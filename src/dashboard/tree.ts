/**
 * The object tree of an app view: the objects from Git at the top, and under each the objects it
 * owns in the cluster (ReplicaSets and Pods under a Deployment, Pods under a Job), by
 * ownerReferences uid. Pure; bounded per owner, in depth and in total.
 */
import { healthOf } from "../health/index.js";
import type { HealthStatus } from "../health/types.js";
import { isPlainObject, objectKey, type KubeObject } from "../manifest/object.js";

/** One object's row, from Git or owned by one: what it is and its health. */
export interface ObjectRow {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  health: HealthStatus;
  healthMessage: string;
}

export interface OwnedView extends ObjectRow {
  /** 1: owned by the Git object; 2: by one of its owned objects; … */
  depth: number;
  /** Key of the owner shown above it. */
  owner: string;
}

export interface TreeLimits {
  maxPerOwner: number;
  maxTotal: number;
  maxDepth: number;
}

export const TREE_LIMITS: TreeLimits = { maxPerOwner: 25, maxTotal: 200, maxDepth: 3 };

export interface OwnedTree {
  /** Root key → its owned objects in display order (depth first). */
  rows: Map<string, OwnedView[]>;
  /** Owned objects found but not shown (a bound was reached). */
  hidden: number;
}

const MAX_MESSAGE = 200;

function uidOf(obj: KubeObject): string | undefined {
  const uid = obj.metadata?.uid;
  return typeof uid === "string" && uid ? uid : undefined;
}

/** uid of each owner → the objects naming it in ownerReferences. */
function byOwner(candidates: readonly KubeObject[]): Map<string, KubeObject[]> {
  const out = new Map<string, KubeObject[]>();
  for (const obj of candidates) {
    const refs: unknown = obj.metadata?.ownerReferences;
    if (!Array.isArray(refs)) continue;
    for (const ref of refs.slice(0, 8)) {
      if (!isPlainObject(ref) || typeof ref.uid !== "string") continue;
      const list = out.get(ref.uid) ?? [];
      list.push(obj);
      out.set(ref.uid, list);
    }
  }
  for (const list of out.values())
    list.sort((a, b) =>
      `${a.kind}/${a.metadata?.name ?? ""}`.localeCompare(`${b.kind}/${b.metadata?.name ?? ""}`),
    );
  return out;
}

function ownedView(obj: KubeObject, depth: number, owner: string): OwnedView {
  const health = healthOf(obj);
  return {
    key: objectKey(obj),
    kind: obj.kind,
    namespace: obj.metadata?.namespace ?? "",
    name: obj.metadata?.name ?? "",
    health: health.status,
    healthMessage: (health.message ?? "").slice(0, MAX_MESSAGE),
    depth,
    owner,
  };
}

/** The owned objects under each root (roots: the Git objects as live, with their uids). */
export function ownedTree(
  roots: ReadonlyArray<{ key: string; uid?: string }>,
  candidates: readonly KubeObject[],
  limits: TreeLimits = TREE_LIMITS,
): OwnedTree {
  const children = byOwner(candidates);
  const rows = new Map<string, OwnedView[]>();
  const seen = new Set<string>();
  let shown = 0;
  let hidden = 0;
  const walk = (uid: string, ownerKey: string, depth: number, out: OwnedView[]): void => {
    const kids = children.get(uid) ?? [];
    let here = 0;
    for (const kid of kids) {
      const kidUid = uidOf(kid);
      // An object with two owners in the app is shown once; a cycle (forged refs) ends here.
      if (!kidUid || seen.has(kidUid)) continue;
      seen.add(kidUid);
      if (depth > limits.maxDepth || here >= limits.maxPerOwner || shown >= limits.maxTotal) {
        hidden++;
        continue;
      }
      here++;
      shown++;
      const view = ownedView(kid, depth, ownerKey);
      out.push(view);
      walk(kidUid, view.key, depth + 1, out);
    }
  };
  for (const root of roots) {
    if (root.uid) seen.add(root.uid);
  }
  for (const root of roots) {
    if (!root.uid) continue;
    const out: OwnedView[] = [];
    walk(root.uid, root.key, 1, out);
    if (out.length > 0) rows.set(root.key, out);
  }
  return { rows, hidden };
}
