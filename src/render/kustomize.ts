/**
 * Kustomize apps: `kubectl kustomize <dir>` (or a standalone `kustomize build <dir>`). Before running,
 * gitgate walks the kustomization graph itself because kustomize's default load restrictor
 * (LoadRestrictionsRootOnly) confines patches and generator files to each kustomization's root but
 * still lets `resources`/`components` point at any directory on disk, and accepts remote URLs.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import yaml from "js-yaml";
import { terminal } from "../errors.js";
import { isPlainObject } from "../manifest/object.js";
import { refuseEscapingSymlinks, repoRelative, resolveInRepo } from "./contain.js";

export const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"] as const;

/** Entries kustomize would fetch over the network (git or http). */
const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@|git::|github\.com\/|gitlab\.com\/|bitbucket\.org\/)/i;

export async function findKustomization(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info?.isFile()) return join(dir, name);
  }
  return undefined;
}

function stringsAt(doc: Record<string, unknown>, field: string): string[] {
  const value = doc[field];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

async function loadKustomization(root: string, file: string): Promise<Record<string, unknown>> {
  const rel = repoRelative(root, file);
  let doc: unknown;
  try {
    doc = yaml.load(await readFile(file, "utf8"), { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    const line = err instanceof yaml.YAMLException ? err.mark.line + 1 : 1;
    const reason = err instanceof yaml.YAMLException ? err.reason : String(err);
    throw terminal("InvalidManifest", `${rel}:${line}: ${reason}`, err);
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlainObject(doc)) throw terminal("InvalidManifest", `${rel}:1: a kustomization must be a map`);
  return doc;
}

/** `key=path` (generators) → path. */
const pathOf = (entry: string): string => entry.slice(entry.indexOf("=") + 1);

/**
 * Every file a kustomization names outside `resources`: kustomize's root-only restrictor keeps local
 * ones inside the kustomization, but fetches remote URLs (even from loopback) regardless.
 */
function fileReferences(doc: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (field: string, value: unknown): void => {
    if (typeof value === "string" && !value.includes("\n")) out.push([field, pathOf(value)]);
  };
  for (const field of ["configMapGenerator", "secretGenerator"]) {
    const generators = doc[field];
    if (!Array.isArray(generators)) continue;
    for (const g of generators) {
      if (!isPlainObject(g)) continue;
      for (const key of ["files", "envs"])
        for (const v of Array.isArray(g[key]) ? g[key] : []) add(`${field}.${key}`, v);
      add(`${field}.env`, g.env);
    }
  }
  for (const field of ["patches", "patchesJson6902", "replacements"]) {
    const items = doc[field];
    if (Array.isArray(items))
      for (const item of items) if (isPlainObject(item)) add(`${field}.path`, item.path);
  }
  for (const v of stringsAt(doc, "patchesStrategicMerge")) add("patchesStrategicMerge", v);
  for (const v of stringsAt(doc, "crds")) add("crds", v);
  if (isPlainObject(doc.openapi)) add("openapi.path", doc.openapi.path);
  return out;
}

/**
 * Checks every `resources`, `bases` and `components` entry reachable from `dir`: local entries must
 * resolve inside the repository, remote ones are refused (chart and base dependencies must be vendored
 * so that every replica renders the same commit to the same objects).
 */
async function checkGraph(root: string, dir: string, seen: Set<string>): Promise<void> {
  if (seen.has(dir)) return;
  seen.add(dir);
  const file = await findKustomization(dir);
  if (!file) return; // a plain resource directory is fine; kustomize reports it if not
  const doc = await loadKustomization(root, file);
  const rel = repoRelative(root, file);
  for (const [field, entry] of fileReferences(doc)) {
    if (REMOTE.test(entry))
      throw terminal(
        "RemoteResourceNotAllowed",
        `${rel}: ${field} entry ${entry} is remote; vendor it into the repository instead`,
      );
  }
  // Plugin configs load like resources: a path to a file or directory, anywhere kustomize can read.
  for (const field of ["resources", "bases", "components", "transformers", "generators", "validators"]) {
    for (const entry of stringsAt(doc, field)) {
      if (entry.includes("\n")) continue; // an inline plugin config, not a path
      if (REMOTE.test(entry)) {
        throw terminal(
          "RemoteResourceNotAllowed",
          `${rel}: ${field} entry ${entry} is remote; vendor it into the repository instead`,
        );
      }
      const target = await resolveInRepo(root, dir, entry, `${rel}: ${field} entry`);
      if ((await stat(target)).isDirectory()) await checkGraph(root, target, seen);
    }
  }
}

/** Preflight, then the command line. The repository is scanned whole: overlays reach `../base`. */
export async function kustomizeCommand(
  root: string,
  appDir: string,
  tools: { kubectl?: string; kustomize?: string },
): Promise<{ command: string; args: string[] }> {
  await refuseEscapingSymlinks(root, root);
  await checkGraph(root, appDir, new Set());
  // Explicit, though it is the default: if a future default loosens, gitgate does not.
  const restrictor = "--load-restrictor=LoadRestrictionsRootOnly";
  if (tools.kustomize) return { command: tools.kustomize, args: ["build", restrictor, appDir] };
  if (tools.kubectl) return { command: tools.kubectl, args: ["kustomize", restrictor, appDir] };
  throw terminal("ToolNotFound", "no kubectl or kustomize configured to render Kustomize apps");
}
