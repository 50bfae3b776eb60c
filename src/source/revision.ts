/**
 * Revisions that name no ref: short commit SHAs, and semver ranges over tags (`v1.2.x`,
 * `>=1.0 <2`) resolved to the highest matching tag. Pure.
 */
import semver from "semver";
import type { RemoteHead } from "./types.js";

/** 4 to 39 hex digits (git's own minimum is 4); 40 is a full SHA. */
export const SHORT_SHA = /^[0-9a-fA-F]{4,39}$/;
/** Ranges longer than this are not revisions anyone writes; semver's parser is not fed them. */
const MAX_RANGE_LENGTH = 128;

/**
 * Whether `revision` is a semver range rather than one exact version: `v1.2.x`, `^1.2`, `>=1.0 <2`,
 * `1` (a ref of that exact name is looked up first, so a branch called `1` still wins).
 */
export function isTagRange(revision: string): boolean {
  if (revision.length > MAX_RANGE_LENGTH || revision.startsWith("refs/")) return false;
  return semver.validRange(revision) !== null && semver.valid(revision) === null;
}

interface ListedRef {
  ref: string;
  oid: string;
  peeled?: string;
}

/** The tag with the highest version in `range` (prereleases only when the range names one). */
export function highestTag(refs: readonly ListedRef[], range: string): RemoteHead | undefined {
  let best: { version: string; head: RemoteHead } | undefined;
  for (const r of refs) {
    if (!r.ref.startsWith("refs/tags/") || r.ref.endsWith("^{}")) continue;
    const version = semver.valid(r.ref.slice("refs/tags/".length));
    if (version === null || !semver.satisfies(version, range)) continue;
    if (!best || semver.gt(version, best.version)) {
      best = { version, head: { ref: r.ref, commit: r.peeled ?? r.oid } };
    }
  }
  return best?.head;
}
