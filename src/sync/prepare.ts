/**
 * Turns rendered objects into desired-index entries: scope from discovery (or from a CRD in the
 * same render), default namespace, gitgate's label and annotations.
 */
import type { ClusterClient } from "../cluster/client.js";
import { GitgateError, terminal } from "../errors.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { publicRepoURL, stampObject } from "../manifest/normalize.js";
import { withApplyDefaults } from "../manifest/defaults.js";
import { groupOf, isPlainObject, keyOf, refOf, type KubeObject } from "../manifest/object.js";
import type { EffectiveSpec } from "../api/gitapp.js";

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
): Promise<DesiredEntry[]> {
  const crds = crdScopes(rendered);
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
    // stampObject keeps credentials in repoURL off the objects (annotations anyone may read).
    const obj = withApplyDefaults(
      stampObject(object, { app: spec.app, repoURL: spec.repoURL, file, commit }),
    );
    if (namespaced) obj.metadata.namespace ||= spec.namespace;
    else delete obj.metadata.namespace;
    const ref = refOf(obj);
    const key = keyOf(ref);
    const previous = seen.get(key);
    if (previous)
      throw terminal(
        "DuplicateObject",
        `${obj.kind} ${obj.metadata.name ?? ""} is declared twice: in ${previous} and ${file}`,
      );
    seen.set(key, file);
    entries.push({
      key,
      ref,
      object: obj,
      app: spec.app,
      source: { repoURL: publicRepoURL(spec.repoURL), path: spec.path, file, commit },
      mode: spec.mode,
      ignore: spec.ignore,
    });
  }
  return entries;
}
