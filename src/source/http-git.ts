/**
 * Fetching over HTTP(S) with the `git` binary (the default fetcher when git is installed):
 * isomorphic-git holds a whole packfile in memory, inflates every object to index it and reads
 * packs whole again at checkout; `git fetch` streams the pack to disk. Ref lookups stay with
 * isomorphic-git (one small ls-refs request, classified as before); only the fetch runs git,
 * confined like the SSH one (ssh.ts): no user or system config, no prompts, only the URL's
 * protocol (GIT_ALLOW_PROTOCOL), no redirects, the checked address pinned (http.curloptResolve) so
 * curl connects where the host policy looked, the credentials handed over by a credential helper
 * that reads them from the environment of that one process and answers only for the repository's
 * host (never in argv, the URL, the cache's config or a message), a CA bundle in a private temp
 * file, the configured proxy, a time limit and a byte cap.
 */
import { lookup } from "node:dns/promises";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import * as fs from "node:fs";
import git from "isomorphic-git";
import { terminal, transient, type GitgateError } from "../errors.js";
import { redactHead } from "../manifest/redact.js";
import { classifyGitError, type GitContext } from "./classify.js";
import type { Remote } from "./git-source.js";
import { addressRefusal, hostRefusal, type HostPolicy } from "./hosts.js";
import { proxyFor, type ProxySettings } from "./proxy.js";
import { packBytes } from "./ssh-remote.js";
import { confinedGitEnv, runGit, type GitResult } from "./ssh.js";
import type { GitCredentials } from "./types.js";

export interface HttpGitOptions {
  ctx: GitContext;
  gitdir: string;
  hosts: HostPolicy;
  proxy: ProxySettings | undefined;
  insecure: boolean;
  timeoutMs: number;
  maxFetchBytes: number;
  /** Objects larger than this are streamed by git rather than inflated in memory. */
  maxFileBytes: number;
}

/** Where a fetched ref that is not under refs/ (a detached HEAD) is recorded. */
const FETCHED_REF = "refs/gitgate/fetched";

/**
 * The credential helper: `get` only, and only for the repository's own protocol and host (with
 * port); the secret comes from this git process's environment. Shell, run by git through /bin/sh.
 * It reads its whole input first for every action, so the writer never meets a closed pipe.
 */
export const CREDENTIAL_HELPER =
  '!f() { test "$1" = get || { while IFS= read -r l; do :; done; exit 0; }; h=; p=; while IFS= read -r l; do case "$l" in host=*) h=${l#host=};; ' +
  'protocol=*) p=${l#protocol=};; esac; done; test "$h" = "$GITGATE_GIT_HOST" && test "$p" = "$GITGATE_GIT_PROTOCOL" ' +
  '|| exit 0; printf \'username=%s\\npassword=%s\\n\' "$GITGATE_GIT_USERNAME" "$GITGATE_GIT_PASSWORD"; }; f';

/** User and secret as HTTP basic auth sends them (remote.ts authHeaders); undefined for none. */
export function basicCredentials(
  credentials: GitCredentials | undefined,
): { username: string; password: string } | undefined {
  if (!credentials) return undefined;
  const { username, password, token } = credentials;
  const user = token ? (username ?? "x-access-token") : (username ?? "");
  const secret = token ?? password ?? "";
  if (user === "" && secret === "") return undefined;
  // A line break would end the credential protocol's line and let the rest be read as another key.
  if (/[\n\r\0]/.test(user + secret))
    throw terminal(
      "CredentialsInvalid",
      "the credentials secret's username or password contains a line break",
    );
  return { username: user, password: secret };
}

/** git's config as environment entries (GIT_CONFIG_COUNT): never in argv, where `ps` shows it. */
export function configEnv(entries: [string, string][]): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

interface Session {
  dir: string;
  env: Record<string, string>;
}

