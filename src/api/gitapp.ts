/** The GitApp custom resource (gitgate.io/v1alpha1) and its defaults. Pure. */
import type { AppRef, EnforcementMode, IgnoreRule, UndeclaredPolicy } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import { parseDuration } from "../config/duration.js";
import { trimTrailing } from "../strings.js";

export const GITAPP_API_VERSION = "gitgate.io/v1alpha1";
export const GITAPP_KIND = "GitApp";

export interface HelmSource {
  releaseName?: string;
  valueFiles?: string[];
  values?: Record<string, unknown>;
}

export interface GitAppSpec {
  source: {
    repoURL: string;
    revision?: string;
    path?: string;
    credentialsSecret?: string;
    /** HTTPS without certificate checks: for a test server only; logged as a warning on every fetch. */
    insecureSkipTLSVerify?: boolean;
    helm?: HelmSource;
  };
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
  /** Revision rendered into the admission index (may be ahead of `revision` while applying). */
  lastAttemptedRevision?: string;
  inventory?: InventoryEntry[];
  observedGeneration?: number;
  lastSyncTime?: string;
  health?: "Healthy" | "Progressing" | "Degraded" | "Unknown";
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
  path: string;
  credentialsSecret?: string;
  insecureSkipTLSVerify?: boolean;
  helm?: HelmSource;
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
    path: trimTrailing((source.path ?? "").replace(/^\.?\/+/, ""), "/") || ".",
    credentialsSecret: source.credentialsSecret,
    ...(source.insecureSkipTLSVerify === true ? { insecureSkipTLSVerify: true } : {}),
    helm: source.helm,
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
