/**
 * The generators, pure: each gives a list of parameter sets, one GitApp per set. `list` gives its
 * elements; `clusters` the registered clusters whose Secret's labels match (params `cluster.name`,
 * `cluster.server`, `cluster.labels.<key>`); `gitDirectories` the directories matching its globs
 * (params `path`, `path.basename`, `path.basenameNormalized`), listed by the caller; `matrix` the
 * cartesian product of two. The top-level generators' sets follow one another (as Argo CD).
 */
import type { Generator, GitAppSetSpec } from "../api/gitappset.js";
import { terminal, type GitgateError } from "../errors.js";
import { matchGlob, patternProblem } from "./glob.js";
import { matchesSelector, selectorProblem } from "./selector.js";
import type { Params } from "./template.js";

/** The most GitApps one set may generate. */
export const MAX_GENERATED = 1000;
/** The hub as a `clusters` generator sees it (Argo CD's in-cluster). */
export const HUB_CLUSTER = "in-cluster";
export const HUB_SERVER = "https://kubernetes.default.svc";

export interface ClusterInfo {
  name: string;
  server: string;
  /** The cluster Secret's labels. */
  labels: Readonly<Record<string, string>>;
}

export type GitDirectoriesGenerator = NonNullable<Generator["gitDirectories"]>;

export interface GeneratorInputs {
  /** The registered clusters (valid Secrets), the hub not among them. */
  clusters: readonly ClusterInfo[];
  /** Every directory of the generator's repository (relative, `/`-separated), listed by the caller. */
  directoriesOf(generator: GitDirectoriesGenerator): readonly string[];
}

export type Generated = { ok: true; params: Params[] } | { ok: false; error: GitgateError };

class GenerateError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function capped(count: number, what: string): void {
  if (count > MAX_GENERATED)
    throw new GenerateError("TooManyApps", `${what}: ${count} parameter sets; at most ${MAX_GENERATED}`);
}

function clusterParams(c: ClusterInfo): Params {
  const params: Record<string, string> = { "cluster.name": c.name, "cluster.server": c.server };
  for (const [k, v] of Object.entries(c.labels)) params[`cluster.labels.${k}`] = v;
  return params;
}

/** No selector: every registered cluster and the hub. A selector: registered clusters only (the hub has no Secret, so no labels). */
function fromClusters(g: NonNullable<Generator["clusters"]>, inputs: GeneratorInputs): Params[] {
  const problem = g.selector ? selectorProblem(g.selector) : undefined;
  if (problem) throw new GenerateError("InvalidSelector", `clusters generator: ${problem}`);
  const { selector } = g;
  const clusters = selector
    ? inputs.clusters.filter((c) => matchesSelector(selector, c.labels))
    : [{ name: HUB_CLUSTER, server: HUB_SERVER, labels: {} }, ...inputs.clusters];
  return [...clusters].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(clusterParams);
}

/** Lowercase, anything but letters, digits, `-` and `.` as `-`: usable in a GitApp name. */
export function normalizeName(text: string): string {
  let out = "";
  for (const ch of text.toLowerCase()) out += /[a-z0-9.-]/.test(ch) ? ch : "-";
  return out;
}

/** The directories matching an include pattern and no exclude pattern, sorted. */
export function selectDirectories(g: GitDirectoriesGenerator, all: readonly string[]): string[] {
  for (const d of g.directories) {
    const problem = patternProblem(d.path);
    if (problem) throw new GenerateError("InvalidPattern", `gitDirectories generator: ${problem}`);
  }
  const include = g.directories.filter((d) => !d.exclude).map((d) => d.path);
  const exclude = g.directories.filter((d) => d.exclude).map((d) => d.path);
  return all
    .filter((dir) => include.some((p) => matchGlob(p, dir)) && !exclude.some((p) => matchGlob(p, dir)))
    .sort();
}

function fromDirectories(g: GitDirectoriesGenerator, inputs: GeneratorInputs): Params[] {
  return selectDirectories(g, inputs.directoriesOf(g)).map((path) => {
    const basename = path.slice(path.lastIndexOf("/") + 1);
    return { path, "path.basename": basename, "path.basenameNormalized": normalizeName(basename) };
  });
}

function fromMatrix(g: NonNullable<Generator["matrix"]>, inputs: GeneratorInputs): Params[] {
  if (g.generators.length !== 2)
    throw new GenerateError(
      "InvalidMatrix",
      `a matrix generator takes exactly two generators, not ${g.generators.length}`,
    );
  if (g.generators.some((child) => child.matrix))
    throw new GenerateError("InvalidMatrix", "a matrix generator may not hold another matrix");
  const [left, right] = g.generators.map((child) => fromGenerator(child, inputs)) as [Params[], Params[]];
  capped(left.length * right.length, "matrix generator");
  const out: Params[] = [];
  for (const a of left)
    for (const b of right) {
      const clash = Object.keys(b).find((k) => Object.hasOwn(a, k));
      if (clash !== undefined)
        throw new GenerateError(
          "DuplicateParam",
          `matrix generator: both generators give the param "${clash}"`,
        );
      out.push({ ...a, ...b });
    }
  return out;
}

function fromGenerator(g: Generator, inputs: GeneratorInputs): Params[] {
  if (g.list) return g.list.elements.map((e) => ({ ...e }));
  if (g.clusters) return fromClusters(g.clusters, inputs);
  if (g.gitDirectories) return fromDirectories(g.gitDirectories, inputs);
  if (g.matrix) return fromMatrix(g.matrix, inputs);
  throw new GenerateError(
    "InvalidGenerator",
    "a generator needs one of list, clusters, gitDirectories, matrix",
  );
}

/** Every parameter set of the set's generators, or the set's error. */
export function generate(spec: Pick<GitAppSetSpec, "generators">, inputs: GeneratorInputs): Generated {
  try {
    const params: Params[] = [];
    for (const g of spec.generators) {
      params.push(...fromGenerator(g, inputs));
      capped(params.length, "the generators");
    }
    return { ok: true, params };
  } catch (err) {
    if (err instanceof GenerateError) return { ok: false, error: terminal(err.reason, err.message) };
    throw err;
  }
}

/** Whether any generator (matrices included) is a clusters generator. */
export function usesClusters(generators: readonly Generator[]): boolean {
  return generators.some(
    (g) => g.clusters !== undefined || (g.matrix ? usesClusters(g.matrix.generators) : false),
  );
}

/** Every gitDirectories generator of the spec, matrices included: what the caller lists first. */
export function directoryGenerators(generators: readonly Generator[]): GitDirectoriesGenerator[] {
  return generators.flatMap((g) => [
    ...(g.gitDirectories ? [g.gitDirectories] : []),
    ...(g.matrix ? directoryGenerators(g.matrix.generators) : []),
  ]);
}
