/** The desired-state index: what the current Git revision says each managed object must look like. */
import type { KubeObject, ObjectRef } from "./object.js";

export type EnforcementMode = "enforce" | "warn" | "audit" | "off";

export interface AppRef {
  namespace: string;
  name: string;
}

/** Like Argo CD's ignoreDifferences: fields (JSON pointers) never compared for matching objects. */
export interface IgnoreRule {
  group?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  jsonPointers: string[];
}

export interface GitLocation {
  repoURL: string;
  /** Directory inside the repo the app renders from. */
  path: string;
  /** File inside the repo that declared this object (repo-relative, forward slashes). */
  file: string;
  /** Full commit SHA; for a chart, the chart version. */
  commit: string;
  /** The chart name when the source is a Helm repository or OCI registry (`file` is then in the chart). */
  chart?: string;
  /** A chart's value files kept in Git (`$values/<file>` of spec.valuesFrom): where its values are changed. */
  values?: { repoURL: string; files: string[]; commit: string };
}

/**
 * What the gate does with changes to fields Git does not declare: deny, warn, or allow them.
 * Unset: follow the enforcement mode (enforce denies, warn warns, audit records).
 */
export type UndeclaredPolicy = "deny" | "warn" | "allow";

export interface DesiredEntry {
  key: string;
  ref: ObjectRef;
  /** The object as gitgate applies it (labels/annotations included). Its fields are the declared set. */
  object: KubeObject;
  app: AppRef;
  source: GitLocation;
  mode: EnforcementMode;
  ignore: IgnoreRule[];
  /** The GitApp's (else the config's) choice for undeclared fields; unset: follow `mode`. */
  undeclaredFields?: UndeclaredPolicy;
  /** Operational allow-list beyond the built-in one: the config's and the GitApp's, one array per app. */
  allowedChanges?: IgnoreRule[];
  /** `namespace/name` of a HorizontalPodAutoscaler in the same render that scales this object. */
  autoscaler?: string;
}

/** Read side used by the admission gate; the reconciler owns the writes. */
export interface DesiredIndexReader {
  get(key: string): DesiredEntry | undefined;
  /** Whether every GitApp has been rendered at least once (readiness). */
  isComplete(): boolean;
  /**
   * Whether the app this `gitgate.io/app` label value names is known (its GitApp was seen) but not
   * yet rendered or attempted: its objects' desired state is unknown, not absent.
   */
  awaits?(appLabel: string): boolean;
}
