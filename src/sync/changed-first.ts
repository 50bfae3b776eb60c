/**
 * Which GitApps a push changed, from the files its payload lists (GitHub, GitLab and Gitea list
 * each pushed commit's added, modified and removed files): those whose source path holds one, or
 * whose `$values/` value files are one. The controller syncs them before the other GitApps of the
 * repository, which only move their status commit (their content stamp is unchanged, so their
 * apply writes nothing). Argo CD reads the same lists to pick the apps a push refreshes.
 *
 * Ordering only: every GitApp of the repository is still synced. A list that misses a file (a
 * payload that lists only some commits, a kustomization reading `../base`) delays that GitApp
 * no more than before; a forged list can only reorder. Pure.
 */
import type { GitApp } from "../api/gitapp.js";
import { trimLeading, trimTrailing } from "../strings.js";

type Spec = Pick<GitApp["spec"], "source" | "valuesFrom">;

/** A repository path as gitgate compares them: no leading `./` or `/`, no trailing `/`; "" = the root. */
export function repoPath(path: string): string {
  let p = trimTrailing(path.trim(), "/");
  for (;;) {
    const next = trimLeading(p.startsWith("./") ? p.slice(2) : p, "/");
    if (next === p) break;
    p = next;
  }
  return p === "." ? "" : p;
}

/** Whether `file` is `dir` or lies under it ("" holds every file). */
function under(file: string, dir: string): boolean {
  return dir === "" || file === dir || file.startsWith(`${dir}/`);
}

/** A push's listed files as repository paths, once per push (not once per GitApp); undefined: none listed. */
export function pushedFiles(paths: readonly string[] | undefined): ReadonlySet<string> | undefined {
  return paths === undefined || paths.length === 0 ? undefined : new Set(paths.map(repoPath));
}

/** Whether the push to `repoURL` that changed `files` (pushedFiles) changed what this GitApp renders. */
export function changedByPush(
  spec: Spec,
  repoURL: string,
  files: ReadonlySet<string> | undefined,
  sameRepo: (a: string, b: string) => boolean,
): boolean {
  if (files === undefined || files.size === 0) return false;
  if (!spec.source.chart && sameRepo(spec.source.repoURL, repoURL)) {
    const dir = repoPath(spec.source.path ?? "");
    for (const f of files) if (under(f, dir)) return true;
  }
  const values = spec.valuesFrom?.repoURL;
  if (typeof values !== "string" || values === "" || !sameRepo(values, repoURL)) return false;
  const valueFiles = (spec.source.helm?.valueFiles ?? [])
    .filter((f) => f.startsWith("$values/"))
    .map((f) => repoPath(f.slice("$values/".length)));
  return valueFiles.some((v) => files.has(v));
}

/** `keys` with those `changed` says true for first, each part in its given order; and which those are. */
export function changedFirst(
  keys: readonly string[],
  changed: (key: string) => boolean,
): { ordered: string[]; first: Set<string> } {
  const first = new Set(keys.filter(changed));
  return { ordered: [...first, ...keys.filter((k) => !first.has(k))], first };
}
