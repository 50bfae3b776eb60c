/**
 * HTTPS transport to kube-apiserver. client-node's KubeConfig supplies server, CA and credentials;
 * requests go over one keep-alive agent so that bounded-parallel apply reuses connections.
 */
import { Agent, request as httpsRequest, type RequestOptions } from "node:https";
import type { IncomingMessage } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { transient } from "../errors.js";

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

export function loadKubeConfig(source: { kubeconfig?: string; inCluster?: boolean }): KubeConfig {
  const kc = new KubeConfig();
  if (source.kubeconfig) kc.loadFromFile(source.kubeconfig);
  else if (source.inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export class Transport {
  readonly server: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private base?: { options: RequestOptions; at: number };

  /** `timeoutMs`: a request's limit unless it names one (a registered cluster's is shorter). */
  constructor(
    private readonly kc: KubeConfig,
    private readonly opts: { timeoutMs?: number } = {},
  ) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = cluster.server.replace(/\/$/, "");
  }

  get kubeConfig(): KubeConfig {
    return this.kc;
  }

  /** Credentials are re-read every minute: projected service-account tokens rotate. */
  private async baseOptions(): Promise<RequestOptions> {
    if (this.base && Date.now() - this.base.at < 60_000) return this.base.options;
    const options: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(options);
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
    const headers: Record<string, string | number> = {
      ...(base.headers as Record<string, string>),
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
        resolve,
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
