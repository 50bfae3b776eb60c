/** The GitApp custom resource (gitgate.io/v1alpha1) and its defaults. Pure. */
import type { AppRef, EnforcementMode, IgnoreRule } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
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
    helm?: HelmSource;
  };
  destination?: { namespace?: string };
  sync?: {
    interval?: string;
    prune?: boolean;
    selfHeal?: boolean;
    createNamespace?: boolean;
    suspend?: boolean;
  };
  enforcement?: { mode?: EnforcementMode; ignoreDifferences?: IgnoreRule[] };
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
  drift?: Array<{ object: string; fields: string[]; changedBy?: string }>;
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
  helm?: HelmSource;
  namespace: string;
  intervalMs: number;
  prune: boolean;
  selfHeal: boolean;
  createNamespace: boolean;
  suspend: boolean;
  mode: EnforcementMode;
  ignore: IgnoreRule[];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations ("1m", "90s", "1h30m"); undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, value, , unit] of trimmed.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(value) * (UNIT_MS[unit ?? "s"] ?? 0);
  }
  return total;
}

export function effectiveSpec(
  app: GitApp,
  defaultMode: EnforcementMode,
  minIntervalMs = 5_000,
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
    helm: source.helm,
    namespace: destination?.namespace || namespace,
    intervalMs: Math.max(interval, minIntervalMs),
    prune: sync?.prune ?? true,
    selfHeal: sync?.selfHeal ?? true,
    createNamespace: sync?.createNamespace ?? false,
    suspend: sync?.suspend ?? false,
    mode: enforcement?.mode ?? defaultMode,
    ignore: enforcement?.ignoreDifferences ?? [],
  };
}

export function appKey(app: AppRef): string {
  return `${app.namespace}/${app.name}`;
}
