/**
 * One capped HTTP(S) GET for chart repositories and OCI registries: the body is cut off at a byte
 * cap, the whole request at a deadline, redirects are followed a few times, and every connection
 * goes through the host policy (src/source/hosts.ts). Credentials are sent only to the origin they
 * were given for, never to a host a redirect points at (Helm's default, `--pass-credentials` off).
 * Nothing here logs; messages carry the URL without userinfo or query, and status codes only.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import { GitgateError, terminal, transient } from "../../errors.js";
import { rootCertificates } from "node:tls";
import { guard, type HostPolicy } from "../hosts.js";
import type { ProxySettings } from "../proxy.js";

export interface HttpOptions {
  /** Sent only to `authOrigin`. */
  authorization?: string;
  authOrigin?: string;
  headers?: Record<string, string>;
  maxBytes: number;
  timeoutMs: number;
  /** PEM CA bundle trusted (in addition to nothing else: it replaces the system roots, like `--ca-file`). */
  ca?: string;
  policy: HostPolicy;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as Git fetches use them (CONNECT tunnels, src/source/proxy.ts). */
  proxy?: ProxySettings;
  /** What the body is, for messages ("index.yaml of https://…"). */
  what: string;
}

export interface HttpResponse {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
  url: string;
}

const MAX_REDIRECTS = 5;

/** A URL as messages show it: no userinfo, no query (a signed URL's query is a credential). */
export function displayURL(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

const agents = new Map<string, HttpAgent>();
function agentFor(url: URL, opts: HttpOptions): HttpAgent {
  const p = opts.proxy;
  const proxyKey = p ? [p.httpsProxy, p.httpProxy, p.noProxy].join("|") : "";
  const key = `${url.protocol}|${opts.ca ?? ""}|${(opts.policy.allowedHosts ?? []).join(",")}|${proxyKey}`;
  let agent = agents.get(key);
  if (!agent) {
    agent =
      url.protocol === "https:"
        ? guard(
            new HttpsAgent({ keepAlive: false, ...(opts.ca ? { ca: [...rootCertificates, opts.ca] } : {}) }),
            opts.policy,
            opts.proxy,
            true,
          )
        : guard(new HttpAgent({ keepAlive: false }), opts.policy, opts.proxy, false);
    if (agents.size > 64) agents.clear();
    agents.set(key, agent);
  }
  return agent;
}

function once(url: URL, opts: HttpOptions, deadline: number): Promise<HttpResponse> {
  const headers: Record<string, string> = { "user-agent": "gitgate", ...opts.headers };
  if (opts.authorization && url.origin === opts.authOrigin) headers.authorization = opts.authorization;
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<HttpResponse>((resolve, reject) => {
    const req = send(url, { method: "GET", headers, agent: agentFor(url, opts) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) {
          req.destroy(terminal("ChartTooLarge", `${opts.what} is larger than ${opts.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          url: url.href,
        }),
      );
      res.on("error", reject);
    });
    // A whole-request deadline, not an idle timeout: a server dripping bytes cannot hold a sync.
    const timer = setTimeout(
      () =>
        req.destroy(
          transient(
            "ChartRepoUnreachable",
            `${opts.what} timed out after ${Math.round(opts.timeoutMs / 1000)}s`,
          ),
        ),
      Math.max(1, deadline - Date.now()),
    );
    req.on("close", () => clearTimeout(timer));
    req.on("error", reject);
    req.end();
  });
}

/** GET `url`, following redirects; network failures classified, HTTP statuses left to the caller. */
export async function httpGet(url: string, opts: HttpOptions): Promise<HttpResponse> {
  const deadline = Date.now() + opts.timeoutMs;
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    throw terminal("InvalidRepoURL", `${opts.what}: not a URL`);
  }
  for (let hop = 0; ; hop++) {
    if (current.protocol !== "http:" && current.protocol !== "https:")
      throw terminal("InvalidRepoURL", `${opts.what}: ${current.protocol} URLs are not supported`);
    let res: HttpResponse;
    try {
      res = await once(current, opts, deadline);
    } catch (err) {
      throw networkError(err, opts.what);
    }
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location && hop < MAX_REDIRECTS) {
      current = new URL(location, current);
      continue;
    }
    return res;
  }
}

function networkError(err: unknown, what: string): GitgateError {
  for (let e = err as { cause?: unknown } | undefined, d = 0; e && d < 4; e = e.cause as never, d++)
    if (e instanceof GitgateError) return e;
  const code = (err as { code?: unknown }).code;
  const name = typeof code === "string" && /^[A-Z_]{2,64}$/.test(code) ? code : "network error";
  // The same reason and advice as a Git fetch's (src/source/classify.ts): one thing to look up.
  if (typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO|TLS|SSL/.test(code))
    return terminal(
      "CertificateUntrusted",
      `${what}: the TLS certificate is not trusted (${name}): put the CA that signed it in the ` +
        'credentials secret\'s "ca.crt" key',
      err,
    );
  return transient("ChartRepoUnreachable", `cannot fetch ${what} (${name})`, err);
}

/** An HTTP status other than 2xx as a classified error. */
export function statusError(status: number, what: string, hasCredentials: boolean): GitgateError {
  if (status === 401 || status === 403) {
    const hint = hasCredentials
      ? "authentication failed: the credentials were rejected; check the credentials secret"
      : "authentication failed: it needs credentials; set username/password or token in spec.source.credentialsSecret";
    return terminal("AuthenticationFailed", `${what}: HTTP ${status}: ${hint}`);
  }
  if (status === 404) return terminal("ChartNotFound", `${what}: not found (HTTP 404)`);
  if (status === 408 || status === 429 || status >= 500)
    return transient("ChartRepoUnreachable", `${what}: HTTP ${status}`);
  return terminal("FetchFailed", `${what}: HTTP ${status}`);
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}
