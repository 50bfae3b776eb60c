/**
 * Classification of Git failures into gitgate's terminal/transient errors. Messages are built from
 * our own words plus status codes and error codes only: a server's response body or a library message
 * could echo a header or URL, so they never reach the message (they stay in `cause`).
 */
import { GitgateError, terminal, transient } from "../errors.js";

export interface GitContext {
  /** Display URL (no userinfo). */
  repo: string;
  revision?: string;
  hasCredentials?: boolean;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ECONNABORTED",
  "ABORT_ERR",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

/** Node's codes for a certificate the client does not trust (or that names another host). */
const TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

interface ErrorLike {
  code?: unknown;
  name?: unknown;
  data?: { statusCode?: unknown };
  cause?: unknown;
}

function codeOf(err: unknown): string | undefined {
  for (let e = err as ErrorLike | undefined, depth = 0; e && depth < 4; e = e.cause as ErrorLike, depth++) {
    if (typeof e.code === "string" && (NETWORK_CODES.has(e.code) || TLS_CODES.has(e.code))) return e.code;
  }
  const top = err as ErrorLike | undefined;
  return typeof top?.code === "string" ? top.code : undefined;
}

export function revisionNotFound(ctx: GitContext, detail: string): GitgateError {
  return terminal(
    "RevisionNotFound",
    `revision ${JSON.stringify(ctx.revision ?? "")} not found in ${ctx.repo}: ${detail}`,
  );
}

export function fetchTimedOut(ctx: GitContext, ms: number): GitgateError {
  return transient("RepoUnreachable", `fetching ${ctx.repo} timed out after ${Math.round(ms / 1000)}s`);
}

export function classifyGitError(err: unknown, ctx: GitContext): GitgateError {
  // Ours, possibly wrapped by isomorphic-git on its way up (a refused host from a connection).
  for (let e = err as ErrorLike | undefined, depth = 0; e && depth < 4; e = e.cause as ErrorLike, depth++)
    if (e instanceof GitgateError) return e;
  const code = codeOf(err);
  if (code === "HttpError") {
    const status = Number((err as ErrorLike).data?.statusCode);
    if (status === 401 || status === 403) {
      const hint = ctx.hasCredentials
        ? "the credentials were rejected; check the credentials secret"
        : "the repository needs credentials; set spec.source.credentialsSecret";
      return terminal(
        "AuthenticationFailed",
        `authentication to ${ctx.repo} failed (HTTP ${status}): ${hint}`,
        err,
      );
    }
    if (status === 404) {
      return terminal("RepoNotFound", `repository ${ctx.repo} not found (HTTP 404)`, err);
    }
    if (status === 408 || status === 429 || status >= 500) {
      return transient("RepoUnreachable", `${ctx.repo} answered HTTP ${status}`, err);
    }
    return terminal("FetchFailed", `${ctx.repo} refused the request (HTTP ${status})`, err);
  }
  if (code !== undefined && TLS_CODES.has(code)) {
    return terminal(
      "CertificateUntrusted",
      `the TLS certificate of ${ctx.repo} is not trusted (${code}): put the CA that signed it in the ` +
        'credentials secret\'s "ca.crt" key',
      err,
    );
  }
  if (code === "SmartHttpError") {
    return terminal("RepoNotFound", `${ctx.repo} is not a Git smart-HTTP repository`, err);
  }
  if (code !== undefined && NETWORK_CODES.has(code)) {
    return transient("RepoUnreachable", `cannot reach ${ctx.repo} (${code})`, err);
  }
  if (code !== undefined && /^E[A-Z]+$/.test(code)) {
    // ENOSPC, EACCES, …: the local cache, not the remote.
    return transient("GitCacheError", `local Git cache for ${ctx.repo} failed (${code})`, err);
  }
  return transient("FetchFailed", `fetching ${ctx.repo} failed${code ? ` (${code})` : ""}`, err);
}
