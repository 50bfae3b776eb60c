/**
 * One reconcile of one GitApp: a fixed list of named steps over a shared context. A failed step
 * ends the run, so nothing is applied or pruned after a failed fetch or render. Status is composed
 * once, at the end (outcome.ts), from what the steps recorded.
 */
import type { AlertSink } from "../manifest/event.js";
import type { ClusterClient } from "../cluster/client.js";
import { GitgateError, reasonOf, terminal, transient } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { AppRef, DesiredEntry } from "../manifest/desired.js";
import { APP_LABEL, appLabelValue } from "../manifest/labels.js";
import { describeRef, type KubeObject } from "../manifest/object.js";
import type { DriftRecord } from "./apply.js";
import { runOperation } from "./operation.js";
import { hookOf } from "./waves.js";
import type { GateForSync } from "../gate/gate.js";
import {
  effectiveSpec,
  type EffectiveSpec,
  type EnforcementDefaults,
  type GitApp,
  type InventoryEntry,
  type SyncOperation,
} from "../api/gitapp.js";
import { healthOf, summarizeHealth, type HealthStatus, type ObjectHealth } from "../health/index.js";
import type { LiveState } from "./live.js";
import { prepareEntries, refuseTenantEscapes, type RenderedObject } from "./prepare.js";
import type { RenderStore } from "./render-store.js";
import { deletePruned, inventoryKey, planPrune, type PruneProgress } from "./prune.js";

/** Seams owned here; src/source and src/render implement them. */
export interface GitCredentials {
  username?: string;
  password?: string;
  token?: string;
  sshPrivateKey?: string;
  knownHosts?: string;
  caCert?: string;
}
export interface SourceFetcher {
  resolve(req: {
    repoURL: string;
    revision: string;
    /** A Helm chart of a chart repository (`repoURL`); `commit` is then the resolved chart version. */
    chart?: string;
    credentials?: GitCredentials;
    insecureSkipTLSVerify?: boolean;
  }): Promise<{ commit: string; dir: string }>;
  /** A push to this repository: what was looked up of it before is not reused (the push receiver). */
  repoPushed?(repoURL: string): void;
}
export interface RenderInput {
  repoDir: string;
  path: string;
  namespace: string;
  /** Checkout of the values source (`$values/<path>` value files). */
  valuesRepoDir?: string;
  helm?: {
    releaseName?: string;
    valueFiles?: string[];
    values?: Record<string, unknown>;
    namespace?: string;
  };
}
export type Renderer = (req: RenderInput) => Promise<{ objects: RenderedObject[] }>;

export interface SyncSettings {
  concurrency: number;
  maxPruneShare: number;
  defaultMode: EffectiveSpec["mode"];
  minIntervalMs: number;
  /** A status that differs only in timestamps is written at most this often (status-write.ts). */
  statusHeartbeatMs?: number;
  /** The config's undeclaredFields and allowedChanges, which each GitApp's enforcement extends. */
  enforcement?: EnforcementDefaults;
}

export interface ReconcileDeps {
  client: ClusterClient;
  source: SourceFetcher;
  render: Renderer;
  /** The state shared with the admission webhook: the index written here, holds and admitted changes read. */
  gate: GateForSync;
  live: LiveState;
  alerts: AlertSink;
  logger: Logger;
  settings: SyncSettings;
  credentials: (namespace: string, secretName: string) => Promise<GitCredentials>;
  /** Renders kept on disk for the next start (render-store.ts); absent: none kept. */
  renderStore?: RenderStore;
  /** Whether a GitApp exists (its objects are not adopted by another). Absent: assume it does. */
  appExists?: (app: AppRef) => boolean;
  /** Leadership now (it can move during a reconcile); absent: the role given at the start holds. */
  stillLeading?: () => boolean;
  /**
   * Why this app's destination cannot be synced here (an unknown cluster, a tenant naming a remote
   * one): the reconcile then fetches, indexes, applies and prunes nothing.
   */
  refuseDestination?: (app: GitApp, spec: EffectiveSpec) => GitgateError | undefined;
}

