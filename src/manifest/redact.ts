/**
 * Redaction of Secret values and credential-looking strings. Everything that leaves the process
 * (logs, alerts, admission messages, CLI output) passes through here.
 *
 * Every pattern runs in time linear in the text (issue 13: a quadratic pattern let one request
 * stall the event loop). The rules that keep them so:
 * - each pattern starts with a literal or a \b-anchored keyword, so few positions start a match;
 * - no lookbehind that rescans (the old `(?<=bearer\s+)` re-read the whitespace at every position);
 * - an unbounded quantifier only where a failed attempt cannot be rescanned by a later start: its
 *   class excludes the characters that start the next attempt (`://` for URLs, `.` for JWTs);
 * - JWTs, whose runs can hold any number of starts, are found by a scan in code.
 * `redactHead` cuts before matching for callers that keep only the start of a long text.
 */
import { isPlainObject, type KubeObject } from "./object.js";

export const REDACTED = "<redacted>";

/**
 * `://userinfo@`: matches start only at `:`, and the userinfo stops at what ends an authority (so
 * at the next `://`), taking everything up to its last `@`. The scheme before it is checked in code.
 */
const URL_USERINFO = /:\/\/[^/\s?#"'<>]+@/g;
/** Schemes are short; a longer run before `://` is not looked through. */
const MAX_SCHEME = 32;

/** Patterns replaced whole. */
const TOKEN_PATTERNS: RegExp[] = [
  /\b(?:xox[abprs]|xapp)-[A-Za-z0-9-]{8,}/g, // Slack tokens
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /\bglpat-[A-Za-z0-9_-]{16,}/g, // GitLab tokens
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
  // A private key block up to its END line; a block without one (cut, or hostile) to the end of the
  // text. The lazy scan fails at most once: after it, the second branch takes the rest.
  /-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z ]{0,40}PRIVATE KEY-----|[\s\S]*)/g,
];

/**
 * A keyword, its separator (kept), and the credential after it (replaced). The whitespace is
 * bounded: unbounded, V8 keeps a backtrack entry per character of it, and a credential is never
 * 64 blanks away from its keyword.
 */
const KEYED_PATTERNS: RegExp[] = [
  /\b(bearer|basic)(\s{1,64})[A-Za-z0-9._~+/=-]{8,}/gi,
  /\b(password|passwd|pwd|secret|token|api[_-]?key|apikey)(\s{0,64}[=:]\s{0,64})[^\s,;&"']{3,}/gi,
];

/**
 * Replaces credentials embedded in free text, including any URL userinfo: `https://user:pass@host`
 * and the token-only `https://<token>@host` form Git hosts accept.
 */
export function redactText(text: string): string {
  let out = text.includes("://") ? text.replace(URL_USERINFO, redactUserinfo) : text;
  for (const pattern of TOKEN_PATTERNS) out = out.replace(pattern, REDACTED);
  out = redactJwts(out);
  for (const pattern of KEYED_PATTERNS) out = out.replace(pattern, `$1$2${REDACTED}`);
  return out;
}

function redactUserinfo(match: string, offset: number, text: string): string {
  return hasScheme(text, offset) ? `://${REDACTED}@` : match;
}

const SCHEME_CHAR = /[A-Za-z0-9+.-]/;
const LETTER = /[A-Za-z]/;
const WORD_CHAR = /\w/;

/** Whether `\b[a-z][a-z0-9+.-]{0,31}` ends at `colon`, as the former pattern required (any case). */
function hasScheme(text: string, colon: number): boolean {
  for (let start = colon - 1; start >= 0 && colon - start <= MAX_SCHEME; start--) {
    const c = text.charAt(start);
    if (!SCHEME_CHAR.test(c)) return false;
    if (LETTER.test(c) && (start === 0 || !WORD_CHAR.test(text.charAt(start - 1)))) return true;
  }
  return false;
}

/** Characters no credential pattern's secret part contains: a credential cut at the end of a text lies after the last one. */
const SEPARATOR = /[\s,;&"'<>]/;
/** Redacting beyond what a caller keeps costs time only; this much more is read so that earlier redactions rarely shorten the result. */
const HEAD_SLACK = 64 * 1024;
/** A trailing run longer than this is data, not the prefix of a credential too short to match. */
const MAX_CUT_CREDENTIAL = 16 * 1024;

/**
 * The redacted start of `text`, for callers that keep at most `max` characters of it: cut before
 * matching, so the cost follows `max`, not the text. A credential the cut splits could be too
 * short to match any more, so the trailing run of non-separators goes too. The result may be longer
 * than `max` (a replacement can be longer than what it replaces); the caller cuts it.
 */
export function redactHead(text: string, max: number): string {
  const window = max + HEAD_SLACK;
  if (text.length <= window) return redactText(text);
  let end = window;
  if (!SEPARATOR.test(text.charAt(end))) {
    let start = end;
    while (start > 0 && end - start <= MAX_CUT_CREDENTIAL && !SEPARATOR.test(text.charAt(start - 1))) start--;
    if (end - start <= MAX_CUT_CREDENTIAL) end = start;
  }
  return redactText(text.slice(0, end));
}

/**
 * `eyJ…` `.` 8+ `.` 8+ (base64url segments), starting after a non-word character: the former
 * `\beyJ[A-Za-z0-9_-]{8,}\.…` pattern, found with one pass over each run of JWT characters
 * instead of a rescan of the run from every `-eyJ` in it.
 */
function redactJwts(text: string): string {
  let at = text.indexOf("eyJ");
  if (at === -1) return text;
  const parts: string[] = [];
  let copied = 0;
  while (at !== -1) {
    // The maximal run of JWT characters around this `eyJ`; the search goes on after it, so no run is read twice.
    let start = at;
    while (start > 0 && isJwtChar(text.charCodeAt(start - 1))) start--;
    let end = at + 3;
    while (end < text.length && isJwtChar(text.charCodeAt(end))) end++;
    const run = text.slice(start, end);
    const redacted = redactJwtsInRun(run);
    if (redacted !== run) {
      parts.push(text.slice(copied, start), redacted);
      copied = end;
    }
    at = text.indexOf("eyJ", end);
  }
  if (copied === 0) return text;
  parts.push(text.slice(copied));
  return parts.join("");
}

/** [A-Za-z0-9_.-] */
function isJwtChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2e ||
    c === 0x2d
  );
}

