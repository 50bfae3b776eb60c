/**
 * Apply step: decide which desired objects need a write (missing, changed in Git, drifted), then
 * server-side apply them in two phases (Namespaces and CRDs first) with bounded parallelism.
 */
import type { FieldChange } from "../manifest/event.js";
import type { ClusterClient } from "../cluster/client.js";
import { diffDeclared } from "../diff/index.js";
import { additionsOf, takeOver, type Addition } from "../diff/managed-fields.js";
import { ApiError } from "../cluster/api-error.js";
import { classOf, GitgateError, messageOf } from "../errors.js";
import type { DesiredEntry } from "../manifest/desired.js";
import type { ClaimedField } from "../gate/admitted-changes.js";
import {
  COMMIT_ANNOTATION,
  CONTENT_ANNOTATION,
  FIELD_MANAGER,
  FILE_ANNOTATION,
  REPO_ANNOTATION,
} from "../manifest/labels.js";
import { describeRef, type KubeObject } from "../manifest/object.js";
import { lastChanger } from "./attribution.js";
import { mapLimit } from "../bounded/map-limit.js";
import { syncOptionsOf } from "./waves.js";

export interface DriftRecord {
  entry: DesiredEntry;
  changes: FieldChange[];
  changedBy?: string;
  /** What was done about it: reverted (self-heal), reported (self-heal off) or held (break-glass). */
  action: "reverted" | "reported" | "held";
}

export interface ApplyPlan {
  toApply: DesiredEntry[];
  drift: DriftRecord[];
  /** Objects whose undeclared additions gitgate takes over before applying, so the apply removes them. */
  takeOvers: Map<string, TakeOver>;
}

export interface TakeOver {
  live: KubeObject;
  additions: Addition[];
}

/** What an alert and status show of an addition: the path, the live value, who wrote it. */
function asChange(a: Addition): FieldChange {
  return { path: a.path, liveValue: a.liveValue, undeclared: true, manager: a.manager };
}

const COMMIT_STAMP = `metadata.annotations.${COMMIT_ANNOTATION}`;
const BOOKKEEPING = new Set([
  COMMIT_STAMP,
  `metadata.annotations.${CONTENT_ANNOTATION}`,
  `metadata.annotations.${FILE_ANNOTATION}`,
  `metadata.annotations.${REPO_ANNOTATION}`,
]);

/** A change's path with bracketed keys written dotted (`annotations[gitgate.io/x]` → `annotations.gitgate.io/x`). */
function dotted(change: FieldChange): string {
  return change.path.replace(/\[["']?([^[\]"']+)["']?\]/g, ".$1");
}

function isBookkeeping(change: FieldChange): boolean {
  return BOOKKEEPING.has(change.path) || BOOKKEEPING.has(dotted(change));
}

/**
 * Whether the live copy was applied from this very content: its content stamp is the desired one
 * (a commit elsewhere in the repository leaves it). Objects applied before the stamp existed
 * fall back to the commit.
 */
function isCurrent(entry: DesiredEntry, live: KubeObject): boolean {
  const liveContent = live.metadata.annotations?.[CONTENT_ANNOTATION];
  if (liveContent === undefined)
    return live.metadata.annotations?.[COMMIT_ANNOTATION] === entry.source.commit;
  return liveContent === entry.object.metadata.annotations?.[CONTENT_ANNOTATION];
}

/**
 * Pure decision. An object whose live copy already carries this commit but differs on declared
 * fields was changed behind Git's back: drift. One carrying another commit is simply out of date.
 */
export function planApply(
  entries: DesiredEntry[],
  liveOf: (obj: KubeObject) => KubeObject | undefined,
  opts: {
    selfHeal: boolean;
    /** Break-glass: self-heal leaves the object alone (the live copy may carry a signed hold). */
    isHeld: (key: string, live?: KubeObject) => boolean;
    /** The user this process's webhook admitted setting these fields to these live values (AdmittedChanges). */
    admittedChanger?: (key: string, drifted: readonly ClaimedField[]) => string | undefined;
  },
): ApplyPlan {
  const plan: ApplyPlan = { toApply: [], drift: [], takeOvers: new Map() };
  for (const entry of entries) {
    const live = liveOf(entry.object);
    if (!live) {
      // Deleted under break-glass: it comes back when the hold expires, not now.
      if (!opts.isHeld(entry.key)) plan.toApply.push(entry);
      continue;
    }
    const all = diffDeclared(entry.object, live, entry.ignore);
    const additions = additionsOf(entry, live);
    // Out of date: applied anyway. Declared fields are simply updated; additions outside Git are
    // drift all the same (an apply alone would keep them).
    const current = isCurrent(entry, live);
    const changes = [...(current ? all.filter((c) => !isBookkeeping(c)) : []), ...additions.map(asChange)];
    if (changes.length === 0) {
      // Only gitgate's own annotations differ (e.g. a repo URL now stamped without credentials);
      // a commit stamp alone is no reason to write (a monorepo commit would rewrite every app).
      if (!current || all.some((c) => c.path !== COMMIT_STAMP && dotted(c) !== COMMIT_STAMP))
        plan.toApply.push(entry);
      continue;
    }
    const held = opts.isHeld(entry.key, live);
    const action = held ? "held" : opts.selfHeal ? "reverted" : "reported";
    const paths = changes.map((c) => c.path);
    const drifted = changes.map((c) => ({ path: c.path, value: c.liveValue }));
    const changedBy = opts.admittedChanger?.(entry.key, drifted) ?? lastChanger(live, paths);
    plan.drift.push({ entry, changes, changedBy, action });
    if (action === "reverted" && additions.length > 0) plan.takeOvers.set(entry.key, { live, additions });
    if (action === "reverted" || !current) plan.toApply.push(entry);
  }
  return plan;
}

