/**
 * HTTPS transport to kube-apiserver. gitgate's own KubeConfig (kubeconfig-load.ts) supplies server,
 * CA and credentials; requests go over one keep-alive agent so that bounded-parallel apply reuses
 * connections.
 */
import { Agent, request as httpsRequest, type RequestOptions } from "node:https";
import type { IncomingMessage } from "node:http";
import { transient } from "../errors.js";
import type { KubeConfig } from "./kubeconfig-load.js";

export { KubeConfig, loadKubeConfig } from "./kubeconfig-load.js";

export interface ApiResponse {
  status: number;
  body: unknown;
  /** Raw text when the body is not JSON. */
  text: string;
  headers: IncomingMessage["headers"];
}

export interface RequestSpec {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** Extra request headers (impersonation). */
  headers?: Record<string, string>;
}

export class Transport {
  readonly server: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private base?: { options: RequestOptions; at: number };

  /**
   * `timeoutMs`: a request's limit unless it names one (a registered cluster's is shorter).
   * `credentialsTtlMs`: how long credentials read from files are used before they are read again.
   */
  constructor(
    private readonly kc: KubeConfig,
    private readonly opts: { timeoutMs?: number; credentialsTtlMs?: number } = {},
  ) {
    this.server = kc.cluster.server.replace(/\/$/, "");
  }

  get kubeConfig(): KubeConfig {
    return this.kc;
  }

  /**
   * Credentials are re-read every minute (as client-go and client-node do: projected
   * service-account tokens rotate), and after a 401.
   */
  private async baseOptions(): Promise<RequestOptions> {
    const ttl = this.opts.credentialsTtlMs ?? 60_000;
    if (this.base && Date.now() - this.base.at < ttl) return this.base.options;
    const options: RequestOptions = { ...(await this.kc.httpsOptions()) };
    this.base = { options, at: Date.now() };
    return options;
  }

  url(path: string, query?: RequestSpec["query"]): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  async stream(spec: RequestSpec): Promise<IncomingMessage> {
    const base = await this.baseOptions();
    const url = this.url(spec.path, spec.query);
    const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const headers: Record<string, string | number | string[]> = {
      ...(base.headers as Record<string, string | string[]>),
      ...spec.headers,
      accept: "application/json",
    };
    if (payload) {
      headers["content-type"] = spec.contentType ?? "application/json";
      headers["content-length"] = payload.length;
    }
    const timeout = spec.timeoutMs ?? this.opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        { ...base, method: spec.method, headers, agent: this.agent, timeout },
        (res) => {
          // A rotated token or certificate: read the credentials again for the next request.
          if (res.statusCode === 401) this.base = undefined;
          resolve(res);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`request timed out after ${timeout} ms`)));
      req.on("error", (err) =>
        reject(transient("APIUnreachable", `${spec.method} ${url.pathname}: ${err.message}`, err)),
      );
      req.end(payload);
    });
  }

  async request(spec: RequestSpec): Promise<ApiResponse> {
    const res = await this.stream(spec);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = undefined;
    if (text && (res.headers["content-type"] ?? "").includes("json")) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    return { status: res.statusCode ?? 0, body, text, headers: res.headers };
  }

  close(): void {
    this.agent.destroy();
  }
}
