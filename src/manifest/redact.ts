/**
 * Redaction of Secret values and credential-looking strings. Everything that leaves the process
 * (logs, alerts, admission messages, CLI output) passes through here.
 */
import { isPlainObject, type KubeObject } from "./object.js";

export const REDACTED = "<redacted>";

const CREDENTIAL_PATTERNS: RegExp[] = [
  /\b(?:xox[abprs]|xapp)-[A-Za-z0-9-]{8,}/g, // Slack tokens
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /\bglpat-[A-Za-z0-9_-]{16,}/g, // GitLab tokens
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs (service-account tokens)
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /(?<=\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /(?<=\b(?:password|passwd|pwd|secret|token|api[_-]?key|apikey)\s*[=:]\s*)[^\s,;&"']{3,}/gi,
];

/**
 * Replaces credentials embedded in free text, including any URL userinfo: `https://user:pass@host`
 * and the token-only `https://<token>@host` form Git hosts accept.
 */
export function redactText(text: string): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, `$1${REDACTED}@`);
  for (const pattern of CREDENTIAL_PATTERNS) out = out.replace(pattern, REDACTED);
  return out;
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