const JWT_SEGMENT = /^[A-Za-z0-9_-]{8,}$/;

/** `run` is a maximal run of JWT characters, so the character before it is not a word character. */
function redactJwtsInRun(run: string): string {
  const segments = run.split(".");
  const out: string[] = [];
  for (let k = 0; k < segments.length; k++) {
    const segment = segments[k] as string;
    const start = jwtStart(segment);
    const next = segments[k + 1];
    const last = segments[k + 2];
    if (start === -1 || next === undefined || last === undefined) {
      out.push(segment);
      continue;
    }
    if (!JWT_SEGMENT.test(next) || !JWT_SEGMENT.test(last)) {
      out.push(segment);
      continue;
    }
    // The JWT ends the segment k+2 it was matched to; the next one may start right after.
    out.push(`${segment.slice(0, start)}${REDACTED}`);
    k += 2;
  }
  return out.join(".");
}

/** The first `eyJ` in a segment at a word boundary (segment start, or after `-`) with 8+ characters after it. */
function jwtStart(segment: string): number {
  let at = segment.indexOf("eyJ");
  while (at !== -1) {
    if (segment.length - at - 3 < 8) return -1; // later starts have fewer characters still
    if (at === 0 || segment.charCodeAt(at - 1) === 0x2d) return at;
    at = segment.indexOf("eyJ", at + 1);
  }
  return -1;
}

export function isSecret(obj: { kind?: unknown; apiVersion?: unknown } | undefined): boolean {
  return obj?.kind === "Secret" && (obj.apiVersion === "v1" || obj.apiVersion === undefined);
}

/** Whether a dotted/bracketed field path of a Secret holds secret material. */
export function isSecretValuePath(path: string): boolean {
  return /^(data|stringData)(\.|\[|$)/.test(path);
}

/** A deep copy of a Secret with every value of data/stringData replaced; other kinds are returned as-is. */
export function redactObject<T extends KubeObject>(obj: T): T {
  if (!isSecret(obj)) return obj;
  const copy = structuredClone(obj) as Record<string, unknown>;
  for (const field of ["data", "stringData"]) {
    const values = copy[field];
    if (isPlainObject(values)) {
      copy[field] = Object.fromEntries(Object.keys(values).map((k) => [k, REDACTED]));
    }
  }
  const annotations = (copy.metadata as KubeObject["metadata"]).annotations;
  if (annotations?.["kubectl.kubernetes.io/last-applied-configuration"] !== undefined) {
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = REDACTED;
  }
  return copy as T;
}

/** Deeply redacts credential-looking strings in any JSON value (for alert payloads and logs). */
export function redactDeep<T>(value: T): T {
  if (typeof value === "string") return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}