export type Role = "leader" | "follower";

export interface ReconcileContext {
  app: GitApp;
  spec: EffectiveSpec;
  role: Role;
  commit?: string;
  repoDir?: string;
  /** The values source's commit and checkout, when the spec has one. */
  valuesCommit?: string;
  valuesDir?: string;
  desired: DesiredEntry[];
  inventory: InventoryEntry[];
  /** Hooks of the render (waves.ts): created by the sync operation, never indexed nor pruned. */
  hooks: DesiredEntry[];
  /** Objects the render marks Skip (or Helm hooks of other events): never applied. */
  skipped: number;
  /** The sync operation this reconcile advanced (status.operation). */
  operation?: SyncOperation;
  /** Set when the operation waits for a step to become healthy: why. */
  waiting?: string;
  /** Run again this soon (a waiting operation). */
  requeueAfterMs?: number;
  /** Every Sync-phase step has been applied: pruning may run (unless prune-last waits). */
  syncApplied?: boolean;
  /** Objects that left Git and were kept: prune disabled on them. */
  kept: string[];
  /** Objects that left Git whose prune waits for the rest of the app (`PruneLast=true` on them). */
  pruneDeferred: string[];
  drift: DriftRecord[];
  appliedCount: number;
  pruned: string[];
  pruneRefused?: string;
  health?: HealthStatus;
  /** The objects at the app's health, named with their messages (see summarizeHealth). */
  healthMessage?: string;
  conflicts: string[];
  error?: GitgateError;
  failedStep?: StepName;
  /** Steps that ran to completion, for tests and logs. */
  completed: StepName[];
  /** How long each step ran (ms), for the "reconciled" log line: where a slow sync spends it. */
  stepMs: Partial<Record<StepName, number>>;
}

export type StepName = "destination" | "fetch" | "render" | "index" | "apply" | "prune" | "health";
type Step = (ctx: ReconcileContext, deps: ReconcileDeps) => Promise<void>;
/** What fetching and rendering need: no cluster writes, no gate. */
export type RenderDeps = Pick<ReconcileDeps, "client" | "source" | "render" | "credentials" | "renderStore">;
type RenderStep = (ctx: ReconcileContext, deps: RenderDeps) => Promise<void>;

/**
 * Rendering is deterministic: the same commit and spec give the same objects, so keep the last,
 * one per app (its entries are the index's own objects, so it costs the map alone). Bounded by the
 * GitApps that exist: a deleted one's render is dropped (forgetRender).
 */
const renderCache = new WeakMap<RenderDeps, Map<string, { id: string; entries: DesiredEntry[] }>>();

/** The app is gone (or no longer served here): its cached render goes too. */
export function forgetRender(deps: RenderDeps, app: AppRef): void {
  renderCache.get(deps)?.delete(`${app.namespace}/${app.name}`);
  deps.renderStore?.forget(`${app.namespace}/${app.name}`);
}

const fetchStep: RenderStep = async (ctx, deps) => {
  const { spec } = ctx;
  // Followers render what the leader applied, so every replica's admission index agrees.
  const revision =
    ctx.role === "follower" && ctx.app.status?.revision ? ctx.app.status.revision : spec.revision;
  const credentials = spec.credentialsSecret
    ? await deps.credentials(spec.app.namespace, spec.credentialsSecret)
    : undefined;
  const checkout = await deps.source.resolve({
    repoURL: spec.repoURL,
    revision,
    ...(spec.chart ? { chart: spec.chart } : {}),
    credentials,
    ...(spec.insecureSkipTLSVerify ? { insecureSkipTLSVerify: true } : {}),
  });
  ctx.commit = checkout.commit;
  ctx.repoDir = checkout.dir;
  if (spec.valuesFrom) await fetchValues(ctx, deps, spec.valuesFrom);
};

