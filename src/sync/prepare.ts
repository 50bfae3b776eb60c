/**
 * Turns rendered objects into desired-index entries: scope from discovery (or from a CRD in the
 * same render), default namespace, gitgate's label and annotations.
 */
import { refusedWrites } from "../cluster/access.js";
import { isGitgateKey } from "../diff/allowed.js";
import type { ClusterClient } from "../cluster/client.js";
import { GitgateError, terminal } from "../errors.js";
import type { DesiredEntry, GitLocation } from "../manifest/desired.js";
import { publicRepoURL, stampContent, stampObject } from "../manifest/normalize.js";
import { withApplyDefaults } from "../manifest/defaults.js";
import { describeRef, groupOf, isPlainObject, keyOf, refOf, type KubeObject } from "../manifest/object.js";
import type { EffectiveSpec } from "../api/gitapp.js";
import { hookOf, SYNC_ANNOTATION_KEYS, waveOf } from "./waves.js";

export interface RenderedObject {
  object: KubeObject;
  file: string;
  line?: number;
}

/** Scopes declared by CRDs in the same render, for kinds the server does not serve yet. */
function crdScopes(objects: RenderedObject[]): Map<string, boolean> {
  const scopes = new Map<string, boolean>();
  for (const { object } of objects) {
    if (object.kind !== "CustomResourceDefinition" || !isPlainObject(object.spec)) continue;
    const spec = object.spec as { group?: string; scope?: string; names?: { kind?: string } };
    if (spec.group && spec.names?.kind)
      scopes.set(`${spec.group}/${spec.names.kind}`, spec.scope !== "Cluster");
  }
  return scopes;
}

async function isNamespaced(
  client: ClusterClient,
  obj: KubeObject,
  crds: Map<string, boolean>,
): Promise<boolean> {
  try {
    return (await client.discovery.resource(obj.apiVersion, obj.kind)).namespaced;
  } catch (err) {
    const fromCrd = crds.get(`${groupOf(obj.apiVersion)}/${obj.kind}`);
    if (fromCrd !== undefined) return fromCrd;
    throw err;
  }
}

export async function prepareEntries(
  client: ClusterClient,
  rendered: RenderedObject[],
  spec: EffectiveSpec,
  commit: string,
  valuesCommit?: string,
): Promise<DesiredEntry[]> {
  const crds = crdScopes(rendered);
  const values = valuesLocation(spec, valuesCommit);
  const entries: DesiredEntry[] = [];
  const seen = new Map<string, string>();
  for (const { object, file, line } of rendered) {
    let namespaced: boolean;
    try {
      namespaced = await isNamespaced(client, object, crds);
    } catch (err) {
      const where = `${file}${line ? `:${line}` : ""}`;
      if (err instanceof GitgateError)
        throw new GitgateError(err.class, err.reason, `${where}: ${err.message}`, { cause: err });
      throw err;
    }
    if (spec.actAs) refuseGitgateKeys(object, `${file}${line ? `:${line}` : ""}`);
    checkSyncAnnotations(object, `${file}${line ? `:${line}` : ""}`);
    // stampObject keeps credentials in repoURL off the objects (annotations anyone may read).
    const obj = withApplyDefaults(
      stampObject(object, { app: spec.app, repoURL: spec.repoURL, file, commit }),
    );
    if (namespaced) obj.metadata.namespace ||= spec.namespace;
    else delete obj.metadata.namespace;
    stampContent(obj);
    const ref = refOf(obj);
    // A hook named by the API server (waves.ts): one per generateName, never indexed by this key.
    if (!ref.name && obj.metadata.generateName) ref.name = `${obj.metadata.generateName}*`;
    const key = keyOf(ref);
    const previous = seen.get(key);
    if (previous)
      throw terminal(
        "DuplicateObject",
        `${obj.kind} ${ref.name} is declared twice: in ${previous} and ${file}`,
      );
    seen.set(key, file);
    entries.push({
      key,
      ref,
      object: obj,
      app: spec.app,
      source: {
        repoURL: publicRepoURL(spec.repoURL),
        path: spec.path,
        file,
        commit,
        ...(spec.chart ? { chart: spec.chart } : {}),
        ...(values ? { values } : {}),
      },
      mode: spec.mode,
      ignore: spec.ignore,
      ...(spec.undeclaredFields ? { undeclaredFields: spec.undeclaredFields } : {}),
      ...(spec.allowedChanges.length > 0 ? { allowedChanges: spec.allowedChanges } : {}),
    });
  }
  markAutoscaled(entries);
  if (spec.actAs) await refuseTenantEscapes(client, spec.actAs, entries);
  return entries;
}

