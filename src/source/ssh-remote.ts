/**
 * The Remote of an ssh:// or scp-like repository: `git ls-remote` and `git fetch` into the same
 * bare cache isomorphic-git reads worktrees from (git writes packs and a `shallow` file it reads).
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import * as fs from "node:fs";
import git from "isomorphic-git";
import { terminal } from "../errors.js";
import type { GitContext } from "./classify.js";
import type { Remote } from "./git-source.js";
import type { HostPolicy } from "./hosts.js";
import { candidateRefs, headFromRefs } from "./remote.js";
import {
  checkedAddress,
  classifySshFailure,
  closeSession,
  openSession,
  parseLsRemote,
  runGit,
  type GitResult,
  type SshSession,
} from "./ssh.js";
import type { GitCredentials, RemoteHead } from "./types.js";
import type { SshTarget } from "./url.js";

export interface SshRemoteOptions {
  ctx: GitContext;
  gitdir: string;
  hosts: HostPolicy;
  timeoutMs: number;
  maxFetchBytes: number;
}

/** Where a fetched ref that is not under refs/ (a detached HEAD) is recorded. */
const FETCHED_REF = "refs/gitgate/fetched";

export class SshRemote implements Remote {
  private constructor(
    private readonly session: SshSession,
    private readonly opts: SshRemoteOptions,
  ) {}

  static async open(
    target: SshTarget,
    credentials: GitCredentials | undefined,
    opts: SshRemoteOptions,
  ): Promise<SshRemote> {
    const address = await checkedAddress(target, opts.hosts);
    const connectSec = Math.max(1, Math.min(30, Math.floor(opts.timeoutMs / 1000)));
    return new SshRemote(await openSession(target, credentials, address, opts.ctx, connectSec), opts);
  }

  async close(): Promise<void> {
    await closeSession(this.session.dir);
  }

  private async git(args: string[], abortIf?: () => Promise<boolean>): Promise<GitResult> {
    const result = await runGit({
      args,
      env: this.session.env,
      cwd: this.session.dir,
      timeoutMs: this.opts.timeoutMs,
      abortIf,
    });
    if (result.aborted) throw this.tooLarge();
    if (result.code !== 0) throw classifySshFailure(result, this.opts.ctx, this.opts.timeoutMs);
    return result;
  }

  private tooLarge(): Error {
    return terminal(
      "RepoTooLarge",
      `${this.opts.ctx.repo} sent more than ${this.opts.maxFetchBytes} bytes in one fetch (sync.maxFetchBytes): ` +
        "raise the limit, or point the GitApp at a smaller repository",
    );
  }

  async lookup(revision: string): Promise<RemoteHead | undefined> {
    const wanted = candidateRefs(revision);
    const out = await this.git(["ls-remote", "--symref", this.session.url, ...wanted]);
    const refs = parseLsRemote(out.stdout);
    for (const ref of wanted) {
      const head = headFromRefs(refs, ref);
      if (head) return head;
    }
    return undefined;
  }

  async listRefs(prefix: string): Promise<{ ref: string; oid: string; peeled?: string }[]> {
    const out = await this.git(["ls-remote", this.session.url]);
    return parseLsRemote(out.stdout).filter((r) => r.ref.startsWith(prefix));
  }

  async fetchRef(ref: string): Promise<string | undefined> {
    const dest = ref.startsWith("refs/") ? ref : FETCHED_REF;
    await this.fetch(["--depth=1", "--no-tags", this.session.url, `+${ref}:${dest}`]);
    try {
      return await git.resolveRef({ fs, gitdir: this.opts.gitdir, ref: dest });
    } catch {
      return undefined;
    }
  }

  async fetchAll(_anchor: string, depth: number): Promise<void> {
    await this.fetch([`--depth=${depth}`, "--tags", this.session.url, "+refs/heads/*:refs/heads/*"]);
  }

  /**
   * git fetch into the cache. git has no client-side byte cap, so the pack directory (where the
   * incoming pack is written as it arrives) is watched and git killed once it grew past the cap;
   * whatever it wrote is dropped with the cache.
   */
  private async fetch(args: string[]): Promise<void> {
    const { gitdir, maxFetchBytes } = this.opts;
    const before = await packBytes(gitdir);
    const over = async (): Promise<boolean> => (await packBytes(gitdir)) - before > maxFetchBytes;
    try {
      await this.git(
        ["--git-dir", gitdir, "fetch", "--quiet", "--no-write-fetch-head", "--update-head-ok", ...args],
        over,
      );
      if (await over()) throw this.tooLarge();
    } catch (err) {
      if ((err as { reason?: string }).reason === "RepoTooLarge")
        await rm(gitdir, { recursive: true, force: true });
      throw err;
    }
  }
}

export async function packBytes(gitdir: string): Promise<number> {
  const dir = join(gitdir, "objects", "pack");
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    total += (await stat(join(dir, name)).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
