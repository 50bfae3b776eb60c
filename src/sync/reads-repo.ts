/**
 * Which GitApps a push to a repository concerns: those whose source is that repository, and those
 * that read value files from it (`spec.valuesFrom`, a chart's values kept in Git), since a commit
 * there changes what they render just as a commit to their source does.
 */
import type { GitApp } from "../api/gitapp.js";

export function readsRepo(
  spec: Pick<GitApp["spec"], "source" | "valuesFrom">,
  repoURL: string,
  sameRepo: (a: string, b: string) => boolean,
): boolean {
  if (sameRepo(spec.source.repoURL, repoURL)) return true;
  const values = spec.valuesFrom?.repoURL;
  return typeof values === "string" && values !== "" && sameRepo(values, repoURL);
}