/** The `$values/` files of a chart with spec.valuesFrom, at the commit rendered (none: undefined). */
export function valuesLocation(
  spec: Pick<EffectiveSpec, "chart" | "helm" | "valuesFrom">,
  valuesCommit: string | undefined,
): GitLocation["values"] {
  if (!spec.chart || !spec.valuesFrom || !valuesCommit) return undefined;
  const files = (spec.helm?.valueFiles ?? [])
    .filter((f) => f.startsWith("$values/"))
    .map((f) => f.slice("$values/".length));
  if (files.length === 0) return undefined;
  return { repoURL: publicRepoURL(spec.valuesFrom.repoURL), files, commit: valuesCommit };
}

/** A wave or hook annotation that does not parse fails the render, naming the file. */
function checkSyncAnnotations(object: KubeObject, where: string): void {
  try {
    waveOf(object);
    hookOf(object);
  } catch (err) {
    if (err instanceof GitgateError)
      throw new GitgateError(err.class, err.reason, `${where}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * A tenant's objects that its ServiceAccount may not write fail the render before anything is
 * indexed or applied: applying would fail anyway, and indexing would let this tenant's Git judge
 * another team's object at the gate.
 */
export async function refuseTenantEscapes(
  client: ClusterClient,
  user: string,
  entries: DesiredEntry[],
): Promise<void> {
  const refused = await refusedWrites(
    client,
    user,
    entries.map((e) => ({
      apiVersion: e.object.apiVersion,
      kind: e.object.kind,
      namespace: e.ref.namespace,
      label: `${e.source.file}: ${describeRef(e.ref)}`,
    })),
  );
  if (refused.length === 0) return;
  const clauses = refused
    .slice(0, 3)
    .map(
      ({ target, resource }) =>
        `${target.label}: ${user} may not patch ${resource} ${target.namespace ? `in namespace ${target.namespace}` : "(cluster-scoped)"}`,
    );
  if (refused.length > 3) clauses.push(`and ${refused.length - 3} more`);
  throw terminal(
    "Forbidden",
    `${clauses.join("; ")}. A tenant's GitApp writes as its ServiceAccount; nothing was applied (chart/README.md, Tenancy)`,
  );
}

/**
 * A tenant's manifests may not set gitgate's own labels and annotations: they steer gitgate (take a
 * namespace out of the gate, claim another app's objects, open break-glass).
 */
function refuseGitgateKeys(object: KubeObject, where: string): void {
  for (const place of ["labels", "annotations"] as const) {
    const values = object.metadata[place];
    if (!isPlainObject(values)) continue;
    const key = Object.keys(values).find(
      (k) => isGitgateKey(k) && !(place === "annotations" && SYNC_ANNOTATION_KEYS.has(k)),
    );
    if (key)
      throw terminal(
        "ReservedKey",
        `${where}: ${object.kind} ${object.metadata.name ?? ""} sets the ${place === "labels" ? "label" : "annotation"} ${key}; ` +
          `a tenant's GitApp may not set gitgate's own labels or annotations`,
      );
  }
}

/**
 * Marks each object a HorizontalPodAutoscaler of the same render scales: its replicas are the HPA's
 * (the gate lets the HPA controller scale it and tells people to change the HPA in Git instead).
 */
export function markAutoscaled(entries: DesiredEntry[]): void {
  const byTarget = new Map<string, DesiredEntry>();
  for (const entry of entries)
    byTarget.set(`${entry.ref.namespace}/${entry.ref.kind}/${entry.ref.name}`, entry);
  for (const entry of entries) {
    if (entry.ref.kind !== "HorizontalPodAutoscaler" || entry.ref.group !== "autoscaling") continue;
    const target = isPlainObject(entry.object.spec) ? entry.object.spec.scaleTargetRef : undefined;
    if (!isPlainObject(target) || typeof target.kind !== "string" || typeof target.name !== "string")
      continue;
    const scaled = byTarget.get(`${entry.ref.namespace}/${target.kind}/${target.name}`);
    if (scaled) scaled.autoscaler = `${entry.ref.namespace}/${entry.ref.name}`;
  }
}
