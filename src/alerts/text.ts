/**
 * Pieces shared by the Slack, Teams and webhook formatters: titles, value rendering, actor wording,
 * Git links and the defensive Secret redaction. Pure: no I/O.
 */
import { describeRef } from "../manifest/object.js";
import { REDACTED, redactHead, redactText } from "../manifest/redact.js";
import { trimTrailing } from "../strings.js";
import type { Actor, AlertEvent, AlertEventType, FieldChange } from "../manifest/event.js";

export interface FormatContext {
  clusterName: string;
}

/** Colour family shared by Slack emoji choice and Adaptive Card `color`. */
export type Severity = "attention" | "warning" | "good" | "accent";

export interface TitleInfo {
  /** Slack emoji shortcode (Slack renders it in plain_text with `emoji: true`). */
  emoji: string;
  /** Same meaning as a Unicode character, for Teams, which does not know Slack shortcodes. */
  unicode: string;
  title: string;
  severity: Severity;
}

export const TITLES: Record<AlertEventType, TitleInfo> = {
  "change-denied": {
    emoji: ":no_entry:",
    unicode: "⛔",
    title: "Out-of-band change denied",
    severity: "attention",
  },
  "change-warned": {
    emoji: ":warning:",
    unicode: "⚠️",
    title: "Out-of-band change admitted with a warning",
    severity: "warning",
  },
  "change-audited": {
    emoji: ":mag:",
    unicode: "🔍",
    title: "Out-of-band change recorded",
    severity: "accent",
  },
  "drift-found": {
    emoji: ":twisted_rightwards_arrows:",
    unicode: "🔀",
    title: "Drift detected",
    severity: "warning",
  },
  "drift-reverted": {
    emoji: ":leftwards_arrow_with_hook:",
    unicode: "↩️",
    title: "Drift reverted to Git",
    severity: "accent",
  },
  "break-glass-used": {
    emoji: ":rotating_light:",
    unicode: "🚨",
    title: "Break-glass used",
    severity: "attention",
  },
  "break-glass-expired": {
    emoji: ":hourglass:",
    unicode: "⌛",
    title: "Break-glass expired",
    severity: "warning",
  },
  "sync-failed": { emoji: ":x:", unicode: "❌", title: "Sync failed", severity: "attention" },
  "sync-recovered": { emoji: ":white_check_mark:", unicode: "✅", title: "Sync recovered", severity: "good" },
  "prune-refused": { emoji: ":no_entry_sign:", unicode: "🚫", title: "Prune refused", severity: "warning" },
  "health-degraded": {
    emoji: ":broken_heart:",
    unicode: "💔",
    title: "Health degraded",
    severity: "attention",
  },
  "health-recovered": { emoji: ":green_heart:", unicode: "💚", title: "Health recovered", severity: "good" },
  "sync-succeeded": { emoji: ":arrows_counterclockwise:", unicode: "🔄", title: "Synced", severity: "good" },
};

/** Longest rendered value; chat messages must stay readable and inside the platforms' limits. */
export const MAX_VALUE_CHARS = 200;
export const MAX_DETAIL_CHARS = 1500;

export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Compact JSON for a field value; `(absent)` when Git does not declare it or the change removed it. */
export function renderValue(value: unknown, max: number = MAX_VALUE_CHARS): string {
  if (value === undefined) return "(absent)";
  let json: string;
  try {
    json =
      JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ??
      `(${typeof value})`;
  } catch {
    // Circular or otherwise unserialisable: a description is better than losing the alert.
    json = `(unserialisable ${typeof value})`;
  }
  return truncate(redactHead(json, max), max);
}

/** The Git side of a change: `(not in Git)` for a field Git does not declare at all. */
export function renderGitSide(change: FieldChange, max: number = MAX_VALUE_CHARS): string {
  return change.undeclared ? "(not in Git)" : renderValue(change.gitValue, max);
}

/** The other side, with the field manager that wrote it when drift attribution knows one. */
export function renderOtherSide(change: FieldChange, max: number = MAX_VALUE_CHARS): string {
  const value = renderValue(change.liveValue, max);
  return change.manager ? `${value} (by ${change.manager})` : value;
}

/** Admission events carry the requested value; drift events the live one. */
export function otherSideLabel(type: AlertEventType): "requested" | "live" {
  return type === "change-denied" ||
    type === "change-warned" ||
    type === "change-audited" ||
    type === "break-glass-used"
    ? "requested"
    : "live";
}

