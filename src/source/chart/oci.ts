/**
 * Helm charts in an OCI registry, read with a small OCI distribution client rather than `helm pull`.
 * Why not the helm binary: a semver range needs the tag list anyway (helm resolves ranges by listing
 * tags too), and doing the three GETs here (tags, manifest, chart layer) keeps one code path for both
 * repository kinds: the same host policy per connection, the same byte caps and deadline, the same
 * CA handling, the layer's sha256 checked against the manifest, credentials never written to a
 * registry config file on disk, and no subprocess to confine. Auth: anonymous first; on 401, HTTP
 * Basic or the Bearer token flow (`WWW-Authenticate: Bearer realm=…`) that Docker Hub, GHCR, Harbor,
 * ECR and GitLab use.
 */
import { createHash } from "node:crypto";
import { terminal } from "../../errors.js";
import { basicAuth, httpGet, statusError, type HttpOptions, type HttpResponse } from "./http.js";
import type { ChartCredentials } from "./types.js";

export const HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json";
const MAX_TAG_PAGES = 20;
const MAX_JSON_BYTES = 4 * 1024 * 1024;

export interface OciRef {
  /** `https://host:port` the registry is reached at. */
  base: string;
  /** `http://host:port` if a loopback registry turns out not to speak TLS (docker's rule for localhost). */
  plainFallback?: string;
  /** Repository name inside the registry (`charts/mychart`). */
  name: string;
}

