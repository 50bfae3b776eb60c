/**
 * Who is asking, and may they see an app: a bearer token checked with TokenReview, and each
 * namespace checked with SubjectAccessReview (`get gitapps.gitgate.io` there) as that user. Both
 * answers are cached briefly (by a hash of the token, never the token) and bounded.
 */
import { createHash } from "node:crypto";
import type { ClusterClient } from "../cluster/client.js";
import { apiErrorFrom } from "../cluster/api-error.js";
import { isPlainObject } from "../manifest/object.js";
import { TtlCache } from "../bounded/ttl-cache.js";

export interface DashboardUser {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** Longest bearer token accepted (ServiceAccount JWTs are ~1 KB; OIDC tokens a few). */
export const MAX_TOKEN_CHARS = 8192;
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;
const USER_TTL_MS = 30_000;
const REFUSED_TTL_MS = 5_000;
const ACCESS_TTL_MS = 10_000;

export function validTokenShape(token: string): boolean {
  return token.length > 0 && token.length <= MAX_TOKEN_CHARS && TOKEN_PATTERN.test(token);
}

/** The token of an `Authorization: Bearer …` header, if well-formed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header || header.length > MAX_TOKEN_CHARS + 16) return undefined;
  const match = /^Bearer +(\S+)$/i.exec(header);
  return match?.[1] && validTokenShape(match[1]) ? match[1] : undefined;
}

function hashOf(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

export class KubeAuth {
  private readonly users = new TtlCache<DashboardUser | null>(2000, USER_TTL_MS);
  private readonly access = new TtlCache<boolean>(5000, ACCESS_TTL_MS);

  constructor(private readonly client: ClusterClient) {}

  /** The cached answer for this token (a user, or null: refused), undefined when a review is needed. */
  known(token: string): DashboardUser | null | undefined {
    return validTokenShape(token) ? this.users.get(hashOf(token)) : null;
  }

  /** The user the token authenticates as, or undefined (refused, or not a token at all). */
  async authenticate(token: string): Promise<DashboardUser | undefined> {
    if (!validTokenShape(token)) return undefined;
    const key = hashOf(token);
    const cached = this.users.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const res = await this.client.raw({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/tokenreviews",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
    });
    // An API failure is not a refusal: it is reported (502), not cached.
    if (res.status !== 201 && res.status !== 200) throw apiErrorFrom("TokenReview", res);
    const user = reviewedUser(res.body);
    this.users.set(key, user ?? null, user ? USER_TTL_MS : REFUSED_TTL_MS);
    return user;
  }

  /** May `user` get GitApps in `namespace`? */
  async canSeeApps(user: DashboardUser, namespace: string): Promise<boolean> {
    const key = hashOf(JSON.stringify([user.username, user.uid, user.groups, user.extra, namespace]));
    const cached = this.access.get(key);
    if (cached !== undefined) return cached;
    const res = await this.client.raw({
      method: "POST",
      path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: user.username,
          groups: user.groups,
          ...(user.uid ? { uid: user.uid } : {}),
          ...(user.extra ? { extra: user.extra } : {}),
          resourceAttributes: { group: "gitgate.io", resource: "gitapps", verb: "get", namespace },
        },
      },
    });
    const status = isPlainObject(res.body) && isPlainObject(res.body.status) ? res.body.status : {};
    const allowed =
      (res.status === 201 || res.status === 200) && status.allowed === true && status.denied !== true;
    this.access.set(key, allowed);
    return allowed;
  }

  /** The namespaces among `namespaces` the user may see (one review per namespace, cached). */
  async visibleNamespaces(user: DashboardUser, namespaces: Iterable<string>): Promise<Set<string>> {
    const out = new Set<string>();
    for (const ns of new Set(namespaces)) if (await this.canSeeApps(user, ns)) out.add(ns);
    return out;
  }
}

/** status.user of an authenticated TokenReview. */
export function reviewedUser(body: unknown): DashboardUser | undefined {
  const status = isPlainObject(body) && isPlainObject(body.status) ? body.status : undefined;
  if (!status || status.authenticated !== true || !isPlainObject(status.user)) return undefined;
  const u = status.user;
  if (typeof u.username !== "string" || !u.username) return undefined;
  const groups = Array.isArray(u.groups) ? u.groups.filter((g): g is string => typeof g === "string") : [];
  const extra: Record<string, string[]> = {};
  if (isPlainObject(u.extra))
    for (const [k, v] of Object.entries(u.extra))
      if (Array.isArray(v)) extra[k] = v.filter((x): x is string => typeof x === "string");
  return {
    username: u.username,
    groups,
    ...(typeof u.uid === "string" && u.uid ? { uid: u.uid } : {}),
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
  };
}
