/**
 * Git over SSH with the `git` binary. isomorphic-git speaks only smart HTTP, and an SSH client
 * written here (or pulled in as a dependency) would be a second, less reviewed implementation of
 * host-key checking; OpenSSH's own is the least-bad choice. The binary runs confined like the
 * render tools (exec.ts): argv only, no user or system config, HOME in a private temp dir, only
 * the ssh protocol, `StrictHostKeyChecking=yes` against the Secret's known_hosts alone (never trust
 * on first use), the key in a 0600 file of that dir (never in argv, env or messages), a time limit,
 * output caps, and the whole process group killed on timeout. The dir is removed afterwards.
 */
import { spawn } from "node:child_process";
import { lookup } from "node:dns/promises";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ServerRef } from "isomorphic-git";
import { terminal, transient, type GitgateError } from "../errors.js";
import { redactHead } from "../manifest/redact.js";
import type { GitContext } from "./classify.js";
import { addressRefusal, hostRefusal, type HostPolicy } from "./hosts.js";
import type { GitCredentials } from "./types.js";
import type { SshTarget } from "./url.js";

export const SSH_BINARY = "/usr/bin/ssh";
const STDERR_KEEP = 64 * 1024;
const STDERR_SHOW = 1024;
/** ls-remote of a repository with very many refs stays far below this. */
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;

