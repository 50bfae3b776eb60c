/**
 * Pure parsing and verification for the push receiver (`POST /hooks/git`). A verified push only
 * triggers an early poll of the GitApps on that repository: the commit is always learned from the
 * repository itself, never taken from the payload, so a forged payload cannot pick what is applied.
 * The files the payload says changed only order those syncs (sync/changed-first.ts).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { isPlainObject } from "../manifest/object.js";

export { sameRepo } from "./url.js";

export type PushProvider = "github" | "gitlab" | "generic";

export interface PushEvent {
  provider: PushProvider;
  /** Every URL form the payload names (https clone URL, web URL, ssh URL); match with sameRepo. */
  repoURLs: string[];
  /** Full ref pushed, e.g. `refs/heads/main`. */
  ref?: string;
  /** Commit the ref points at after the push (all zeros when the ref was deleted). */
  after?: string;
  /**
   * Files the pushed commits added, modified or removed, as the payload lists them (GitHub, GitLab
   * and Gitea: `commits[].added/modified/removed`; generic: `paths`). Undefined when it lists none or
   * more than MAX_PUSH_PATHS. Used to order syncs only, never to pick what is applied.
   */
  paths?: string[];
}

/** The most files one push may list for ordering; past it the list is ignored (every app waits its turn). */
export const MAX_PUSH_PATHS = 5_000;
/** Longer names are not paths of a repository gitgate renders (Git allows 4096 on most systems). */
const MAX_PATH_LENGTH = 4_096;
/** Commits read from one payload's `commits` array. */
const MAX_PUSH_COMMITS = 2_048;

export type PushParseResult =
  | { kind: "push"; event: PushEvent }
  /** A valid delivery that asks for nothing (GitHub ping, merge-request events, …): answer 2xx. */
  | { kind: "ignored"; reason: string }
  | { kind: "invalid"; error: string };

export type HeaderMap = Record<string, string | string[] | undefined>;

/** GitHub's `X-Hub-Signature-256: sha256=<hex HMAC of the raw body>`, compared in constant time. */
export function verifyGitHubSignature(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (secret === "" || header === undefined) return false;
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1].toLowerCase(), "hex");
  const expected = createHmac("sha256", secret).update(rawBody).digest();
  return timingSafeEqual(given, expected);
}

/** GitLab's `X-Gitlab-Token` is the shared secret itself; hashing first makes the compare length-independent. */
export function verifyGitLabToken(secret: string, header: string | undefined): boolean {
  if (secret === "" || header === undefined || header === "") return false;
  const digest = (s: string): Buffer => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(header), digest(secret));
}

export function headerOf(headers: HeaderMap, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

export function parsePushEvent(headers: HeaderMap, body: unknown): PushParseResult {
  if (!isPlainObject(body)) return { kind: "invalid", error: "body is not a JSON object" };
  const github = headerOf(headers, "x-github-event");
  if (github !== undefined) {
    if (github !== "push") return { kind: "ignored", reason: `GitHub event ${github}` };
    const repo = objectField(body, "repository");
    return toResult("github", [repo?.clone_url, repo?.html_url, repo?.ssh_url, repo?.git_url], body);
  }
  const gitlab = headerOf(headers, "x-gitlab-event");
  if (gitlab !== undefined) {
    const kind =
      typeof body.event_name === "string"
        ? body.event_name
        : typeof body.object_kind === "string"
          ? body.object_kind
          : "";
    if (kind !== "push" && kind !== "tag_push") return { kind: "ignored", reason: `GitLab event ${gitlab}` };
    const project = objectField(body, "project");
    // `repository` carries the same URLs in older GitLab versions and in system hooks.
    const repository = objectField(body, "repository");
    const urls = [
      project?.git_http_url,
      project?.web_url,
      project?.git_ssh_url,
      repository?.git_http_url,
      repository?.homepage,
    ];
    return toResult("gitlab", urls, body);
  }
  if (typeof body.repoURL === "string") return toResult("generic", [body.repoURL], body);
  return { kind: "invalid", error: "not a GitHub or GitLab push, and no repoURL field" };
}

function objectField(body: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const value = body[key];
  return isPlainObject(value) ? value : undefined;
}

function toResult(
  provider: PushProvider,
  candidates: unknown[],
  body: Record<string, unknown>,
): PushParseResult {
  const repoURLs = [
    ...new Set(candidates.filter((u): u is string => typeof u === "string" && u.trim() !== "")),
  ];
  if (repoURLs.length === 0) return { kind: "invalid", error: `${provider} push names no repository URL` };
  const event: PushEvent = { provider, repoURLs };
  if (typeof body.ref === "string" && body.ref !== "") event.ref = body.ref;
  if (typeof body.after === "string" && /^[0-9a-f]{40}$/.test(body.after)) event.after = body.after;
  const paths = pushedPaths(body);
  if (paths) event.paths = paths;
  return { kind: "push", event };
}

/**
 * The files a push payload says changed: each commit's added, modified and removed lists, or a
 * generic payload's `paths`. Entries that are not non-empty strings of a sane length are skipped;
 * undefined when there are none or too many to be worth ordering by.
 */
export function pushedPaths(body: Record<string, unknown>): string[] | undefined {
  const lists: unknown[] = [];
  if (Array.isArray(body.paths)) lists.push(body.paths);
  if (Array.isArray(body.commits)) {
    for (const commit of body.commits.slice(0, MAX_PUSH_COMMITS)) {
      if (!isPlainObject(commit)) continue;
      lists.push(commit.added, commit.modified, commit.removed);
    }
  }
  const paths = new Set<string>();
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    if (paths.size + list.length > MAX_PUSH_PATHS * 2) return undefined; // bounds the work, duplicates aside
    for (const path of list) {
      if (typeof path !== "string" || path === "" || path.length > MAX_PATH_LENGTH) continue;
      paths.add(path);
      if (paths.size > MAX_PUSH_PATHS) return undefined;
    }
  }
  return paths.size > 0 ? [...paths] : undefined;
}