/** The values source's checkout; a follower takes the commit the leader recorded, as for the source. */
async function fetchValues(
  ctx: ReconcileContext,
  deps: RenderDeps,
  from: NonNullable<EffectiveSpec["valuesFrom"]>,
): Promise<void> {
  const recorded = ctx.app.status?.source?.valuesRevision;
  const revision = ctx.role === "follower" && recorded ? recorded : from.revision;
  const credentials = from.credentialsSecret
    ? await deps.credentials(ctx.spec.app.namespace, from.credentialsSecret)
    : undefined;
  const checkout = await deps.source.resolve({ repoURL: from.repoURL, revision, credentials });
  ctx.valuesCommit = checkout.commit;
  ctx.valuesDir = checkout.dir;
}

const renderStep: RenderStep = async (ctx, deps) => {
  const { spec } = ctx;
  const commit = ctx.commit ?? "";
  const id = JSON.stringify([
    commit,
    spec.path,
    spec.helm,
    spec.namespace,
    spec.mode,
    spec.ignore,
    spec.repoURL,
    spec.chart,
    ctx.valuesCommit,
    // Entries carry the enforcement choices, and a tenant's are access-reviewed as its identity.
    spec.undeclaredFields,
    spec.allowedChanges,
    spec.actAs,
  ]);
  const cache = renderCache.get(deps) ?? new Map<string, { id: string; entries: DesiredEntry[] }>();
  renderCache.set(deps, cache);
  const cached = cache.get(`${spec.app.namespace}/${spec.app.name}`);
  if (cached?.id === id) {
    // A tenant's rights can be revoked at the same commit: review them again before re-indexing.
    if (spec.actAs) await refuseTenantEscapes(deps.client, spec.actAs, cached.entries);
    ctx.desired = cached.entries;
    return;
  }
  // Like Argo CD, the release is named after the GitApp unless the spec names it.
  const helm = {
    ...spec.helm,
    releaseName: spec.helm?.releaseName ?? spec.app.name,
    namespace: spec.namespace,
  };
  const input: RenderInput = {
    repoDir: ctx.repoDir ?? "",
    path: spec.path,
    namespace: spec.namespace,
    ...(ctx.valuesDir ? { valuesRepoDir: ctx.valuesDir } : {}),
    helm,
  };
  const objects = await renderThroughStore(deps, `${spec.app.namespace}/${spec.app.name}`, input, [
    commit,
    ctx.valuesCommit,
  ]);
  ctx.desired = await prepareEntries(deps.client, objects, spec, commit, ctx.valuesCommit);
  cache.set(`${spec.app.namespace}/${spec.app.name}`, { id, entries: ctx.desired });
};

/**
 * The renderer's output for this input, from the render store when it holds exactly this input's
 * (a restart), else rendered and stored. `revisions` make the id name the commits even where a
 * checkout's path would not (a chart version).
 */
async function renderThroughStore(
  deps: RenderDeps,
  app: string,
  input: RenderInput,
  revisions: Array<string | undefined>,
): Promise<RenderedObject[]> {
  const store = deps.renderStore;
  if (!store) return (await deps.render(input)).objects;
  const id = store.idOf([revisions, input]);
  const stored = await store.load(app, id);
  if (stored) return stored;
  const { objects } = await deps.render(input);
  store.save(app, id, objects);
  return objects;
}

