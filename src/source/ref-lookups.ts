/**
 * Ref lookups shared by every GitApp that reads one repository at one revision with one identity
 * (issue 18): a push used to cost one lookup (2 HTTP requests) per GitApp, 400 for a 200-app
 * monorepo; it now costs one.
 *
 * A lookup is shared while it runs, and its answer for `windowMs` after it started (the caller
 * passes sync.minInterval, the shortest poll interval, so a poll never sees an answer older than
 * that). A push ends the sharing of everything asked of its repository before it (`invalidate`):
 * a lookup started after the push never gets an answer the server gave before it. A failure is
 * shared only with the lookups waiting on it, never kept.
 *
 * Keys name the identity (see lookupKey): a private repository's answer never reaches a GitApp
 * without the same credentials.
 */
import { createHash } from "node:crypto";
import { TtlCache } from "../bounded/ttl-cache.js";
import type { GitCredentials } from "./types.js";
import { sameRepo } from "./url.js";

interface Shared<T> {
  repoURL: string;
  startedAt: number;
  result: Promise<T>;
}

/** Distinct (repository, revision, identity) lookups remembered at once. */
const MAX_KEYS = 2_000;

export class SharedLookups<T> {
  private readonly entries: TtlCache<Shared<T>>;

  /**
   * `maxRunMs`: the longest a lookup can run (its network deadline); one still running is shared
   * until then even when that is longer than the window.
   */
  constructor(
    private readonly windowMs: number,
    private readonly maxRunMs: number,
    private readonly now: () => number = Date.now,
    max = MAX_KEYS,
  ) {
    this.entries = new TtlCache<Shared<T>>(max, windowMs, now);
  }

  /** `op`'s answer, or the answer of a lookup of the same key started within the window. */
  run(key: string, repoURL: string, op: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) return hit.result;
    const startedAt = this.now();
    const entry: Shared<T> = { repoURL, startedAt, result: Promise.resolve().then(op) };
    this.entries.set(key, entry, Math.max(this.windowMs, this.maxRunMs) + 1);
    entry.result.then(
      () => {
        if (this.entries.get(key) !== entry) return; // invalidated, or replaced meanwhile
        const left = startedAt + this.windowMs - this.now();
        if (left > 0) this.entries.set(key, entry, left);
        else this.entries.delete(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.result;
  }

  /** A push to `repoURL`: no lookup of it started before now is shared any more. Returns how many were dropped. */
  invalidate(repoURL: string): number {
    return this.entries.deleteWhere((entry) => sameRepo(entry.repoURL, repoURL));
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * The key of one lookup: the repository, the revision and everything that decides who may see the
 * answer and which server gave it (user and secret, CA bundle, known hosts, TLS checks skipped).
 * Hashed, so no secret is kept in memory under its own value.
 */
export function lookupKey(
  repoURL: string,
  revision: string,
  credentials: GitCredentials | undefined,
  insecure: boolean,
): string {
  const c = credentials ?? {};
  const parts = [
    repoURL,
    revision,
    c.username ?? "",
    c.password ?? "",
    c.token ?? "",
    c.sshPrivateKey ?? "",
    c.knownHosts ?? "",
    c.caCert ?? "",
    insecure ? "insecure" : "verified",
  ];
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}
