/**
 * GitSource over isomorphic-git with one cache per repository:
 *
 *   <cacheRoot>/<hash of URL>/repo.git          bare, shallow object store shared by all GitApps
 *   <cacheRoot>/<hash of URL>/worktrees/<sha>   the files of one commit, reused while recent
 *
 * Polling is cheap: a ref lookup (ls-refs) first, and a fetch only when that commit is not cached.
 * The lookup is shared by every GitApp asking the same of the same repository (ref-lookups.ts).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import git, { type HttpClient } from "isomorphic-git";
import { GitgateError, terminal } from "../errors.js";
import { silentLogger, type Logger } from "../log/logger.js";
import type { CommitLog } from "./commit-info.js";
import { classifyGitError, fetchTimedOut, revisionNotFound, type GitContext } from "./classify.js";
import { AgentPool, hostRefusal, type HostPolicy } from "./hosts.js";
import { repoLocks } from "./mutex.js";
import type { ProxySettings } from "./proxy.js";
import { authHeaders, FULL_SHA, lookupRevision, withDeadline } from "./remote.js";
import { isTagRange, SHORT_SHA, highestTag } from "./revision.js";
import { HttpGitRemote } from "./http-git.js";
import { gitStore, isomorphicStore, type ObjectStore } from "./object-store.js";
import { SshRemote } from "./ssh-remote.js";
import type { Checkout, GitCredentials, GitSource, RemoteHead, SourceRequest } from "./types.js";
import { parseRepoURL, type ParsedRepoURL } from "./url.js";
import { lookupKey, SharedLookups } from "./ref-lookups.js";
import { DEFAULT_MAX_FILE_BYTES, ensureWorktree, hasWorktree, pruneWorktrees } from "./worktree.js";

export interface GitSourceOptions {
  /** Directory for all repository caches; created if missing. */
  cacheRoot: string;
  /** Upper bound for one network operation (ref lookup or fetch). Default 60 s. */
  fetchTimeoutMs?: number;
  /** Worktrees kept per repository. Default 5. */
  keepWorktrees?: number;
  /** A worktree used more recently than this is never deleted (a render may be reading it). Default 60 s. */
  worktreeGraceMs?: number;
  /** Largest file written out of a commit, anywhere in the repository. Default 64 MiB. */
  maxFileBytes?: number;
  /** Most bytes one network operation may receive (a fetch's packfile is held in memory). Default 512 MiB. */
  maxFetchBytes?: number;
  /** sync.allowedHosts: the only hosts fetched from (any when empty); link-local/metadata never. */
  allowedHosts?: readonly string[];
  /** HTTP(S) proxy (from HTTPS_PROXY, HTTP_PROXY and NO_PROXY, read in config/). */
  proxy?: ProxySettings;
  logger?: Logger;
  /** Where the subject and author of each resolved commit are kept (the dashboard reads them). */
  commits?: CommitLog;
  /**
   * What fetches over HTTP(S): the `git` binary (default when it is installed; streams packs to
   * disk, see http-git.ts) or isomorphic-git (no binary needed; holds each pack in memory).
   */
  fetcher?: GitFetcher;
  /**
   * How long a ref lookup's answer is shared by the GitApps asking the same (sync.minInterval, the
   * shortest poll interval); a push to the repository ends it sooner (`repoPushed`). Default 0:
   * only lookups running at once are shared.
   */
  refLookupWindowMs?: number;
}

export type GitFetcher = "git" | "isomorphic-git";

/** Whether a `git` binary is on the PATH gitgate runs git with. */
export function gitInstalled(): boolean {
  return ["/usr/local/bin/git", "/usr/bin/git", "/bin/git"].some((p) => fs.existsSync(p));
}

/**
 * Whether git can fetch over HTTP(S): the binary and its `git-remote-http` helper (a separate
 * program linked to libcurl, in git's exec path). An image that carries `git` for SSH alone lacks
 * it; gitgate then fetches HTTP(S) with isomorphic-git.
 */
export function gitHttpInstalled(): boolean {
  const helpers = ["/usr/lib/git-core", "/usr/libexec/git-core", "/usr/local/libexec/git-core"];
  return gitInstalled() && helpers.some((dir) => fs.existsSync(`${dir}/git-remote-http`));
}

