/**
 * Sync order as Argo CD users write it: waves, hooks and per-object sync options read from
 * annotations (gitgate's own, Argo CD's, and Helm's hooks mapped onto Argo CD's phases), and the
 * ordered steps of one sync. Pure.
 */
import { terminal } from "../errors.js";
import type { KubeObject } from "../manifest/object.js";

export type HookPhase = "PreSync" | "Sync" | "PostSync" | "SyncFail";
export type DeletePolicy = "BeforeHookCreation" | "HookSucceeded" | "HookFailed";

export interface HookSpec {
  phases: HookPhase[];
  deletePolicies: DeletePolicy[];
}

export interface SyncOptions {
  /** Delete and recreate when an apply is refused for an immutable field. */
  replace: boolean;
  /** False: never deleted by gitgate (prune, cascade). */
  prune: boolean;
  /** `PruneLast=true` on the object: pruned only once the rest of the app is synced and healthy. */
  pruneLast: boolean;
}

export const WAVE_ANNOTATIONS = ["gitgate.io/sync-wave", "argocd.argoproj.io/sync-wave"] as const;
export const HOOK_ANNOTATIONS = ["gitgate.io/hook", "argocd.argoproj.io/hook"] as const;
export const DELETE_POLICY_ANNOTATIONS = [
  "gitgate.io/hook-delete-policy",
  "argocd.argoproj.io/hook-delete-policy",
] as const;
export const SYNC_OPTIONS_ANNOTATIONS = [
  "gitgate.io/sync-options",
  "argocd.argoproj.io/sync-options",
] as const;
export const PRUNE_ANNOTATION = "gitgate.io/prune";
const HELM_HOOK = "helm.sh/hook";
const HELM_WEIGHT = "helm.sh/hook-weight";
const HELM_DELETE_POLICY = "helm.sh/hook-delete-policy";

/** gitgate.io keys a tenant's manifests may set: they steer only the tenant's own objects. */
export const SYNC_ANNOTATION_KEYS: ReadonlySet<string> = new Set([
  WAVE_ANNOTATIONS[0],
  HOOK_ANNOTATIONS[0],
  DELETE_POLICY_ANNOTATIONS[0],
  SYNC_OPTIONS_ANNOTATIONS[0],
  PRUNE_ANNOTATION,
]);

const PHASES: ReadonlySet<string> = new Set(["PreSync", "Sync", "PostSync", "SyncFail"]);
const HELM_PHASES: Record<string, HookPhase> = {
  "pre-install": "PreSync",
  "pre-upgrade": "PreSync",
  "post-install": "PostSync",
  "post-upgrade": "PostSync",
};
const POLICIES: Record<string, DeletePolicy> = {
  BeforeHookCreation: "BeforeHookCreation",
  HookSucceeded: "HookSucceeded",
  HookFailed: "HookFailed",
  "before-hook-creation": "BeforeHookCreation",
  "hook-succeeded": "HookSucceeded",
  "hook-failed": "HookFailed",
};
const INTEGER = /^[+-]?[0-9]{1,9}$/;
/** Annotation lists are short; more items than this is not a list a person wrote. */
const MAX_ITEMS = 16;

function annotation(obj: KubeObject, keys: readonly string[]): [string, string] | undefined {
  const annotations = obj.metadata.annotations ?? {};
  for (const key of keys) {
    const value = annotations[key];
    if (typeof value === "string") return [key, value];
  }
  return undefined;
}

