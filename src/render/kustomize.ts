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

/**
 * Entries kustomize would fetch over the network: any `scheme://` (http, https, ssh, file, git…),
 * scp-like `git@host:`, go-getter `git::`, the `gh:` shorthand, and bare GitHub/GitLab/Bitbucket
 * paths. Anchored, with a bounded scheme: linear on any input.
 */
const REMOTE =
  /^(?:[a-z][a-z0-9+.-]{0,31}:\/\/|git@|git::|gh:|github\.com\/|gitlab\.com\/|bitbucket\.org\/)/i;

export function isRemote(entry: string): boolean {
  return REMOTE.test(entry.trim());
}

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

/** Where a kustomization names a file, by how the field holds it. */
interface FileField {
  /** Dotted name, for messages. */
  name: string;
  /** The strings at this field of a kustomization (none when absent or of another shape). */
  read: (doc: Record<string, unknown>) => unknown[];
}

const list = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined ? [] : [value];
const items = (doc: Record<string, unknown>, field: string): Record<string, unknown>[] =>
  list(doc[field]).filter(isPlainObject);
const at = (field: string): FileField => ({ name: field, read: (doc) => list(doc[field]) });
const inItems = (field: string, key: string): FileField => ({
  name: `${field}.${key}`,
  read: (doc) => items(doc, field).flatMap((item) => list(item[key])),
});
const inObject = (field: string, key: string): FileField => ({
  name: `${field}.${key}`,
  read: (doc) => (isPlainObject(doc[field]) ? list(doc[field][key]) : []),
});

/**
 * Every kustomization field that names a file or a location, other than the graph edges
 * (`resources`, `bases`, `components`, plugin configs) that checkGraph follows. kustomize's root-only
 * restrictor keeps local ones inside the kustomization, but fetches remote URLs regardless (even
 * from loopback), so each is checked here. `helmCharts` need --enable-helm, which gitgate never
 * passes; a remote chart repository is still named as the reason.
 */
const FILE_FIELDS: FileField[] = [
  at("patchesStrategicMerge"),
  at("crds"),
  at("configurations"),
  inItems("patches", "path"),
  inItems("patchesJson6902", "path"),
  inItems("replacements", "path"),
  inObject("openapi", "path"),
  ...["configMapGenerator", "secretGenerator"].flatMap((g) => [
    inItems(g, "files"),
    inItems(g, "envs"),
    inItems(g, "env"),
  ]),
  inItems("helmCharts", "repo"),
  inItems("helmCharts", "chartHome"),
  inItems("helmCharts", "valuesFile"),
  inItems("helmCharts", "additionalValuesFiles"),
  inObject("helmGlobals", "chartHome"),
  inObject("helmGlobals", "configHome"),
  inItems("helmChartInflationGenerator", "chartRepoUrl"),
  inItems("helmChartInflationGenerator", "chartHome"),
  inItems("helmChartInflationGenerator", "values"),
];

/** A remote entry of any file field: [field, entry]. Generator `files` are `key=path`; both halves are checked. */
export function remoteFileReference(doc: Record<string, unknown>): [string, string] | undefined {
  for (const field of FILE_FIELDS) {
    for (const value of field.read(doc)) {
      // Inline content (a patch, a plugin config) spans lines; a path with a stray newline does not.
      if (typeof value !== "string" || value.trim().includes("\n")) continue;
      const path = value.slice(value.indexOf("=") + 1);
      if (isRemote(value) || isRemote(path)) return [field.name, value];
    }
  }
  return undefined;
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
  const remote = remoteFileReference(doc);
  if (remote)
    throw terminal(
      "RemoteResourceNotAllowed",
      `${rel}: ${remote[0]} entry ${remote[1]} is remote; vendor it into the repository instead`,
    );
  // Plugin configs load like resources: a path to a file or directory, anywhere kustomize can read.
  for (const field of ["resources", "bases", "components", "transformers", "generators", "validators"]) {
    for (const entry of stringsAt(doc, field)) {
      if (entry.trim().includes("\n")) continue; // an inline plugin config, not a path
      if (isRemote(entry)) {
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
