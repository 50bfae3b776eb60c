/**
 * Repository URLs: validation for fetching (http(s), ssh:// and scp-like), a credential-free form for messages and
 * cache keys, and the looser identity used to match push events to GitApps.
 */
import { createHash } from "node:crypto";
import { terminal, type GitgateError } from "../errors.js";
import { redactText } from "../manifest/redact.js";
import { trimLeading, trimTrailing } from "../strings.js";
import type { GitCredentials } from "./types.js";

export interface ParsedRepoURL {
  /** URL to fetch from: no userinfo, no fragment, no trailing slash. Safe to print. */
  url: string;
  /** Stable cache key: hash of the normalised URL (credentials never reach the file system). */
  key: string;
  /** Credentials that were embedded in the URL as userinfo, if any. */
  credentials?: GitCredentials;
  /** Set for `ssh://` and scp-like URLs, which are fetched with the git binary (ssh.ts). */
  ssh?: SshTarget;
}

/** Where an SSH repository lives; every part checked so none can read as an option to git or ssh. */
export interface SshTarget {
  user: string;
  /** Hostname or IP literal (IPv6 without brackets). */
  host: string;
  /** undefined: ssh's default (22). */
  port?: number;
  /** Path as the server sees it (`org/repo.git` for scp-like, `/org/repo.git` for ssh://). */
  path: string;
  /** scp-like `user@host:path` (no port possible) rather than `ssh://`. */
  scpLike: boolean;
}

const MAX_URL_LENGTH = 2048;
/** Usernames and hosts as DNS and Git hosting services use them; nothing that starts with "-". */
const SSH_USER = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
const SSH_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9a-fA-F:.]{2,45})$/;
/** scp-like syntax: user@host:path (no scheme, no slash before the colon, a bracketed IPv6 host). */
const SCP_LIKE = /^([^@/:\s]+)@(\[[0-9a-fA-F:.]+\]|[^@/:[\]\s]+):([^\0]+)$/;

function unsupported(raw: string, why: string): GitgateError {
  return terminal("UnsupportedURL", `repoURL ${JSON.stringify(redactText(raw))} ${why}`);
}

export function parseRepoURL(raw: string): ParsedRepoURL {
  const text = raw.trim();
  if (text.length > MAX_URL_LENGTH)
    throw unsupported(text.slice(0, 80), `is longer than ${MAX_URL_LENGTH} characters`);
  const scp = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? null : SCP_LIKE.exec(text);
  if (scp)
    return sshRepo(text, {
      user: scp[1] ?? "",
      host: unbracket(scp[2] ?? ""),
      path: scp[3] ?? "",
      scpLike: true,
    });
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw unsupported(text, "is not an http(s) or ssh URL");
  }
  if (parsed.protocol === "ssh:") return parseSshURL(text, parsed);
  const credentials: GitCredentials | undefined =
    parsed.username || parsed.password
      ? { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) }
      : undefined;
  parsed.username = "";
  parsed.password = "";
  parsed.hash = "";
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw terminal(
      "UnsupportedURL",
      `repoURL ${parsed.toString()} uses ${parsed.protocol.replace(/:$/, "")}; only http, https and ssh are supported`,
    );
  }
  // WHATWG URL already lower-cases scheme and host and drops default ports.
  const url = trimTrailing(parsed.toString(), "/");
  return credentials ? { url, key: keyOf(url), credentials } : { url, key: keyOf(url) };
}

function keyOf(url: string): string {
  return createHash("sha256").update(url).digest("hex").slice(0, 32);
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function parseSshURL(raw: string, parsed: URL): ParsedRepoURL {
  if (parsed.password) throw unsupported(raw, "carries a password; SSH uses the credentials secret's key");
  if (parsed.search || parsed.hash)
    throw unsupported(raw, "has a query or fragment, which SSH URLs cannot have");
  return sshRepo(raw, {
    user: decodeURIComponent(parsed.username) || "git",
    host: unbracket(parsed.hostname),
    ...(parsed.port ? { port: Number(parsed.port) } : {}),
    path: decodeURIComponent(parsed.pathname),
    scpLike: false,
  });
}

function sshRepo(raw: string, target: SshTarget): ParsedRepoURL {
  if (!SSH_USER.test(target.user)) throw unsupported(raw, "has an SSH user name gitgate does not accept");
  if (!SSH_HOST.test(target.host)) throw unsupported(raw, "has an SSH host gitgate does not accept");
  // git passes the path to the server's shell quoted, but a leading "-" or control characters are
  // never a repository.
  const path = trimTrailing(target.path, "/");
  // eslint-disable-next-line no-control-regex
  if (path === "" || path.startsWith("-") || /[\0-\x1f\x7f]/.test(path)) {
    throw unsupported(raw, "has an SSH path gitgate does not accept");
  }
  const ssh = { ...target, path, host: target.host.toLowerCase() };
  const hostPart = ssh.host.includes(":") ? `[${ssh.host}]` : ssh.host;
  const url = ssh.scpLike
    ? `${ssh.user}@${hostPart}:${path}`
    : `ssh://${ssh.user}@${hostPart}${ssh.port !== undefined && ssh.port !== 22 ? `:${ssh.port}` : ""}${path}`;
  return { url, key: keyOf(url), ssh };
}

/** The URL without userinfo, for messages, when it may not even parse. */
export function displayURL(raw: string): string {
  try {
    return parseRepoURL(raw).url;
  } catch {
    return redactText(raw);
  }
}

interface RepoIdentity {
  host: string;
  /** Port of an http(s) URL ("" = default); undefined for ssh/git/scp forms. */
  httpPort: string | undefined;
  path: string;
}

function identityOf(raw: string): RepoIdentity | undefined {
  const text = raw.trim();
  // scp-like syntax: [user@]host:path (no scheme, no slash before the colon).
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.+)$/.exec(text);
  let host: string;
  let httpPort: string | undefined;
  let path: string;
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    host = scp[1] ?? "";
    path = scp[2] ?? "";
  } else {
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      return undefined;
    }
    host = parsed.hostname;
    if (parsed.protocol === "http:" || parsed.protocol === "https:") httpPort = parsed.port;
    path = decodeURIComponent(parsed.pathname);
  }
  path = trimLeading(trimTrailing(path, "/").replace(/\.git$/i, ""), "/");
  // Case-insensitive on the path too: a false match only costs one extra poll, a miss delays a sync.
  return { host: host.toLowerCase(), httpPort, path: path.toLowerCase() };
}

/**
 * Whether two URLs name the same repository, ignoring scheme, userinfo, a `.git` suffix, trailing
 * slashes and case. Used to match push events (which carry several URL forms) to GitApps.
 */
export function sameRepo(a: string, b: string): boolean {
  const x = identityOf(a);
  const y = identityOf(b);
  if (!x || !y || x.host === "" || x.path === "") return false;
  // Ports only count between two http(s) URLs: ssh and https of one host serve the same repos on
  // different ports, but two http servers on one host (tests, dev setups) are different servers.
  const portsMatch = x.httpPort === undefined || y.httpPort === undefined || x.httpPort === y.httpPort;
  return x.host === y.host && x.path === y.path && portsMatch;
}