/** `oci://host/path` + chart → the registry and repository; helm push stores a chart at `<path>/<chart>`. */
export function ociRef(repoURL: string, chart: string): OciRef {
  const rest = repoURL.replace(/^oci:\/\//i, "");
  const slash = rest.indexOf("/");
  const host = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
  if (!/^[a-z0-9.-]+(?::\d{1,5})?$/i.test(host) || host.includes("@"))
    throw terminal(
      "InvalidRepoURL",
      `${JSON.stringify(repoURL.slice(0, 200))} is not an oci://host/path URL`,
    );
  if (path.length > 255 || (path !== "" && !/^[a-z0-9]+(?:(?:[._/-]|__)[a-z0-9]+)*$/.test(path)))
    throw terminal(
      "InvalidRepoURL",
      `OCI repository path ${JSON.stringify(path.slice(0, 200))} is not valid`,
    );
  // HTTPS always first. A loopback registry may be plain HTTP (helm and docker allow it: nothing can
  // sit in between), but only when it does not speak TLS at all: a certificate that fails to verify
  // is an error, never a reason to drop to plain HTTP.
  const loopback = isLoopback(host.replace(/:\d+$/, ""));
  return {
    base: `https://${host}`,
    ...(loopback ? { plainFallback: `http://${host}` } : {}),
    name: path ? `${path}/${chart}` : chart,
  };
}

function isLoopback(hostname: string): boolean {
  return hostname.toLowerCase() === "localhost" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

interface Session {
  ref: OciRef;
  creds?: ChartCredentials;
  http: Omit<HttpOptions, "what" | "maxBytes">;
  /** Authorization learned from the first 401; reused for the rest of this fetch. */
  authorization?: string;
}

function challengeParams(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of header.slice(0, 2048).matchAll(/([a-z_]+)="([^"]{0,1024})"/gi))
    if (m[1] && m[2] !== undefined) params[m[1].toLowerCase()] = m[2];
  return params;
}

async function authorize(s: Session, challenge: string, what: string): Promise<string | undefined> {
  const creds = s.creds;
  const basic =
    creds?.username && (creds.password ?? creds.token)
      ? basicAuth(creds.username, creds.password ?? creds.token ?? "")
      : undefined;
  if (/^basic\b/i.test(challenge)) return basic;
  if (!/^bearer\b/i.test(challenge)) return undefined;
  const params = challengeParams(challenge);
  if (!params.realm) return undefined;
  if (creds?.token && !creds.username) return `Bearer ${creds.token}`; // a registry token as is
  const realm = new URL(params.realm);
  if (params.service) realm.searchParams.set("service", params.service);
  realm.searchParams.set("scope", params.scope ?? `repository:${s.ref.name}:pull`);
  const res = await httpGet(realm.href, {
    ...s.http,
    what: `token for ${what}`,
    maxBytes: MAX_JSON_BYTES,
    ...(basic ? { authorization: basic, authOrigin: realm.origin } : {}),
  });
  if (res.status !== 200)
    throw statusError(res.status, `token for ${what}`, Boolean(creds?.password ?? creds?.token));
  const body = parseJson(res, `token for ${what}`) as { token?: unknown; access_token?: unknown };
  const token = typeof body.token === "string" ? body.token : body.access_token;
  return typeof token === "string" ? `Bearer ${token}` : undefined;
}

/** Whether a TLS connect failed because the server answered in plain text (not a certificate error). */
function notTls(err: unknown): boolean {
  for (
    let e = err as { cause?: unknown; code?: unknown } | undefined, d = 0;
    e && d < 4;
    e = e.cause as never, d++
  )
    if (e.code === "EPROTO" || e.code === "ERR_SSL_WRONG_VERSION_NUMBER") return true;
  return false;
}

/** A GET at the session's base; a loopback registry without TLS moves the session to plain HTTP once. */
async function firstGet(s: Session, path: string, opts: HttpOptions): Promise<HttpResponse> {
  try {
    return await httpGet(`${s.ref.base}${path}`, opts);
  } catch (err) {
    const fallback = s.ref.plainFallback;
    if (!fallback || !notTls(err)) throw err;
    s.ref = { base: fallback, name: s.ref.name };
    return httpGet(`${s.ref.base}${path}`, {
      ...opts,
      ...(opts.authorization ? { authOrigin: s.ref.base } : {}),
    });
  }
}

async function get(
  s: Session,
  path: string,
  what: string,
  maxBytes: number,
  accept?: string,
): Promise<HttpResponse> {
  const url = (): string => `${s.ref.base}${path}`;
  const opts = (): HttpOptions => ({
    ...s.http,
    what,
    maxBytes,
    ...(accept ? { headers: { accept } } : {}),
    ...(s.authorization ? { authorization: s.authorization, authOrigin: s.ref.base } : {}),
  });
  let res = await firstGet(s, path, opts());
  const challenge = res.headers["www-authenticate"];
  if (res.status === 401 && !s.authorization && typeof challenge === "string") {
    s.authorization = await authorize(s, challenge, what);
    if (s.authorization) res = await httpGet(url(), opts());
  }
  if (res.status !== 200) throw statusError(res.status, what, Boolean(s.creds?.password ?? s.creds?.token));
  return res;
}

function parseJson(res: HttpResponse, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(res.body.toString("utf8"));
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw terminal("InvalidChartIndex", `${what} is not a JSON object`);
}

/** Chart versions published in the repository: its tags, Helm's `_` for `+` turned back. */
export async function listTags(s: Session): Promise<string[]> {
  const tags: string[] = [];
  let path: string | undefined = `/v2/${s.ref.name}/tags/list?n=1000`;
  for (let page = 0; path && page < MAX_TAG_PAGES; page++) {
    const what = `tags of ${s.ref.base}/${s.ref.name}`;
    const res = await get(s, path, what, MAX_JSON_BYTES);
    const list = parseJson(res, what).tags;
    if (Array.isArray(list)) for (const t of list) if (typeof t === "string") tags.push(t.replace(/_/g, "+"));
    const next = /<([^>]{1,2048})>;\s*rel="next"/.exec(String(res.headers.link ?? ""))?.[1];
    path = next && next.startsWith("/v2/") ? next : undefined;
  }
  return tags;
}

/** The chart archive of `version`, its digest checked against the manifest's layer. */
export async function pullChart(s: Session, version: string, maxBytes: number): Promise<Buffer> {
  const tag = version.replace(/\+/g, "_");
  const where = `${s.ref.base}/${s.ref.name}:${tag}`;
  const manifest = parseJson(
    await get(
      s,
      `/v2/${s.ref.name}/manifests/${encodeURIComponent(tag)}`,
      `manifest of ${where}`,
      MAX_JSON_BYTES,
      MANIFEST_TYPES,
    ),
    `manifest of ${where}`,
  );
  const layers = Array.isArray(manifest.layers) ? (manifest.layers as Array<Record<string, unknown>>) : [];
  const layer = layers.find((l) => l && l.mediaType === HELM_CHART_LAYER);
  const digest = typeof layer?.digest === "string" ? layer.digest : "";
  const hex = /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1];
  if (!hex) throw terminal("InvalidChartArchive", `${where} is not a Helm chart (no sha256 chart layer)`);
  if (typeof layer?.size === "number" && layer.size > maxBytes)
    throw terminal("ChartTooLarge", `chart ${where} is ${layer.size} bytes, more than ${maxBytes}`);
  const blob = await get(s, `/v2/${s.ref.name}/blobs/${digest}`, `chart layer of ${where}`, maxBytes);
  if (createHash("sha256").update(blob.body).digest("hex") !== hex)
    throw terminal("ChartDigestMismatch", `chart layer of ${where} does not match its digest ${digest}`);
  return blob.body;
}

export function ociSession(ref: OciRef, creds: ChartCredentials | undefined, http: Session["http"]): Session {
  return { ref, ...(creds ? { creds } : {}), http };
}