/** A private dir holding the key and known_hosts, and what git needs to run against it. */
export interface SshSession {
  /** URL git connects to: the host replaced by the address the host policy checked. */
  url: string;
  env: Record<string, string>;
  dir: string;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The ssh command line git runs (through /bin/sh, hence the quoting). HostKeyAlias makes ssh look
 * the key up under the name the user wrote, while it connects to the checked address.
 */
export function sshCommand(dir: string, hostKeyAlias: string, connectTimeoutSec: number): string {
  const options = [
    "BatchMode=yes",
    "StrictHostKeyChecking=yes",
    `UserKnownHostsFile=${join(dir, "known_hosts")}`,
    "GlobalKnownHostsFile=/dev/null",
    "UpdateHostKeys=no",
    "CheckHostIP=no",
    `HostKeyAlias=${hostKeyAlias}`,
    "IdentitiesOnly=yes",
    "IdentityAgent=none",
    "PasswordAuthentication=no",
    "KbdInteractiveAuthentication=no",
    "ForwardAgent=no",
    "ForwardX11=no",
    "ClearAllForwardings=yes",
    "PermitLocalCommand=no",
    `ConnectTimeout=${connectTimeoutSec}`,
    "ServerAliveInterval=15",
    "ServerAliveCountMax=2",
  ];
  return [SSH_BINARY, "-F", "/dev/null", ...options.flatMap((o) => ["-o", o]), "-i", join(dir, "key")]
    .map((part) => (/^[A-Za-z0-9_./=:@-]+$/.test(part) ? part : quote(part)))
    .join(" ");
}

/**
 * The environment every git gitgate runs gets (SSH and HTTP fetches alike): nothing of gitgate's
 * own, no config, no prompts, only `protocol`.
 */
export function confinedGitEnv(dir: string, protocol: "ssh" | "http" | "https"): Record<string, string> {
  return {
    HOME: dir,
    PATH: "/usr/local/bin:/usr/bin:/bin",
    LANG: "C",
    LC_ALL: "C",
    TZ: "UTC",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "/bin/false",
    SSH_ASKPASS: "/bin/false",
    GIT_ALLOW_PROTOCOL: protocol,
    GIT_PROTOCOL_FROM_USER: "0",
    GIT_NO_REPLACE_OBJECTS: "1",
    // git runs in the session dir: no repository above it is ever discovered and read.
    GIT_CEILING_DIRECTORIES: dirname(dir),
  };
}

/** The environment git runs in for an SSH remote: confined, ssh only, through `sshCmd`. */
export function gitEnv(dir: string, sshCmd: string): Record<string, string> {
  return { ...confinedGitEnv(dir, "ssh"), GIT_SSH_COMMAND: sshCmd, GIT_SSH_VARIANT: "ssh" };
}

/** Options in front of every git command: nothing from the repository or elsewhere runs. */
export const GIT_CONFIG_ARGS = [
  "-c",
  "protocol.allow=never",
  "-c",
  "protocol.ssh.allow=always",
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "core.fsmonitor=false",
  "-c",
  "transfer.fsckObjects=true",
  "-c",
  "fetch.unpackLimit=1",
  "-c",
  "fetch.writeCommitGraph=false",
  "-c",
  "gc.auto=0",
  "-c",
  "maintenance.auto=false",
];

/** `[host]:port` as known_hosts names a non-default port; the host alone for 22 (HostKeyAlias is used verbatim). */
export function hostKeyName(target: SshTarget): string {
  const port = target.port ?? 22;
  return port === 22 ? target.host : `[${target.host}]:${port}`;
}

/** The URL with the host replaced by a checked address (IPv6 in brackets). */
export function pinnedURL(target: SshTarget, address: string): string {
  const host = address.includes(":") ? `[${address}]` : address;
  if (target.scpLike) return `${target.user}@${host}:${target.path}`;
  const port = target.port !== undefined ? `:${target.port}` : "";
  return `ssh://${target.user}@${host}${port}${target.path}`;
}

/** Resolves the host once, refusing what the host policy refuses, so ssh connects to what was checked. */
export async function checkedAddress(target: SshTarget, policy: HostPolicy): Promise<string> {
  const refused = hostRefusal(target.host, policy);
  if (refused) throw refused;
  const addresses = (await lookup(target.host, { all: true })).map((a) => a.address);
  const bad = addressRefusal(target.host, addresses);
  if (bad) throw bad;
  const first = addresses[0];
  if (first === undefined) throw transient("RepoUnreachable", `cannot resolve ${target.host}`);
  return first;
}

/** Writes the key and known_hosts into a fresh private dir; the caller removes it (closeSession). */
export async function openSession(
  target: SshTarget,
  credentials: GitCredentials | undefined,
  address: string,
  ctx: GitContext,
  connectTimeoutSec: number,
): Promise<SshSession> {
  if (!credentials?.sshPrivateKey) {
    throw terminal(
      "CredentialsInvalid",
      `${ctx.repo} is an SSH URL: the credentials secret needs an "sshPrivateKey" (or "identity") key`,
    );
  }
  if (!credentials.knownHosts) {
    throw terminal(
      "CredentialsInvalid",
      `${ctx.repo} is an SSH URL: the credentials secret needs a "known_hosts" key with the host's key ` +
        "(gitgate never trusts a host key on first use); `ssh-keyscan` prints one to check and copy",
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "gitgate-ssh-"));
  try {
    await chmod(dir, 0o700);
    await writeFile(join(dir, "key"), `${credentials.sshPrivateKey.trim()}\n`, { mode: 0o600, flag: "wx" });
    await writeFile(join(dir, "known_hosts"), `${credentials.knownHosts.trim()}\n`, {
      mode: 0o600,
      flag: "wx",
    });
  } catch (err) {
    await closeSession(dir);
    throw err;
  }
  const env = gitEnv(dir, sshCommand(dir, hostKeyName(target), connectTimeoutSec));
  return { url: pinnedURL(target, address), env, dir };
}

export async function closeSession(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface GitRun {
  args: string[];
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  /** Polled while git runs; true kills it (a fetch growing past its byte cap). */
  abortIf?: () => Promise<boolean>;
}

export interface GitResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Killed because abortIf said so. */
  aborted?: boolean;
}

const ABORT_POLL_MS = 250;

/** Runs git (argv, no shell of ours) in its own process group, killed whole on timeout. */
export function runGit(run: GitRun): Promise<GitResult> {
  return new Promise((resolve) => {
    const child = spawn("git", [...GIT_CONFIG_ARGS, ...run.args], {
      cwd: run.cwd,
      env: run.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = "";
    let timedOut = false;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, run.timeoutMs);
    let aborted = false;
    const poll = run.abortIf
      ? setInterval(() => {
          void run.abortIf?.().then((stop) => {
            if (stop && !aborted) {
              aborted = true;
              kill();
            }
          });
        }, ABORT_POLL_MS)
      : undefined;
    child.stdout?.on("data", (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > MAX_STDOUT_BYTES) kill();
      else out.push(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += chunk.toString("utf8");
    });
    const done = (code: number | null, extra = ""): void => {
      clearTimeout(timer);
      clearInterval(poll);
      const stdout = Buffer.concat(out).toString("utf8");
      resolve({ code, stdout, stderr: stderr + extra, timedOut, ...(aborted ? { aborted } : {}) });
    };
    child.on("error", (err) => done(null, `cannot run git: ${err.message}`));
    child.on("close", (code) => done(outBytes > MAX_STDOUT_BYTES ? null : code));
  });
}

/**
 * A failed git-over-SSH run as a classified error. Built from our words and ssh's fixed phrases;
 * the remote's own text is shown only redacted and capped.
 */
export function classifySshFailure(result: GitResult, ctx: GitContext, timeoutMs: number): GitgateError {
  const err = result.stderr;
  if (result.timedOut) {
    return transient(
      "RepoUnreachable",
      `fetching ${ctx.repo} over SSH timed out after ${Math.round(timeoutMs / 1000)}s`,
    );
  }
  if (/^cannot run git: |\/usr\/bin\/ssh: (not found|No such file)|cannot run \/usr\/bin\/ssh/.test(err)) {
    return terminal(
      "SshUnavailable",
      `${ctx.repo} is an SSH URL, and SSH needs the git and ssh (OpenSSH client) binaries, which this ` +
        "installation of gitgate lacks",
    );
  }
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(err)) {
    return terminal(
      "HostKeyMismatch",
      `host key mismatch for ${ctx.repo}: the SSH server's key is not the one in the credentials secret's known_hosts ` +
        "(the key changed, or something is intercepting the connection); nothing was fetched",
    );
  }
  if (/No \S+ host key is known for|Host key verification failed/.test(err)) {
    return terminal(
      "HostKeyUnknown",
      `host key of ${ctx.repo} is not in the credentials secret's known_hosts; add the server's key ` +
        "(gitgate never trusts a host key on first use)",
    );
  }
  if (/Permission denied \(|Load key .*: (invalid format|error in libcrypto)|invalid format/.test(err)) {
    return terminal(
      "AuthenticationFailed",
      `authentication to ${ctx.repo} failed: the SSH server refused the key, or the credentials secret's sshPrivateKey is not a valid unencrypted OpenSSH key`,
    );
  }
  if (
    /does not appear to be a git repository|[Rr]epository not found|No such file or directory|not a git repository/.test(
      err,
    )
  ) {
    return terminal("RepoNotFound", `repository ${ctx.repo} not found on the SSH server`);
  }
  if (
    /Connection refused|Connection timed out|Could not resolve hostname|No route to host|Connection closed|Connection reset/.test(
      err,
    )
  ) {
    return transient("RepoUnreachable", `cannot reach ${ctx.repo} over SSH`);
  }
  const detail = redactHead(err.trim(), STDERR_SHOW).split("\n").slice(-3).join(" ").slice(0, STDERR_SHOW);
  return transient("FetchFailed", `fetching ${ctx.repo} over SSH failed${detail ? `: ${detail}` : ""}`);
}

/** `git ls-remote` output as isomorphic-git's ServerRef list (peeled tags folded in, HEAD's symref kept). */
export function parseLsRemote(stdout: string): ServerRef[] {
  const refs = new Map<string, ServerRef>();
  let headTarget: string | undefined;
  for (const line of stdout.split("\n")) {
    const symref = /^ref: (refs\/\S+)\tHEAD$/.exec(line);
    if (symref) {
      headTarget = symref[1];
      continue;
    }
    const m = /^([0-9a-f]{40})\t(\S+)$/.exec(line);
    if (!m) continue;
    const [, oid = "", name = ""] = m;
    if (name.endsWith("^{}")) {
      const base = refs.get(name.slice(0, -3));
      if (base) base.peeled = oid;
      continue;
    }
    refs.set(name, { ref: name, oid });
  }
  const head = refs.get("HEAD");
  if (head && headTarget) head.target = headTarget;
  return [...refs.values()];
}
