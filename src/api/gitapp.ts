/** The GitApp custom resource (gitgate.io/v1alpha1) and its defaults. Pure. */
import type { AppRef, EnforcementMode, IgnoreRule, UndeclaredPolicy } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import type { HealthStatus } from "../health/types.js";
import { parseDuration } from "../config/duration.js";
import { trimTrailing } from "../strings.js";

export const GITAPP_API_VERSION = "gitgate.io/v1alpha1";
export const GITAPP_KIND = "GitApp";

export interface HelmSource {
  releaseName?: string;
  valueFiles?: string[];
  values?: Record<string, unknown>;
}

export interface ValuesSource {
  repoURL: string;
  /** Branch, tag or SHA; default HEAD. */
  revision?: string;
  credentialsSecret?: string;
}

export interface GitAppSpec {
  source: {
    /** A Git repository, or with `chart` a Helm repository (http(s)) or an OCI registry (`oci://`). */
    repoURL: string;
    /** Git: branch, tag or SHA. Chart: an exact version or a semver range (highest match). */
    revision?: string;
    /** A chart of the Helm repository or OCI registry at repoURL (instead of a path in Git). */
    chart?: string;
    path?: string;
    credentialsSecret?: string;
    /** HTTPS without certificate checks: for a test server only; logged as a warning on every fetch. */
    insecureSkipTLSVerify?: boolean;
    helm?: HelmSource;
  };
  /**
   * A Git repository whose files a chart's value files may name as `$values/<path>` (Argo CD's
   * multi-source `ref: values`, in one field): a chart from a Helm repository with its values in Git.
   */
  valuesFrom?: ValuesSource;
  /** `cluster`: a registered cluster's name (a cluster Secret); absent, the cluster gitgate runs in. */
  destination?: { namespace?: string; cluster?: string };
  /**
   * For a GitApp outside gitgate's namespace (a tenant's): the ServiceAccount of its namespace whose
   * identity applies its objects, so that RBAC decides what it may create. Default: `default`.
   */
  serviceAccountName?: string;
  sync?: {
    interval?: string;
    prune?: boolean;
    selfHeal?: boolean;
    createNamespace?: boolean;
    suspend?: boolean;
    /** Prune only after every wave and PostSync hook is done and healthy (Argo CD's PruneLast). */
    pruneLast?: boolean;
    /** How long one step of a sync (a wave, a hook) may take to become healthy (Flux's timeout). Default 5m. */
    timeout?: string;
    /** Orphan (default): deleting the GitApp leaves its objects. Delete: they are deleted first (a finalizer). */
    deletionPolicy?: DeletionPolicy;
    /** Fields under ignoreDifferences keep their live value when gitgate applies (Argo CD's RespectIgnoreDifferences). */
    respectIgnoreDifferences?: boolean;
  };
  enforcement?: {
    mode?: EnforcementMode;
    ignoreDifferences?: IgnoreRule[];
    /** Changes to fields Git does not declare: deny, warn or allow; unset: the config's, else the mode. */
    undeclaredFields?: UndeclaredPolicy;
    /** Changes allowed beyond the built-in operational allow-list (ignoreDifferences' form). */
    allowedChanges?: IgnoreRule[];
  };
  /** Alert channels (names from the config file) for this app's events; absent: every channel. */
  alerts?: { channels?: string[] };
}

export type DeletionPolicy = "Orphan" | "Delete";
/** On a GitApp (set by gitgate for deletionPolicy Delete, or by hand): deleting it deletes its objects. */
export const CASCADE_FINALIZER = "gitgate.io/cascade-delete";

/** A hook of the current sync operation: the object created for it and how it ended. */
export interface HookRecord {
  /** The entry's key in the render (a generateName hook's ends in the prefix). */
  key: string;
  phase: "PreSync" | "Sync" | "PostSync" | "SyncFail";
  apiVersion: string;
  kind: string;
  namespace?: string;
  /** The name the object got (the API server's, for generateName). */
  name: string;
  status: "Running" | "Succeeded" | "Failed";
  message?: string;
}