/**
 * What one fetch needs from a remote, over smart HTTP (isomorphic-git) or SSH (the git binary).
 * Refs fetched are written under their own names in the cache's object store.
 */
export interface Remote {
  lookup(revision: string): Promise<RemoteHead | undefined>;
  /** Every ref whose name starts with `prefix`, annotated tags peeled. */
  listRefs(prefix: string): Promise<{ ref: string; oid: string; peeled?: string }[]>;
  /** Fetches one ref (depth 1); the object it points at now, undefined for an empty repository. */
  fetchRef(ref: string): Promise<string | undefined>;
  /** Fetches all branches and tags to `depth`. */
  fetchAll(anchor: string, depth: number): Promise<void>;
}

/** Git's own "infinite" depth: a fetch with it turns a shallow repository into a complete one. */
const UNSHALLOW_DEPTH = 0x7fffffff;
/** isomorphic-git never repacks; past this many packfiles the cache is dropped and fetched afresh. */
const MAX_PACKS = 64;

interface RepoTarget {
  repo: ParsedRepoURL;
  credentials: GitCredentials | undefined;
  insecure: boolean;
  ctx: GitContext;
  cacheDir: string;
  gitdir: string;
  worktreesDir: string;
}

export class IsomorphicGitSource implements GitSource {
  private readonly cacheRoot: string;
  private readonly timeoutMs: number;
  private readonly keep: number;
  private readonly maxFileBytes: number;
  private readonly maxFetchBytes: number;
  private readonly graceMs: number;
  private readonly log: Logger;
  private readonly hosts: HostPolicy;
  private readonly agents: AgentPool;
  private readonly commits: CommitLog | undefined;
  private readonly proxy: ProxySettings | undefined;
  readonly fetcher: GitFetcher;
  private readonly lookups: SharedLookups<RemoteHead | undefined>;

  constructor(opts: GitSourceOptions) {
    this.commits = opts.commits;
    this.proxy = opts.proxy;
    this.fetcher = opts.fetcher ?? (gitHttpInstalled() ? "git" : "isomorphic-git");
    this.hosts = { allowedHosts: opts.allowedHosts ?? [] };
    this.agents = new AgentPool(this.hosts, opts.proxy);
    this.cacheRoot = resolvePath(opts.cacheRoot);
    this.timeoutMs = opts.fetchTimeoutMs ?? 60_000;
    this.keep = Math.max(1, opts.keepWorktrees ?? 5);
    this.maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.maxFetchBytes = opts.maxFetchBytes ?? 512 * 1024 * 1024;
    this.graceMs = opts.worktreeGraceMs ?? 60_000;
    this.log = opts.logger ?? silentLogger;
    this.lookups = new SharedLookups(Math.max(0, opts.refLookupWindowMs ?? 0), this.timeoutMs);
  }

  /**
   * A push to this repository (the push receiver): lookups of it asked before now are not shared
   * any more, so the syncs the push queues see the pushed commit.
   */
  repoPushed(repoURL: string): void {
    const dropped = this.lookups.invalidate(repoURL);
    if (dropped > 0) this.log.debug({ dropped }, "ref lookups of a pushed repository dropped");
  }

  /**
   * What the remote says `revision` points at now, without fetching objects. A full SHA is returned
   * as is; a short one that names no ref is not found here (only resolve's fetch can expand it).
   */
  async headOf(request: SourceRequest): Promise<RemoteHead> {
    const req = normalizeRevision(request);
    const target = this.target(req);
    if (FULL_SHA.test(req.revision)) return { ref: req.revision, commit: req.revision };
    const head = await this.sharedHead(target, req.revision);
    if (head) return head;
    throw revisionNotFound(target.ctx, "no branch or tag has that name");
  }

  /** lookupHead, shared with every lookup of the same revision, repository and identity (ref-lookups.ts). */
  private sharedHead(target: RepoTarget, revision: string): Promise<RemoteHead | undefined> {
    const key = lookupKey(target.repo.url, revision, target.credentials, target.insecure);
    return this.lookups.run(key, target.repo.url, () =>
      this.withRemote(target, (remote) => this.lookupHead(target, remote, revision)),
    );
  }