const indexStep: Step = (ctx, deps) => {
  // Deleted while it was fetching or rendering: its entries must not come back into the index.
  if (deps.appExists?.(ctx.spec.app) === false)
    return Promise.reject(terminal("AppDeleted", "the GitApp was deleted during the sync"));
  // Hooks are one-off operations: not judged by the gate as Git's objects, not in the inventory.
  const split = splitHooks(ctx.desired);
  ctx.desired = split.resources;
  ctx.hooks = split.hooks;
  ctx.skipped = split.skipped;
  const { index } = deps.gate;
  const { conflicts } = index.replaceApp(ctx.spec.app, ctx.desired);
  ctx.conflicts = conflicts;
  ctx.desired = ctx.desired.filter(
    (e) =>
      index.get(e.key)?.app.name === ctx.spec.app.name &&
      index.get(e.key)?.app.namespace === ctx.spec.app.namespace,
  );
  ctx.inventory = ctx.desired.map((e) => ({
    group: e.ref.group,
    version: e.object.apiVersion.includes("/")
      ? (e.object.apiVersion.split("/")[1] ?? "")
      : e.object.apiVersion,
    kind: e.ref.kind,
    namespace: e.ref.namespace || undefined,
    name: e.ref.name,
  }));
  if (conflicts.length > 0) {
    return Promise.reject(
      terminal("OwnershipConflict", `objects managed by another GitApp: ${conflicts.slice(0, 5).join(", ")}`),
    );
  }
  return Promise.resolve();
};

/** Watches every kind of the render, so the apply plan compares with a live copy. */
async function watchKinds(ctx: ReconcileContext, deps: ReconcileDeps): Promise<void> {
  const kinds = new Map(ctx.desired.map((e) => [`${e.object.apiVersion}/${e.object.kind}`, e.object]));
  for (const obj of kinds.values()) {
    // Kinds of CRDs in this same render are not served yet; they are applied without a cached copy.
    // A kind gitgate may not list is an RBAC gap to report, not to paper over (no drift, no self-heal).
    await deps.live.watch(obj.apiVersion, obj.kind).catch((err: unknown) => {
      if (reasonOf(err, "") === "Forbidden") throw err;
    });
  }
}

/**
 * Objects another GitApp owns on the cluster are never taken over (nor later pruned): they leave
 * this app's gate entries, and the sync fails with OwnershipConflict.
 */
function checkOwnership(ctx: ReconcileContext, deps: ReconcileDeps): void {
  const { spec } = ctx;
  // The index only knows apps rendered since this process started: the live label is the record
  // of ownership. Objects of a GitApp that still exists are never taken over (nor later pruned).
  const mine = appLabelValue(spec.app);
  const ownerOf = (e: DesiredEntry): AppRef | undefined => {
    const owner = deps.live.get(e.object)?.metadata.labels?.[APP_LABEL];
    if (!owner || owner === mine) return undefined;
    const [namespace = "", ...rest] = owner.split(".");
    const app = { namespace, name: rest.join(".") };
    return deps.appExists?.(app) === false ? undefined : app;
  };
  const taken = ctx.desired.flatMap((e) => {
    const owner = ownerOf(e);
    return owner ? [{ e, owner }] : [];
  });
  if (taken.length === 0) return;
  // The admission gate must keep judging those objects by their owner's Git, not this app's.
  deps.gate.release(spec.app, new Set(taken.map((t) => t.e.key)));
  const named = taken.map((t) => `${describeRef(t.e.ref)} (managed by ${t.owner.namespace}/${t.owner.name})`);
  throw terminal("OwnershipConflict", `objects managed by another GitApp: ${named.slice(0, 5).join(", ")}`);
}

const applyStep: Step = async (ctx, deps) => {
  const { spec } = ctx;
  await watchKinds(ctx, deps);
  checkOwnership(ctx, deps);
  if (spec.createNamespace) await ensureNamespace(writerOf(deps, spec), spec.namespace, ctx.desired);
  // Waves and hooks in order (operation.ts); a wave that is not healthy yet ends this run early.
  await runOperation(ctx, deps, writerOf(deps, spec));
};

/** Pruning waits until every wave is applied, and with prune-last until the sync has succeeded. */
function mayPruneNow(ctx: ReconcileContext): boolean {
  if (!ctx.syncApplied) return false;
  return !ctx.spec.pruneLast || ctx.operation?.phase !== "Running";
}

