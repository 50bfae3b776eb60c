/**
 * Which chart version a GitApp's `revision` names. Pure. An exact version picks that version; a
 * semver range (`1.2.x`, `^1.2`, `>=1.0 <2`) the highest published version it matches, as Helm's
 * `--version` does; an empty revision (or `HEAD`, the Git default) the highest stable version.
 * Pre-releases only match a range that names a pre-release itself (semver's rule, and Helm's).
 */
import semver from "semver";
import { terminal } from "../../errors.js";

/** Longest revision considered; a range is user input and semver's parser is linear, but cap it anyway. */
const MAX_REVISION_LENGTH = 256;

export function isExactVersion(revision: string): boolean {
  return semver.valid(revision, { loose: false }) !== null;
}

/**
 * The version `revision` resolves to among `published` (chart versions as the repository lists them,
 * unparseable ones ignored). Throws a terminal ChartVersionNotFound when nothing matches.
 */
export function resolveChartVersion(published: readonly string[], revision: string, where: string): string {
  const wanted = revision.trim();
  if (wanted.length > MAX_REVISION_LENGTH)
    throw terminal("InvalidRevision", `chart version range is longer than ${MAX_REVISION_LENGTH} characters`);
  const valid = published.filter((v) => semver.valid(v) !== null);
  if (wanted === "" || wanted === "HEAD" || wanted === "*" || wanted === "latest") {
    const stable = semver.rsort(valid.filter((v) => semver.prerelease(v) === null));
    if (stable[0]) return stable[0];
    throw terminal("ChartVersionNotFound", `${where} has no stable version`);
  }
  // An exact version: the one published under that name (`v1.2.3` and `1.2.3` are the same version).
  const exact = semver.valid(wanted);
  if (exact !== null) {
    const found = valid.find((v) => semver.eq(v, exact));
    if (found !== undefined) return found;
    throw terminal("ChartVersionNotFound", `${where} has no version ${exact}`);
  }
  if (semver.validRange(wanted) === null)
    throw terminal(
      "InvalidRevision",
      `${JSON.stringify(wanted)} is neither a chart version nor a semver range`,
    );
  const best = semver.maxSatisfying(valid, wanted);
  if (best !== null) return best;
  throw terminal("ChartVersionNotFound", `${where} has no version matching ${JSON.stringify(wanted)}`);
}