function items(value: string): string[] {
  return value
    .slice(0, 1024)
    .split(",")
    .slice(0, MAX_ITEMS)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function invalid(obj: KubeObject, key: string, value: string, expected: string): Error {
  return terminal(
    "InvalidAnnotation",
    `${obj.kind} ${obj.metadata.name ?? obj.metadata.generateName ?? ""}: annotation ${key}: "${value.slice(0, 64)}" is not ${expected}`,
  );
}

function integer(obj: KubeObject, key: string, value: string): number {
  if (!INTEGER.test(value.trim())) throw invalid(obj, key, value, "an integer");
  return Number(value.trim());
}

/** The object's wave: gitgate's or Argo CD's annotation, a Helm hook's weight, else 0. */
export function waveOf(obj: KubeObject): number {
  const found = annotation(obj, WAVE_ANNOTATIONS);
  if (found) return integer(obj, found[0], found[1]);
  const weight = annotation(obj, [HELM_WEIGHT]);
  if (weight && annotation(obj, [HELM_HOOK])) return integer(obj, weight[0], weight[1]);
  return 0;
}

/**
 * The object's hook, "skip" for what is never applied (Argo CD's `Skip`, Helm hooks of other
 * events than install and upgrade: tests, deletes, rollbacks), or undefined for a plain resource.
 * gitgate's annotation wins over Argo CD's, which wins over Helm's, as in Argo CD.
 */
export function hookOf(obj: KubeObject): HookSpec | "skip" | undefined {
  const own = annotation(obj, HOOK_ANNOTATIONS);
  let phases: HookPhase[];
  if (own) {
    const names = items(own[1]);
    if (names.includes("Skip")) return "skip";
    for (const name of names)
      if (!PHASES.has(name)) throw invalid(obj, own[0], own[1], "PreSync, Sync, PostSync, SyncFail or Skip");
    phases = names as HookPhase[];
  } else {
    const helm = annotation(obj, [HELM_HOOK]);
    if (!helm) return undefined;
    // crd-install (Helm 2) is a plain resource to Argo CD too.
    const names = items(helm[1]).filter((n) => n !== "crd-install");
    if (names.length === 0) return undefined;
    phases = [...new Set(names.flatMap((n) => HELM_PHASES[n] ?? []))];
    if (phases.length === 0) return "skip";
  }
  if (phases.length === 0) throw invalid(obj, own?.[0] ?? HELM_HOOK, own?.[1] ?? "", "a hook phase");
  return { phases: [...new Set(phases)], deletePolicies: deletePoliciesOf(obj) };
}

/** Like Argo CD and Helm: BeforeHookCreation when none is given. */
function deletePoliciesOf(obj: KubeObject): DeletePolicy[] {
  const found = annotation(obj, [...DELETE_POLICY_ANNOTATIONS, HELM_DELETE_POLICY]);
  if (!found) return ["BeforeHookCreation"];
  const policies = items(found[1]).map((n) => {
    const policy = POLICIES[n];
    if (!policy) throw invalid(obj, found[0], found[1], "BeforeHookCreation, HookSucceeded or HookFailed");
    return policy;
  });
  return policies.length > 0 ? [...new Set(policies)] : ["BeforeHookCreation"];
}

/**
 * `Replace=true`, `Prune=false`, `PruneLast=true` from the sync-options annotations, and
 * `gitgate.io/prune: "false"`.
 */
export function syncOptionsOf(obj: KubeObject): SyncOptions {
  const found = annotation(obj, SYNC_OPTIONS_ANNOTATIONS);
  const options = new Map(
    items(found?.[1] ?? "").map((o) => {
      const eq = o.indexOf("=");
      return eq < 0 ? [o, "true"] : [o.slice(0, eq).trim(), o.slice(eq + 1).trim()];
    }),
  );
  const pruneOff = obj.metadata.annotations?.[PRUNE_ANNOTATION]?.trim() === "false";
  return {
    replace: options.get("Replace") === "true",
    prune: !pruneOff && options.get("Prune") !== "false",
    pruneLast: options.get("PruneLast") === "true",
  };
}

/** One step of a sync: its hooks and resources are applied together, then waited on. */
export interface SyncStep<T> {
  /** "namespaces and CRDs", "PreSync wave 0", "wave 1", "PostSync wave -1". */
  label: string;
  phase: "PreSync" | "Sync" | "PostSync";
  resources: T[];
  hooks: T[];
}

export interface Planned<T> {
  item: T;
  kind: string;
  wave: number;
  /** Undefined: a plain resource. */
  hook?: HookSpec;
}

export interface SyncPlan<T> {
  steps: Array<SyncStep<T>>;
  /** Hooks created when the sync fails. */
  syncFail: T[];
}

const FIRST = new Set(["Namespace", "CustomResourceDefinition"]);
const PHASE_ORDER = ["PreSync", "Sync", "PostSync"] as const;

/**
 * Namespaces and CRDs first (what everything else may need, hooks included), then PreSync hooks,
 * Sync (resources and Sync hooks) and PostSync hooks, each phase by ascending wave. Empty steps
 * are left out; the order within a step does not matter (it is applied in parallel).
 */
export function planSteps<T>(planned: Array<Planned<T>>): SyncPlan<T> {
  const steps: Array<SyncStep<T>> = [];
  const first = planned.filter((p) => !p.hook && FIRST.has(p.kind)).map((p) => p.item);
  if (first.length > 0)
    steps.push({ label: "namespaces and CRDs", phase: "Sync", resources: first, hooks: [] });
  for (const phase of PHASE_ORDER) {
    const inPhase = planned.filter((p) =>
      p.hook ? p.hook.phases.includes(phase) : phase === "Sync" && !FIRST.has(p.kind),
    );
    const waves = [...new Set(inPhase.map((p) => p.wave))].sort((a, b) => a - b);
    for (const wave of waves) {
      const at = inPhase.filter((p) => p.wave === wave);
      steps.push({
        label: phase === "Sync" ? `wave ${wave}` : `${phase} wave ${wave}`,
        phase,
        resources: at.filter((p) => !p.hook).map((p) => p.item),
        hooks: at.filter((p) => p.hook).map((p) => p.item),
      });
    }
  }
  const syncFail = planned.filter((p) => p.hook?.phases.includes("SyncFail")).map((p) => p.item);
  return { steps, syncFail };
}