/** One sync of one revision, across reconciles: waves wait, hooks run once. */
export interface SyncOperation {
  revision: string;
  generation?: number;
  phase: "Running" | "Succeeded" | "Failed";
  startedAt: string;
  finishedAt?: string;
  /** The step it waits at or failed in ("PreSync wave 0", "wave 1"). */
  step?: string;
  waitingSince?: string;
  reason?: string;
  message?: string;
  hooks?: HookRecord[];
  /** Started while the last sync had failed: its success is a recovery (alert). */
  recovering?: boolean;
}

export type ConditionType = "Ready" | "Synced" | "Drifted";
export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface InventoryEntry {
  group: string;
  kind: string;
  namespace?: string;
  name: string;
  /** apiVersion used to apply it, needed to address it for prune. */
  version: string;
}

export interface GitAppStatus {
  conditions?: Condition[];
  revision?: string;
  /** For a chart source: the chart and the version `revision` resolved to. */
  source?: { chart?: string; version?: string; valuesRevision?: string };
  /** Revision rendered into the admission index (may be ahead of `revision` while applying). */
  lastAttemptedRevision?: string;
  inventory?: InventoryEntry[];
  observedGeneration?: number;
  lastSyncTime?: string;
  health?: HealthStatus;
  /** When the app became Degraded; cleared once it is Healthy again (one recovered alert). */
  degradedSince?: string | null;
  /** The current or last sync operation (waves, hooks). */
  operation?: SyncOperation;
  /** The destination cluster's connection, for a GitApp that names a registered cluster. */
  cluster?: ClusterConnection;
  drift?: Array<{
    object: string;
    fields: string[];
    changedBy?: string;
    /** Fields Git does not declare, with the field manager that added each. */
    undeclared?: Array<{ field: string; manager?: string }>;
  }>;
}

/** What gitgate last learned about a registered cluster's API server. */
export interface ClusterConnection {
  name: string;
  reachable: boolean;
  serverVersion?: string;
  lastError?: string;
  /** When it was last asked (RFC 3339). */
  checkedAt?: string;
}

/** The registered cluster a GitApp names; undefined for the cluster gitgate runs in. */
export function destinationCluster(app: GitApp): string | undefined {
  return app.spec.destination?.cluster || undefined;
}

export interface GitApp extends KubeObject {
  spec: GitAppSpec;
  status?: GitAppStatus;
}

/** Spec with every default filled in: what the reconciler works from. */
export interface EffectiveSpec {
  app: AppRef;
  repoURL: string;
  revision: string;
  /** A chart of a Helm repository or OCI registry; absent for Git. */
  chart?: string;
  path: string;
  credentialsSecret?: string;
  insecureSkipTLSVerify?: boolean;
  helm?: HelmSource;
  /** The values source, its revision defaulted. */
  valuesFrom?: ValuesSource & { revision: string };
  namespace: string;
  intervalMs: number;
  prune: boolean;
  selfHeal: boolean;
  createNamespace: boolean;
  suspend: boolean;
  pruneLast: boolean;
  syncTimeoutMs: number;
  cascadeDelete: boolean;
  respectIgnoreDifferences: boolean;
  mode: EnforcementMode;
  ignore: IgnoreRule[];
  undeclaredFields?: UndeclaredPolicy;
  /** The config's allowedChanges, then the app's. */
  allowedChanges: IgnoreRule[];
  /** A tenant's app: the ServiceAccount username its writes impersonate. Absent: gitgate's own identity. */
  actAs?: string;
}