  /** A branch or tag of that name, else the highest tag in a semver range; undefined for a short SHA. */
  private async lookupHead(
    target: RepoTarget,
    remote: Remote,
    revision: string,
  ): Promise<RemoteHead | undefined> {
    const head = await remote.lookup(revision);
    if (head) return head;
    if (isTagRange(revision)) {
      const best = highestTag(await remote.listRefs("refs/tags/"), revision);
      if (best) return best;
      // "1265123" is a range (major 1265123) and a short SHA: with no such tag, it is the SHA.
      if (!SHORT_SHA.test(revision)) throw revisionNotFound(target.ctx, "no tag matches that semver range");
    }
    if (SHORT_SHA.test(revision)) return undefined;
    throw revisionNotFound(target.ctx, "no branch or tag has that name");
  }

  async resolve(request: SourceRequest): Promise<Checkout> {
    const req = normalizeRevision(request);
    const target = this.target(req);
    if (req.insecureSkipTLSVerify && !target.repo.ssh) {
      this.log.warn(
        { repo: target.repo.url },
        "insecureSkipTLSVerify: fetching without checking the server's TLS certificate; anyone on the path can serve this repository",
      );
    }
    const sha = FULL_SHA.test(req.revision) ? req.revision : undefined;
    // The ref lookup runs outside the lock: it touches no files, and polls of one repo need not queue.
    const head = sha ? undefined : await this.sharedHead(target, req.revision);
    const short = !sha && !head ? req.revision.toLowerCase() : undefined;
    return repoLocks.run(target.cacheDir, async () => {
      try {
        const known = head?.commit ?? sha ?? "";
        let commit = known;
        if (short !== undefined || !(await hasWorktree(target.worktreesDir, known))) {
          await this.ensureGitdir(target);
          commit = await this.withRemote(target, (remote) =>
            head
              ? this.commitForRef(target, remote, head)
              : this.commitForSha(target, remote, sha ?? short ?? ""),
          );
        }
        const dir = await ensureWorktree(
          target.gitdir,
          target.worktreesDir,
          commit,
          this.maxFileBytes,
          this.store(target).writeTree,
        );
        const pruned = await pruneWorktrees(target.worktreesDir, this.keep, this.graceMs, commit);
        if (pruned.length > 0) this.log.debug({ repo: target.repo.url, pruned }, "pruned worktrees");
        await this.noteCommit(target, commit);
        return { commit, dir, ref: head?.ref ?? commit };
      } catch (err) {
        // Remote failures arrive classified. Anything else came from the local cache (a missing
        // object, a full disk): drop the object store so the next attempt starts from a clean fetch.
        if (!(err instanceof GitgateError)) await rm(target.gitdir, { recursive: true, force: true });
        throw classifyGitError(err, target.ctx);
      }
    });
  }

  /** Runs `op` against the repository's remote: SSH through the git binary, else isomorphic-git. */
  private async withRemote<T>(target: RepoTarget, op: (remote: Remote) => Promise<T>): Promise<T> {
    if (target.repo.ssh) {
      const remote = await SshRemote.open(target.repo.ssh, target.credentials, {
        ctx: target.ctx,
        gitdir: target.gitdir,
        hosts: this.hosts,
        timeoutMs: this.timeoutMs,
        maxFetchBytes: this.maxFetchBytes,
      }).catch((err: unknown) => {
        throw classifyGitError(err, target.ctx); // a name that does not resolve, a full temp dir
      });
      try {
        return await op(remote);
      } finally {
        await remote.close();
      }
    }
    if (this.fetcher === "isomorphic-git") return op(this.httpRemote(target));
    return op(
      new HttpGitRemote(this.httpRemote(target), target.repo.url, target.credentials, {
        ctx: target.ctx,
        gitdir: target.gitdir,
        hosts: this.hosts,
        proxy: this.proxy,
        insecure: target.insecure,
        timeoutMs: this.timeoutMs,
        maxFetchBytes: this.maxFetchBytes,
        maxFileBytes: this.maxFileBytes,
      }),
    );
  }

  /** The object store's reader: git's when git wrote it (SSH, the git fetcher), else isomorphic-git's. */
  private store(target: RepoTarget): ObjectStore {
    return target.repo.ssh || this.fetcher === "git" ? gitStore : isomorphicStore;
  }

