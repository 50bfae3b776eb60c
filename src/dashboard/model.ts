/**
 * What the views show, read from the controller's state: the GitApps as last watched, the desired
 * index (what Git says, per object) and the live cache (what the cluster has). Pure given those
 * readers; no API calls.
 */
import { destinationCluster, type GitApp, type InventoryEntry } from "../api/gitapp.js";
import { diffDeclared } from "../diff/index.js";
import { healthOf } from "../health/index.js";
import type { HealthStatus } from "../health/types.js";
import type { AppRef, DesiredEntry, GitLocation } from "../manifest/desired.js";
import type { FieldChange } from "../manifest/event.js";
import { keyOf, type KubeObject } from "../manifest/object.js";
import type { CommitInfo } from "../source/commit-info.js";
import { ownedTree, type ObjectRow, type OwnedView } from "./tree.js";

export interface StateReaders {
  apps(): Iterable<GitApp>;
  /** The app's entries in the desired index. */
  desired(app: AppRef): DesiredEntry[];
  /** The object as the watch of the app's cluster last saw it. */
  live(app: AppRef, obj: KubeObject): KubeObject | undefined;
  /** Subject and author of a synced commit, when this process fetched it. */
  commit?(sha: string): CommitInfo | undefined;
  /** The registered clusters (none: gitgate manages only the cluster it runs in). */
  clusters?(): ClusterRow[];
}

/** A registered cluster: whether it answers (its GitApps sync only while it does). */
export interface ClusterRow {
  name: string;
  reachable: boolean;
  serverVersion?: string;
  lastError?: string;
}

export interface AppSummary {
  namespace: string;
  name: string;
  /** The registered cluster it syncs to; "" for the cluster gitgate runs in. */
  cluster: string;
  sync: string;
  health: HealthStatus | "Unknown";
  drifted: number;
  revision: string;
  /** The synced commit's subject and author ("" when this replica did not fetch it). */
  subject: string;
  author: string;
  lastSync: string;
  message: string;
}

export interface ObjectView extends ObjectRow {
  /** "Synced", "Drifted", "Missing", or "Not indexed" (in the inventory, not in the index yet). */
  sync: string;
  source?: GitLocation;
  /** Git vs live, Secret values redacted by the diff. */
  changes: FieldChange[];
  /** The live object's uid (its owned objects name it). */
  uid?: string;
  /** What it owns in the cluster (tree.ts), depth first. */
  owned: OwnedView[];
}

export interface AppDetail {
  summary: AppSummary;
  repoURL: string;
  path: string;
  objects: ObjectView[];
  /** Owned objects found but not shown (bounds), and why some could not be listed. */
  ownedHidden: number;
  ownedNotes: string[];
}

/** Kinds whose controllers create objects gitgate does not watch (the tree lists those). */
export const OWNER_KINDS: ReadonlySet<string> = new Set([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "Job",
  "CronJob",
]);

const MAX_MESSAGE = 300;

function conditionOf(app: GitApp, type: string): { status: string; message: string } | undefined {
  return app.status?.conditions?.find((c) => c.type === type);
}

export function summarize(app: GitApp, commit?: StateReaders["commit"]): AppSummary {
  const synced = conditionOf(app, "Synced");
  const ready = conditionOf(app, "Ready");
  const message = (ready?.status === "True" ? synced?.message : ready?.message) ?? synced?.message ?? "";
  const revision = app.status?.revision ?? "";
  const info = revision ? commit?.(revision) : undefined;
  return {
    namespace: app.metadata.namespace ?? "",
    name: app.metadata.name ?? "",
    cluster: destinationCluster(app) ?? "",
    sync: synced ? (synced.status === "True" ? "Synced" : "OutOfSync") : "Unknown",
    health: app.status?.health ?? "Unknown",
    drifted: app.status?.drift?.length ?? 0,
    revision: (app.status?.revision ?? "").slice(0, 7),
    subject: info?.subject ?? "",
    author: info?.author ?? "",
    lastSync: app.status?.lastSyncTime ?? "",
    message: message.slice(0, MAX_MESSAGE),
  };
}

/** Apps in the visible namespaces, optionally one namespace, sorted by namespace/name. */
export function listApps(
  readers: StateReaders,
  visible: ReadonlySet<string>,
  namespace?: string,
): AppSummary[] {
  return [...readers.apps()]
    .map((app) => summarize(app, readers.commit?.bind(readers)))
    .filter((a) => visible.has(a.namespace) && (!namespace || a.namespace === namespace))
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

function objectView(entry: DesiredEntry, live: KubeObject | undefined): ObjectView {
  const changes = live ? diffDeclared(entry.object, live, entry.ignore) : [];
  const health = live ? healthOf(live) : { status: "Missing" as const, message: "not found on the cluster" };
  return {
    key: entry.key,
    kind: entry.ref.kind,
    namespace: entry.ref.namespace,
    name: entry.ref.name,
    health: health.status,
    healthMessage: (health.message ?? "").slice(0, MAX_MESSAGE),
    sync: !live ? "Missing" : changes.length > 0 ? "Drifted" : "Synced",
    source: entry.source,
    changes: changes.map(({ pointer: _pointer, ...change }) => change),
    ...(typeof live?.metadata?.uid === "string" ? { uid: live.metadata.uid } : {}),
    owned: [],
  };
}

function inventoryOnly(item: InventoryEntry): ObjectView {
  return {
    key: keyOf({ group: item.group, kind: item.kind, namespace: item.namespace ?? "", name: item.name }),
    kind: item.kind,
    namespace: item.namespace ?? "",
    name: item.name,
    health: "Unknown",
    healthMessage: "",
    sync: "Not indexed",
    changes: [],
    owned: [],
  };
}

export function appDetail(readers: StateReaders, app: GitApp): AppDetail {
  const ref = { namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" };
  const entries = readers.desired(ref);
  const objects = entries.map((e) => objectView(e, readers.live(ref, e.object)));
  const known = new Set(objects.map((o) => o.key));
  for (const item of app.status?.inventory ?? []) {
    const view = inventoryOnly(item);
    if (!known.has(view.key)) objects.push(view);
  }
  objects.sort((a, b) => a.key.localeCompare(b.key));
  return {
    summary: summarize(app, readers.commit?.bind(readers)),
    repoURL: app.spec.source.repoURL,
    path: app.spec.source.path ?? "",
    objects,
    ownedHidden: 0,
    ownedNotes: [],
  };
}

/** The namespaces where the app's live owner objects are (where owned objects are looked for). */
export function ownerNamespaces(detail: AppDetail): string[] {
  return [
    ...new Set(
      detail.objects.filter((o) => o.uid && OWNER_KINDS.has(o.kind) && o.namespace).map((o) => o.namespace),
    ),
  ].sort();
}

/** The detail with each Git object's owned objects under it. */
export function withOwned(detail: AppDetail, candidates: readonly KubeObject[], notes: string[]): AppDetail {
  const tree = ownedTree(detail.objects, candidates);
  return {
    ...detail,
    objects: detail.objects.map((o) => ({ ...o, owned: tree.rows.get(o.key) ?? [] })),
    ownedHidden: tree.hidden,
    ownedNotes: notes.slice(0, 10),
  };
}
