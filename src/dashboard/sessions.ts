/**
 * Browser sessions: the cookie holds an opaque random id; the bearer token it stands for stays in
 * this process (never in a URL, a log or the browser's script-readable storage). Bounded, expiring.
 */
import { randomBytes } from "node:crypto";
import { TtlCache } from "../bounded/ttl-cache.js";

export const SESSION_COOKIE = "gitgate_session";
const MAX_SESSIONS = 1000;
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class SessionStore {
  private readonly sessions: TtlCache<string>;

  constructor(max = MAX_SESSIONS, ttlMs = SESSION_TTL_MS, now: () => number = Date.now) {
    this.sessions = new TtlCache(max, ttlMs, now);
  }

  /** A new session for `token`; returns its id. */
  create(token: string): string {
    const id = randomBytes(32).toString("base64url");
    this.sessions.set(id, token);
    return id;
  }

  token(id: string | undefined): string | undefined {
    return id && ID_PATTERN.test(id) ? this.sessions.get(id) : undefined;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }
}

/**
 * One-time login codes (`gitgate dev`'s printed link): the code, not the token, is in the URL; it
 * works once, within ten minutes.
 */
export class OneTimeCodes {
  private readonly codes: TtlCache<string>;

  constructor(max = 16, ttlMs = 10 * 60 * 1000, now: () => number = Date.now) {
    this.codes = new TtlCache(max, ttlMs, now);
  }

  create(token: string): string {
    const code = randomBytes(32).toString("base64url");
    this.codes.set(code, token);
    return code;
  }

  /** The token, once. */
  redeem(code: string | null): string | undefined {
    if (!code || !ID_PATTERN.test(code)) return undefined;
    const token = this.codes.get(code);
    this.codes.delete(code);
    return token;
  }
}

/** The value of one cookie in a Cookie header (capped: the header is the client's). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string, secure: boolean, maxAgeSeconds = SESSION_TTL_MS / 1000): string {
  return [
    `${SESSION_COOKIE}=${id}`,
    "HttpOnly",
    "SameSite=Strict",
    "Path=/",
    `Max-Age=${maxAgeSeconds}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}