  private httpRemote(target: RepoTarget): Remote {
    const { url } = target.repo;
    const headers = (): Record<string, string> => authHeaders(target.credentials);
    return {
      lookup: (revision) =>
        this.network(target, (client) => lookupRevision(client, url, revision, target.credentials)),
      listRefs: (prefix) =>
        this.network(target, (client) =>
          git.listServerRefs({ http: client, url, headers: headers(), prefix, peelTags: true }),
        ),
      fetchRef: async (ref) => {
        const fetched = await this.network(target, (client) =>
          git.fetch({
            fs,
            http: client,
            gitdir: target.gitdir,
            url,
            ref,
            singleBranch: true,
            depth: 1,
            tags: false,
            headers: headers(),
          }),
        );
        // Tags are not covered by the refspec; record them too, for the same "have" on the next fetch.
        if (fetched.fetchHead && ref.startsWith("refs/tags/")) {
          await git.writeRef({ fs, gitdir: target.gitdir, ref, value: fetched.fetchHead, force: true });
        }
        return fetched.fetchHead ?? undefined;
      },
      fetchAll: async (anchor, depth) => {
        await this.network(target, (client) =>
          git.fetch({
            fs,
            http: client,
            gitdir: target.gitdir,
            url,
            ref: anchor,
            singleBranch: false,
            tags: true,
            depth,
            headers: headers(),
          }),
        );
      },
    };
  }

  private target(req: SourceRequest): RepoTarget {
    const repo = parseRepoURL(req.repoURL);
    // Before any request: a clear condition for a host refused outright (names are checked again
    // on what they resolve to, and redirects per connection, by the agents).
    const refused = hostRefusal(repo.ssh ? repo.ssh.host : new URL(repo.url).hostname, this.hosts);
    if (refused) throw refused;
    const credentials = req.credentials ?? repo.credentials;
    // One cache per repo and identity: a full SHA is served from the cache without asking the
    // server, so a GitApp without (or with other) credentials must not see a private repo's cache.
    const cacheDir = join(this.cacheRoot, credentials ? `${repo.key}-${identityKey(credentials)}` : repo.key);
    return {
      repo,
      credentials,
      insecure: req.insecureSkipTLSVerify === true,
      ctx: { repo: repo.url, revision: req.revision, hasCredentials: credentials !== undefined },
      cacheDir,
      gitdir: join(cacheDir, "repo.git"),
      worktreesDir: join(cacheDir, "worktrees"),
    };
  }

  /** Reads the commit's subject and author from the local object store, once per commit. */
  private async noteCommit(target: RepoTarget, commit: string): Promise<void> {
    if (!this.commits || this.commits.has(commit)) return;
    try {
      this.commits.set(commit, await this.store(target).commitInfo(target.gitdir, commit));
    } catch (err) {
      // Only the dashboard's revision column misses it: never a reason to fail the sync.
      this.log.debug(
        { repo: target.repo.url, commit, err: String(err) },
        "reading the commit's subject failed",
      );
    }
  }

  /** Fetches the ref only when the commit it points at is not cached yet. */
  private async commitForRef(target: RepoTarget, remote: Remote, head: RemoteHead): Promise<string> {
    const store = this.store(target);
    if ((await store.type(target.gitdir, head.commit)) === "commit") return head.commit;
    this.log.debug({ repo: target.repo.url, ref: head.ref }, "fetching");
    const fetched = await remote.fetchRef(head.ref);
    if (!fetched) throw revisionNotFound(target.ctx, "the repository is empty");
    // The ref may have moved since the lookup; the fetched commit is the newer one.
    return store.peelToCommit(target.gitdir, fetched, `${head.ref} of ${target.repo.url}`);
  }

  /**
   * A full or short SHA. A server only hands out commits reachable from its refs
   * (uploadpack.allowReachableSHA1InWant is off by default), so: the tips of all refs first (cheap),
   * then the full history.
   */
  private async commitForSha(target: RepoTarget, remote: Remote, sha: string): Promise<string> {
    const store = this.store(target);
    let found = await expandInCache(store, target, sha);
    if (found === undefined) {
      const refs = await remote.listRefs("refs/");
      const anchor = refs[0]?.ref;
      if (anchor === undefined) throw revisionNotFound(target.ctx, "the repository has no branches or tags");
      for (const depth of [1, UNSHALLOW_DEPTH]) {
        this.log.debug({ repo: target.repo.url, depth }, "fetching all refs to find a commit");
        await remote.fetchAll(anchor, depth);
        found = await expandInCache(store, target, sha);
        if (found !== undefined) break;
      }
    }
    if (found === undefined) {
      throw revisionNotFound(target.ctx, "no branch or tag of the repository contains that commit");
    }
    return store.peelToCommit(target.gitdir, found, `commit ${sha}`);
  }

