/**
 * Repository URLs: validation for fetching (http(s) only), a credential-free form for messages and
 * cache keys, and the looser identity used to match push events to GitApps.
 */
import { createHash } from "node:crypto";
import { terminal } from "../errors.js";
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
}

export function parseRepoURL(raw: string): ParsedRepoURL {
  let parsed: URL;
  try {
    parsed = new URL(raw.trim());
  } catch {
    // Also catches scp-like `git@host:org/repo.git`, which is not a URL.
    throw terminal("UnsupportedURL", `repoURL ${JSON.stringify(redactText(raw))} is not an http(s) URL`);
  }
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
      `repoURL ${parsed.toString()} uses ${parsed.protocol.replace(/:$/, "")}; only http and https are supported`,
    );
  }
  // WHATWG URL already lower-cases scheme and host and drops default ports.
  const url = trimTrailing(parsed.toString(), "/");
  const key = createHash("sha256").update(url).digest("hex").slice(0, 32);
  return credentials ? { url, key, credentials } : { url, key };
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