/** The config's defaults a GitApp's enforcement falls back on, and gitgate's own namespace. */
export interface EnforcementDefaults {
  undeclaredFields?: UndeclaredPolicy;
  allowedChanges?: IgnoreRule[];
  /** GitApps here are the platform's (gitgate's identity); elsewhere a tenant's. Absent: all platform. */
  platformNamespaces?: readonly string[];
  /** A tenant's ServiceAccount when its GitApp names none. */
  defaultServiceAccount?: string;
}

/** The ServiceAccount a tenant's GitApp applies as when it names none (as Flux's default service account). */
export const DEFAULT_TENANT_SERVICE_ACCOUNT = "default";

/** `system:serviceaccount:<ns>:<sa>` for a tenant's GitApp; undefined for the platform's. */
export function tenantIdentity(app: GitApp, defaults: EnforcementDefaults): string | undefined {
  const namespace = app.metadata.namespace ?? "default";
  if (!defaults.platformNamespaces || defaults.platformNamespaces.includes(namespace)) return undefined;
  const account =
    app.spec.serviceAccountName || defaults.defaultServiceAccount || DEFAULT_TENANT_SERVICE_ACCOUNT;
  return `system:serviceaccount:${namespace}:${account}`;
}

export function effectiveSpec(
  app: GitApp,
  defaultMode: EnforcementMode,
  minIntervalMs = 5_000,
  defaults: EnforcementDefaults = {},
): EffectiveSpec {
  const { source, destination, sync, enforcement } = app.spec;
  const namespace = app.metadata.namespace ?? "default";
  const interval = parseDuration(sync?.interval ?? "") ?? 60_000;
  return {
    app: { namespace, name: app.metadata.name ?? "" },
    repoURL: source.repoURL,
    revision: source.revision || "HEAD",
    ...(source.chart ? { chart: source.chart } : {}),
    path: trimTrailing((source.path ?? "").replace(/^\.?\/+/, ""), "/") || ".",
    credentialsSecret: source.credentialsSecret,
    ...(source.insecureSkipTLSVerify === true ? { insecureSkipTLSVerify: true } : {}),
    helm: source.helm,
    ...(app.spec.valuesFrom
      ? { valuesFrom: { ...app.spec.valuesFrom, revision: app.spec.valuesFrom.revision || "HEAD" } }
      : {}),
    namespace: destination?.namespace || namespace,
    intervalMs: Math.max(interval, minIntervalMs),
    prune: sync?.prune ?? true,
    selfHeal: sync?.selfHeal ?? true,
    createNamespace: sync?.createNamespace ?? false,
    suspend: sync?.suspend ?? false,
    pruneLast: sync?.pruneLast ?? false,
    syncTimeoutMs: parseDuration(sync?.timeout ?? "") ?? 5 * 60_000,
    cascadeDelete: wantsCascade(app),
    respectIgnoreDifferences: sync?.respectIgnoreDifferences ?? false,
    mode: enforcement?.mode ?? defaultMode,
    ignore: enforcement?.ignoreDifferences ?? [],
    ...(enforcement?.undeclaredFields || defaults.undeclaredFields
      ? { undeclaredFields: enforcement?.undeclaredFields ?? defaults.undeclaredFields }
      : {}),
    allowedChanges: [...(defaults.allowedChanges ?? []), ...(enforcement?.allowedChanges ?? [])],
    ...withActAs(tenantIdentity(app, defaults)),
  };
}

/**
 * deletionPolicy Delete, or (no policy given) the finalizer put on by hand, as Argo CD's
 * resources-finalizer. An explicit Orphan wins: gitgate then takes its finalizer off.
 */
export function wantsCascade(app: GitApp): boolean {
  const policy = app.spec.sync?.deletionPolicy;
  if (policy) return policy === "Delete";
  return (app.metadata.finalizers ?? []).includes(CASCADE_FINALIZER);
}

function withActAs(actAs: string | undefined): { actAs?: string } {
  return actAs ? { actAs } : {};
}

export function appKey(app: AppRef): string {
  return `${app.namespace}/${app.name}`;
}