  private async ensureGitdir(target: RepoTarget): Promise<void> {
    const packDir = join(target.gitdir, "objects", "pack");
    const packs = (await readdir(packDir).catch(() => [] as string[])).filter((n) => n.endsWith(".pack"));
    if (packs.length > MAX_PACKS) {
      this.log.info({ repo: target.repo.url, packs: packs.length }, "dropping Git cache to repack it");
      await rm(target.gitdir, { recursive: true, force: true });
    }
    if (
      await stat(join(target.gitdir, "HEAD")).then(
        () => true,
        () => false,
      )
    )
      return;
    await mkdir(target.cacheDir, { recursive: true });
    await git.init({ fs, dir: target.gitdir, bare: true, defaultBranch: "main" });
    // Branches are stored under their own names, so the next fetch of a branch sends its old tip as
    // a "have" and only new objects are transferred. (Not "+refs/*:refs/*": isomorphic-git then
    // tries to write the peeled `refs/tags/x^{}` entries of the advertisement as refs and fails.)
    await git.setConfig({ fs, gitdir: target.gitdir, path: "remote.origin.url", value: target.repo.url });
    await git.setConfig({
      fs,
      gitdir: target.gitdir,
      path: "remote.origin.fetch",
      value: "+refs/heads/*:refs/heads/*",
    });
  }

  private async network<T>(target: RepoTarget, op: (client: HttpClient) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(
        this.timeoutMs,
        () => fetchTimedOut(target.ctx, this.timeoutMs),
        op,
        {
          maxBytes: this.maxFetchBytes,
          onExceeded: () =>
            terminal(
              "RepoTooLarge",
              `${target.ctx.repo} sent more than ${this.maxFetchBytes} bytes in one fetch (sync.maxFetchBytes): ` +
                "raise the limit, or point the GitApp at a smaller repository",
            ),
          maxObjectBytes: this.maxFileBytes,
          onBadPack: (check) =>
            check.reason === "too-large"
              ? terminal(
                  "FileTooLarge",
                  `${target.ctx.repo} holds a Git object of ${check.size} bytes, more than the ${this.maxFileBytes} ` +
                    "gitgate reads per file (render.maxRepoFileBytes): remove it from the repository or raise the limit",
                )
              : terminal(
                  "BadPack",
                  `${target.ctx.repo} sent a packfile gitgate cannot read: ${check.detail}`,
                ),
        },
        this.agents.for(target.credentials?.caCert, target.insecure),
      );
    } catch (err) {
      throw classifyGitError(err, target.ctx);
    }
  }
}

/** Upper-case SHAs (as some UIs copy them) name the same commit; worktree dirs use lower case. */
function normalizeRevision(req: SourceRequest): SourceRequest {
  const revision = req.revision.trim();
  return { ...req, revision: /^[0-9a-f]{40}$/i.test(revision) ? revision.toLowerCase() : revision };
}

export function createGitSource(opts: GitSourceOptions): IsomorphicGitSource {
  return new IsomorphicGitSource(opts);
}

/** A full SHA, or the one object a short SHA names in the cache; undefined when not (yet) there. */
async function expandInCache(
  store: ObjectStore,
  target: RepoTarget,
  sha: string,
): Promise<string | undefined> {
  const oid = FULL_SHA.test(sha) ? sha : await store.expand(target.gitdir, sha, target.ctx.repo);
  if (oid === undefined) return undefined;
  return (await store.type(target.gitdir, oid)) === undefined ? undefined : oid;
}

/** The same user and secret however given (password, token, SSH key or URL userinfo), as a short hash. */
function identityKey(credentials: GitCredentials): string {
  const secret = credentials.sshPrivateKey ?? credentials.password ?? credentials.token ?? "";
  const user = credentials.username ?? (credentials.token ? "x-access-token" : "");
  return createHash("sha256").update(`${user}\0${secret}`).digest("hex").slice(0, 16);
}