const FIRST_PHASE = new Set(["Namespace", "CustomResourceDefinition"]);

export interface ApplyResult {
  applied: KubeObject[];
  errors: GitgateError[];
}

export interface ApplyOptions {
  takeOvers?: ReadonlyMap<string, TakeOver>;
  /** The object to apply for an entry (ignored fields kept live); default: the entry's. */
  objectOf?: (entry: DesiredEntry) => KubeObject;
}

export async function applyEntries(
  client: ClusterClient,
  entries: DesiredEntry[],
  concurrency: number,
  onApplied: (live: KubeObject) => void,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const takeOvers = opts.takeOvers ?? new Map<string, TakeOver>();
  const result: ApplyResult = { applied: [], errors: [] };
  const phases = [
    entries.filter((e) => FIRST_PHASE.has(e.ref.kind)),
    entries.filter((e) => !FIRST_PHASE.has(e.ref.kind)),
  ];
  for (const phase of phases) {
    await mapLimit(phase, concurrency, async (entry) => {
      try {
        const taking = takeOvers.get(entry.key);
        if (taking) await takeOverFields(client, entry, taking);
        const live = await applyOrReplace(client, opts.objectOf?.(entry) ?? entry.object);
        onApplied(live);
        result.applied.push(live);
      } catch (err) {
        const where = `${describeRef(entry.ref)} (${entry.source.file})`;
        result.errors.push(
          new GitgateError(classOf(err), "ApplyFailed", `${where}: ${messageOf(err)}`, { cause: err }),
        );
      }
    });
    const crds = result.applied.filter((o) => o.kind === "CustomResourceDefinition");
    if (crds.length > 0) await waitEstablished(client, crds);
    if (result.errors.length > 0) break; // later phases may depend on what failed
  }
  return result;
}

/** An apply refused because a field is immutable (a Job's template, an immutable ConfigMap's data). */
function isImmutableRefusal(err: unknown): boolean {
  return err instanceof ApiError && err.status === 422 && /immutable/i.test(err.message);
}

/**
 * Server-side apply; with `Replace=true` (sync-options, opt-in) an apply refused for an immutable
 * field deletes the object and creates it again from Git, as Argo CD's Replace/Force options do.
 */
async function applyOrReplace(client: ClusterClient, obj: KubeObject): Promise<KubeObject> {
  try {
    return await client.apply(obj, { fieldManager: FIELD_MANAGER, force: true });
  } catch (err) {
    if (!isImmutableRefusal(err) || !syncOptionsOf(obj).replace) throw err;
  }
  const target = {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name ?? "",
  };
  await client.delete(target);
  const deadline = Date.now() + 30_000;
  // Finalizers (and background deletion of dependents) can keep it a while; bounded.
  while ((await client.get(target)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return client.apply(obj, { fieldManager: FIELD_MANAGER, force: true });
}

/**
 * Moves the additions' ownership to gitgate's Apply entry. Guarded by the resourceVersion the
 * additions were read from: a write in between fails the patch (409/422) and the next sync re-reads.
 */
async function takeOverFields(client: ClusterClient, entry: DesiredEntry, taking: TakeOver): Promise<void> {
  const { live, additions } = taking;
  const managedFields = takeOver(live, additions, entry.object.apiVersion, new Date());
  const target = {
    apiVersion: live.apiVersion,
    kind: live.kind,
    namespace: live.metadata.namespace,
    name: live.metadata.name ?? "",
  };
  await client.patch(
    target,
    [
      { op: "test", path: "/metadata/resourceVersion", value: live.metadata.resourceVersion },
      { op: "replace", path: "/metadata/managedFields", value: managedFields },
    ],
    "json",
  );
}

/** New CRDs take a moment before their kinds are served; wait instead of failing the next phase. */
async function waitEstablished(client: ClusterClient, crds: KubeObject[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    while (Date.now() < deadline) {
      const live = await client.get({
        apiVersion: crd.apiVersion,
        kind: crd.kind,
        name: crd.metadata.name ?? "",
      });
      const conditions = (
        live?.status as { conditions?: Array<{ type: string; status: string }> } | undefined
      )?.conditions;
      if (conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  client.discovery.invalidate();
}
