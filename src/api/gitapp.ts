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
    helm?: HelmSource;
  };
  /**
   * A Git repository whose files a chart's value files may name as `$values/<path>` (Argo CD's
   * multi-source `ref: values`, in one field): a chart from a Helm repository with its values in Git.
   */
  valuesFrom?: ValuesSource;
  destination?: { namespace?: string };
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
  drift?: Array<{
    object: string;
    fields: string[];
    changedBy?: string;
    /** Fields Git does not declare, with the field manager that added each. */
    undeclared?: Array<{ field: string; manager?: string }>;
  }>;
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
  helm?: HelmSource;
  /** The values source, its revision defaulted. */
  valuesFrom?: ValuesSource & { revision: string };
  namespace: string;
  intervalMs: number;
  prune: boolean;
  selfHeal: boolean;
  createNamespace: boolean;
  suspend: boolean;
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
    mode: enforcement?.mode ?? defaultMode,
    ignore: enforcement?.ignoreDifferences ?? [],
    ...(enforcement?.undeclaredFields || defaults.undeclaredFields
      ? { undeclaredFields: enforcement?.undeclaredFields ?? defaults.undeclaredFields }
      : {}),
    allowedChanges: [...(defaults.allowedChanges ?? []), ...(enforcement?.allowedChanges ?? [])],
    ...withActAs(tenantIdentity(app, defaults)),
  };
}

function withActAs(actAs: string | undefined): { actAs?: string } {
  return actAs ? { actAs } : {};
}

export function appKey(app: AppRef): string {
  return `${app.namespace}/${app.name}`;
}