/** The host checked (and its addresses, without a proxy), a private dir, and git's environment. */
async function openSession(
  url: string,
  credentials: GitCredentials | undefined,
  opts: HttpGitOptions,
): Promise<Session> {
  const parsed = new URL(url);
  const tls = parsed.protocol === "https:";
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const port = Number(parsed.port || (tls ? 443 : 80));
  const refused = hostRefusal(host, opts.hosts);
  if (refused) throw refused;
  const basic = basicCredentials(credentials);
  const config: [string, string][] = [
    ["credential.helper", ""],
    ["http.followRedirects", "false"],
    ["core.bigFileThreshold", String(Math.max(1, opts.maxFileBytes))],
  ];
  if (basic) config.push(["credential.helper", CREDENTIAL_HELPER]);
  const via = proxyFor(tls ? "https:" : "http:", host, port, opts.proxy);
  if (via !== undefined && !(via instanceof URL)) throw via;
  if (via) config.push(["http.proxy", via.toString()]);
  else if (isIP(host) === 0) {
    // curl resolves again; pinning makes it connect to the address checked here.
    const addresses = (await lookup(host, { all: true })).map((a) => a.address);
    const bad = addressRefusal(host, addresses);
    if (bad) throw bad;
    const first = addresses[0];
    if (first === undefined) throw transient("RepoUnreachable", `cannot resolve ${host}`);
    config.push(["http.curloptResolve", `${host}:${port}:${isIP(first) === 6 ? `[${first}]` : first}`]);
  }
  if (opts.insecure) config.push(["http.sslVerify", "false"]);
  const dir = await mkdtemp(join(tmpdir(), "gitgate-http-"));
  try {
    await chmod(dir, 0o700);
    if (credentials?.caCert && !opts.insecure) {
      const bundle = join(dir, "ca.pem");
      await writeFile(bundle, `${[...rootCertificates, credentials.caCert.trim()].join("\n")}\n`, {
        mode: 0o600,
      });
      config.push(["http.sslCAInfo", bundle]);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const env: Record<string, string> = {
    ...confinedGitEnv(dir, tls ? "https" : "http"),
    ...configEnv(config),
    ...(basic
      ? {
          GITGATE_GIT_HOST: parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname,
          GITGATE_GIT_PROTOCOL: tls ? "https" : "http",
          GITGATE_GIT_USERNAME: basic.username,
          GITGATE_GIT_PASSWORD: basic.password,
        }
      : {}),
  };
  return { dir, env };
}

/**
 * A Remote whose ref lookups go through `refs` (isomorphic-git's ls-refs) and whose fetches run
 * `git fetch` into the cache.
 */
export class HttpGitRemote implements Remote {
  constructor(
    private readonly refs: Pick<Remote, "lookup" | "listRefs">,
    private readonly url: string,
    private readonly credentials: GitCredentials | undefined,
    private readonly opts: HttpGitOptions,
  ) {}

  lookup(revision: string): ReturnType<Remote["lookup"]> {
    return this.refs.lookup(revision);
  }

  listRefs(prefix: string): ReturnType<Remote["listRefs"]> {
    return this.refs.listRefs(prefix);
  }

  async fetchRef(ref: string): Promise<string | undefined> {
    const dest = ref.startsWith("refs/") ? ref : FETCHED_REF;
    await this.fetch(["--depth=1", "--no-tags", this.url, `+${ref}:${dest}`]);
    try {
      return await git.resolveRef({ fs, gitdir: this.opts.gitdir, ref: dest });
    } catch {
      return undefined;
    }
  }

  async fetchAll(_anchor: string, depth: number): Promise<void> {
    await this.fetch([`--depth=${depth}`, "--tags", this.url, "+refs/heads/*:refs/heads/*"]);
  }

  /** git fetch into the cache, killed once the pack it writes grows past the byte cap. */
  private async fetch(args: string[]): Promise<void> {
    const { gitdir, maxFetchBytes, ctx } = this.opts;
    const session = await openSession(this.url, this.credentials, this.opts).catch((err: unknown) => {
      throw classifyGitError(err, ctx); // a name that does not resolve, a full temp dir
    });
    const before = await packBytes(gitdir);
    const over = async (): Promise<boolean> => (await packBytes(gitdir)) - before > maxFetchBytes;
    try {
      const result = await runGit({
        args: ["--git-dir", gitdir, "fetch", "--quiet", "--no-write-fetch-head", "--update-head-ok", ...args],
        env: session.env,
        cwd: session.dir,
        timeoutMs: this.opts.timeoutMs,
        abortIf: over,
      });
      if (result.aborted || (result.code === 0 && (await over()))) {
        await rm(gitdir, { recursive: true, force: true });
        throw terminal(
          "RepoTooLarge",
          `${ctx.repo} sent more than ${maxFetchBytes} bytes in one fetch (sync.maxFetchBytes): ` +
            "raise the limit, or point the GitApp at a smaller repository",
        );
      }
      if (result.code !== 0) throw classifyHttpGitFailure(result, ctx, this.opts.timeoutMs);
    } finally {
      await rm(session.dir, { recursive: true, force: true });
    }
  }
}

/** What curl's and git's messages mean, as the same classified errors isomorphic-git's get. */
export function classifyHttpGitFailure(result: GitResult, ctx: GitContext, timeoutMs: number): GitgateError {
  const err = result.stderr;
  if (result.timedOut)
    return transient(
      "RepoUnreachable",
      `fetching ${ctx.repo} timed out after ${Math.round(timeoutMs / 1000)}s`,
    );
  const status = /The requested URL returned error: (\d{3})/.exec(err)?.[1];
  if (status) return classifyGitError({ code: "HttpError", data: { statusCode: Number(status) } }, ctx);
  if (/Authentication failed for|could not read (Username|Password)/.test(err))
    return classifyGitError({ code: "HttpError", data: { statusCode: 401 } }, ctx);
  if (/repository '[^'\n]*' not found/.test(err))
    return classifyGitError({ code: "HttpError", data: { statusCode: 404 } }, ctx);
  if (
    /SSL certificate problem|server certificate verification failed|certificate subject name|no alternative certificate subject name/.test(
      err,
    )
  )
    return classifyGitError({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }, ctx);
  if (/not valid: is this a git repository\?/.test(err))
    return classifyGitError({ code: "SmartHttpError" }, ctx);
  if (/redirect/i.test(err))
    return terminal(
      "FetchFailed",
      `${ctx.repo} redirected the fetch elsewhere; gitgate does not follow redirects of a fetch: use the final URL`,
    );
  if (/fsck error|did not send all necessary objects|index-pack failed|bad object/.test(err))
    return terminal("BadPack", `${ctx.repo} sent a packfile gitgate cannot read`);
  if (
    /Could not resolve (host|proxy)|Failed to connect|Couldn't connect|Connection refused|Connection reset|Connection timed out|Operation timed out|Empty reply|Recv failure|transfer closed|early EOF|RPC failed|unexpected disconnect/.test(
      err,
    )
  )
    return transient("RepoUnreachable", `cannot reach ${ctx.repo}`);
  if (/^cannot run git: /.test(err))
    return terminal(
      "GitUnavailable",
      "the git binary cannot be run; install git, or set the isomorphic-git fetcher",
    );
  const detail = redactHead(err.trim(), 1024).split("\n").slice(-3).join(" ").slice(0, 1024);
  return transient("FetchFailed", `fetching ${ctx.repo} failed${detail ? `: ${detail}` : ""}`);
}