const pruneStep: Step = async (ctx, deps) => {
  const previous = ctx.app.status?.inventory ?? [];
  const plan = planPrune(previous, ctx.inventory, deps.settings.maxPruneShare);
  // What left Git but is not deleted now stays in the inventory, so a later sync still prunes it
  // and its objects stay recorded as this app's.
  const retained: InventoryEntry[] = [];
  try {
    if (!mayPruneNow(ctx)) {
      retained.push(...plan.toDelete);
      return;
    }
    if (plan.refused) {
      ctx.pruneRefused = plan.refused;
      retained.push(
        ...previous.filter((e) => !ctx.inventory.some((n) => inventoryKey(n) === inventoryKey(e))),
      );
      return;
    }
    // Deleting is the one step that must not run on a replica that just lost the Lease.
    if (!ctx.spec.prune || deps.stillLeading?.() === false) {
      retained.push(...plan.toDelete);
      return;
    }
    const rest = restOfApp(ctx, deps);
    const progress: PruneProgress = {
      pruned: ctx.pruned,
      retained,
      kept: ctx.kept,
      deferred: ctx.pruneDeferred,
    };
    try {
      await deletePruned(
        plan.toDelete,
        {
          client: deps.client,
          writer: writerOf(deps, ctx.spec),
          index: deps.gate.index,
          app: ctx.spec.app,
          holdPruneLast: rest !== "Healthy",
        },
        progress,
      );
    } finally {
      if (progress.refused) ctx.pruneRefused ??= progress.refused;
    }
    // Look again soon while the rest is on its way to healthy, rather than at the next interval.
    if (ctx.pruneDeferred.length > 0 && rest === "Progressing") ctx.requeueAfterMs ??= PRUNE_LAST_REQUEUE_MS;
  } finally {
    ctx.inventory = [...ctx.inventory, ...retained];
  }
};

/** How soon a reconcile with `PruneLast=true` objects left to prune runs again. */
const PRUNE_LAST_REQUEUE_MS = 5_000;

/**
 * Where the rest of the app stands for `PruneLast=true` objects: they go once it is Healthy (the sync
 * operation done too); a running operation counts as Progressing.
 */
function restOfApp(ctx: ReconcileContext, deps: ReconcileDeps): HealthStatus {
  if (ctx.operation?.phase === "Running") return "Progressing";
  return summarizeHealth(objectHealths(ctx.desired, deps.live)).status;
}

const healthStep: Step = (ctx, deps) => {
  const summary = summarizeHealth(objectHealths(ctx.desired, deps.live));
  ctx.health = summary.status;
  ctx.healthMessage = summary.message;
  return Promise.resolve();
};

/**
 * Each desired object's health from the watch cache. A miss in a watched kind is Missing; a kind
 * not watched yet (a CRD's kind in the same render) is Unknown until it is.
 */
export function objectHealths(
  desired: readonly DesiredEntry[],
  live: Pick<LiveState, "get" | "watches">,
): ObjectHealth[] {
  return desired.map((e) => {
    const object = describeRef(e.ref);
    const current = live.get(e.object);
    if (current) return { object, health: healthOf(current) };
    return live.watches(e.object)
      ? { object, health: { status: "Missing", message: "not found in the cluster" } }
      : { object, health: { status: "Unknown" } };
  });
}

/** Hooks apart from resources; Skip objects (and Helm hooks of other events) are left out. */
export function splitHooks(entries: DesiredEntry[]): {
  resources: DesiredEntry[];
  hooks: DesiredEntry[];
  skipped: number;
} {
  const resources: DesiredEntry[] = [];
  const hooks: DesiredEntry[] = [];
  let skipped = 0;
  for (const entry of entries) {
    const hook = hookOf(entry.object);
    if (hook === "skip") skipped++;
    else if (hook) hooks.push(entry);
    else if (entry.ref.name.endsWith("*"))
      skipped++; // generateName outside a hook: parse refuses it
    else resources.push(entry);
  }
  return { resources, hooks, skipped };
}