/**
 * Field changes safe to show. The producers already redact Secret data/stringData; this is the second
 * line of defence: for a Secret every value is hidden, whatever the path.
 */
export function safeChanges(event: AlertEvent): FieldChange[] {
  const changes = event.changes ?? [];
  if (event.object?.kind !== "Secret") return changes;
  return changes.map((c) => ({
    path: c.path,
    ...(c.gitValue === undefined ? {} : { gitValue: REDACTED }),
    ...(c.liveValue === undefined ? {} : { liveValue: REDACTED }),
    ...(c.undeclared ? { undeclared: true } : {}),
    ...(c.manager ? { manager: c.manager } : {}),
  }));
}

export function describeActor(actor: Actor | undefined): string {
  if (!actor || actor.username === "") return "unknown";
  if (actor.via === "managedFields") return `field manager ${actor.username}`;
  const groups = (actor.groups ?? []).filter((g) => g !== "system:authenticated");
  return groups.length > 0 ? `${actor.username} (groups: ${groups.join(", ")})` : actor.username;
}

export function describeApp(event: AlertEvent): string {
  return `${event.app.namespace}/${event.app.name}`;
}

export function describeObject(event: AlertEvent): string | undefined {
  return event.object ? describeRef(event.object) : undefined;
}

export interface SourceLinks {
  /** Repository shown to people: host and path, without credentials or `.git`. */
  repo?: string;
  file?: string;
  shortSha?: string;
  commit?: string;
  /** Browsable link to the file (or the commit) at that commit, for GitHub and GitLab hosts. */
  url?: string;
}

/** The repo URL without userinfo (tokens in clone URLs); redacted text when it does not parse as a URL. */
export function cleanRepoURL(repoURL: string): string {
  try {
    const url = new URL(repoURL.trim());
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    return redactText(repoURL);
  }
}

/** `https://user:token@host/g/p.git` → URL without userinfo and suffix; undefined when not http(s). */
function parseRepo(repoURL: string): URL | undefined {
  try {
    const url = new URL(repoURL.trim());
    if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    url.pathname = trimTrailing(url.pathname, "/").replace(/\.git$/, "");
    return url;
  } catch {
    return undefined;
  }
}

function encodePath(path: string): string {
  return path
    .split("/")
    .filter((s) => s !== "")
    .map(encodeURIComponent)
    .join("/");
}

export function sourceLinks(event: AlertEvent): SourceLinks {
  const source = event.source ?? {};
  const links: SourceLinks = {};
  const commit = source.commit && /^[0-9a-f]{7,64}$/i.test(source.commit) ? source.commit : undefined;
  const file = source.file ?? source.path;
  if (file) links.file = file;
  if (commit) {
    links.commit = commit;
    links.shortSha = commit.slice(0, 7);
  }
  if (!source.repoURL) return links;
  const repo = parseRepo(source.repoURL);
  // Not http(s) (e.g. scp-like ssh): show it redacted, without a link.
  links.repo = repo ? `${repo.host}${repo.pathname}` : redactText(source.repoURL);
  if (!repo || !commit) return links;
  const base = `${repo.origin}${repo.pathname}`;
  const host = repo.hostname.toLowerCase();
  const target = file ? `blob/${commit}/${encodePath(file)}` : `commit/${commit}`;
  if (host === "github.com" || host === "www.github.com")
    links.url = `https://github.com${repo.pathname}/${target}`;
  else if (host.includes("gitlab")) links.url = `${base}/-/${target}`;
  return links;
}

/** One line for notifications and the Slack fallback text. */
export function headline(event: AlertEvent, ctx: FormatContext): string {
  const object = describeObject(event);
  const subject = object ? `${object} (GitApp ${describeApp(event)})` : `GitApp ${describeApp(event)}`;
  const who = event.actor ? ` by ${describeActor(event.actor)}` : "";
  return `[${event.cluster ?? ctx.clusterName}] ${TITLES[event.type].title}: ${subject}${who}`;
}

export function safeDetail(event: AlertEvent): string | undefined {
  return event.detail ? truncate(redactHead(event.detail, MAX_DETAIL_CHARS), MAX_DETAIL_CHARS) : undefined;
}