/** The client a GitApp's writes go through: a tenant's act as its ServiceAccount, so RBAC decides. */
function writerOf(deps: ReconcileDeps, spec: EffectiveSpec): ClusterClient {
  return spec.actAs ? deps.client.as(spec.actAs) : deps.client;
}

async function ensureNamespace(client: ClusterClient, name: string, desired: DesiredEntry[]): Promise<void> {
  if (desired.some((e) => e.ref.kind === "Namespace" && e.ref.name === name)) return;
  const existing = await client.get({ apiVersion: "v1", kind: "Namespace", name });
  if (existing) return;
  const ns: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name } };
  // Created unlabelled, like Argo CD's CreateNamespace: it is not part of the inventory, never pruned.
  await client.create(ns, { fieldManager: "gitgate" });
}

const LEADER_STEPS: Array<[StepName, Step]> = [
  ["fetch", fetchStep],
  ["render", renderStep],
  ["index", indexStep],
  ["apply", applyStep],
  ["prune", pruneStep],
  ["health", healthStep],
];

function newContext(app: GitApp, role: Role, spec: EffectiveSpec): ReconcileContext {
  return {
    app,
    spec,
    role,
    desired: [],
    inventory: [],
    drift: [],
    appliedCount: 0,
    hooks: [],
    skipped: 0,
    kept: [],
    pruneDeferred: [],
    pruned: [],
    conflicts: [],
    completed: [],
    stepMs: {},
  };
}

/** A step's failure as the reconcile records it: classified, never a bare throw. */
function classified(err: unknown): GitgateError {
  return err instanceof GitgateError
    ? err
    : transient("InternalError", err instanceof Error ? err.message : String(err), err);
}

/**
 * The GitApp's desired objects as a follower renders them (the revision gitgate applied, else the
 * spec's), without touching the gate or writing anything: for `gitgate diff` and `status`.
 */
export async function renderDesired(
  app: GitApp,
  deps: RenderDeps,
  defaultMode: EffectiveSpec["mode"],
  enforcement?: EnforcementDefaults,
): Promise<DesiredEntry[]> {
  // With the config's enforcement defaults the entries (and the render cache's key) are the
  // reconcile's own: the index primed at start (prime.ts) judges as the reconcile's would.
  const ctx = newContext(app, "follower", effectiveSpec(app, defaultMode, 0, enforcement));
  try {
    await fetchStep(ctx, deps);
    await renderStep(ctx, deps);
  } catch (err) {
    throw classified(err);
  }
  // Hooks are one-off operations, not objects the cluster should match.
  return splitHooks(ctx.desired).resources;
}

export async function reconcile(app: GitApp, role: Role, deps: ReconcileDeps): Promise<ReconcileContext> {
  const spec = effectiveSpec(
    app,
    deps.settings.defaultMode,
    deps.settings.minIntervalMs,
    deps.settings.enforcement,
  );
  const ctx = newContext(app, role, spec);
  const refused = deps.refuseDestination?.(app, spec);
  if (refused) {
    ctx.error = refused;
    ctx.failedStep = "destination";
    deps.gate.index.markAttempted(spec.app);
    return ctx;
  }
  // Suspended apps and followers still render: the admission gate needs the index either way.
  const steps = role === "follower" || spec.suspend ? LEADER_STEPS.slice(0, 3) : LEADER_STEPS;
  for (const [name, step] of steps) {
    const started = performance.now();
    try {
      await step(ctx, deps);
      ctx.completed.push(name);
      ctx.stepMs[name] = Math.round(performance.now() - started);
    } catch (err) {
      ctx.error = classified(err);
      ctx.failedStep = name;
      if (name === "fetch" || name === "render") deps.gate.index.markAttempted(spec.app);
      break;
    }
  }
  return ctx;
}
