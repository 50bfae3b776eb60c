/**
 * The Kubernetes operations gitgate needs, over one transport: server-side apply, get, list,
 * delete, patch and create, addressed by apiVersion/kind through discovery.
 */
import { isPlainObject, type KubeObject } from "../manifest/object.js";
import { apiErrorFrom } from "./api-error.js";
import { Discovery, groupVersionPath, type ResourceInfo } from "./discovery.js";
import type { ApiResponse, RequestSpec, Transport } from "./transport.js";

export type PatchType = "merge" | "json" | "strategic";

export interface Target {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

export class ClusterClient {
  readonly discovery: Discovery;

  /** The user this client's requests act as (Impersonate-User), when not gitgate itself. */
  readonly impersonating?: string;

  constructor(
    readonly transport: Transport,
    opts: { discovery?: Discovery; impersonate?: string } = {},
  ) {
    this.discovery = opts.discovery ?? new Discovery(transport);
    if (opts.impersonate) this.impersonating = opts.impersonate;
  }

  /**
   * A client whose requests act as `username` (a tenant's ServiceAccount), so that kube-apiserver's
   * RBAC decides what they may do. Same connection pool and discovery cache.
   */
  as(username: string): ClusterClient {
    return new ClusterClient(this.transport, { discovery: this.discovery, impersonate: username });
  }

  private send(spec: RequestSpec): Promise<ApiResponse> {
    if (!this.impersonating) return this.transport.request(spec);
    return this.transport.request({
      ...spec,
      headers: { ...spec.headers, "Impersonate-User": this.impersonating },
    });
  }

  async path(target: Target, subresource?: string): Promise<{ path: string; info: ResourceInfo }> {
    const info = await this.discovery.resource(target.apiVersion, target.kind);
    let path = groupVersionPath(target.apiVersion);
    if (info.namespaced && target.namespace) path += `/namespaces/${encodeURIComponent(target.namespace)}`;
    path += `/${info.name}`;
    if (target.name) path += `/${encodeURIComponent(target.name)}`;
    if (subresource) path += `/${subresource}`;
    return { path, info };
  }

  private async call(what: string, spec: RequestSpec, ok: number[] = [200, 201]): Promise<ApiResponse> {
    const res = await this.send(spec);
    if (!ok.includes(res.status)) throw apiErrorFrom(what, res);
    return res;
  }

  /** Server-side apply. `force` takes ownership of conflicting fields, as a GitOps controller must. */
  async apply(
    obj: KubeObject,
    opts: { fieldManager: string; force?: boolean; dryRun?: boolean; subresource?: string },
  ): Promise<KubeObject> {
    const { path } = await this.path(
      {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
      },
      opts.subresource,
    );
    const res = await this.call(
      `apply ${obj.kind} ${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`,
      {
        method: "PATCH",
        path,
        query: {
          fieldManager: opts.fieldManager,
          force: opts.force ?? true,
          dryRun: opts.dryRun ? "All" : undefined,
        },
        body: obj,
        contentType: "application/apply-patch+yaml",
      },
    );
    return res.body as KubeObject;
  }

  async get(target: Target & { name: string }): Promise<KubeObject | undefined> {
    const { path } = await this.path(target);
    const res = await this.send({ method: "GET", path });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw apiErrorFrom(`get ${target.kind} ${target.name}`, res);
    return res.body as KubeObject;
  }

  async list(target: Target, opts: { labelSelector?: string; limit?: number } = {}): Promise<ListResult> {
    const { path } = await this.path({ ...target, name: undefined });
    const items: KubeObject[] = [];
    let resourceVersion = "";
    let cont: string | undefined;
    do {
      const res = await this.call(`list ${target.kind}`, {
        method: "GET",
        path,
        query: { labelSelector: opts.labelSelector, limit: opts.limit ?? 500, continue: cont },
      });
      const body = res.body as {
        items?: KubeObject[];
        metadata?: { resourceVersion?: string; continue?: string };
      };
      // Lists omit apiVersion/kind on items; restore them so callers can address the objects.
      for (const item of body.items ?? [])
        items.push({ ...item, apiVersion: target.apiVersion, kind: target.kind });
      resourceVersion = body.metadata?.resourceVersion ?? "";
      cont = body.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  /** Deletes with background propagation; returns false when the object was already gone. */
  async delete(target: Target & { name: string }, opts: { dryRun?: boolean } = {}): Promise<boolean> {
    const { path } = await this.path(target);
    const res = await this.send({
      method: "DELETE",
      path,
      query: { dryRun: opts.dryRun ? "All" : undefined },
      body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" },
    });
    if (res.status === 404) return false;
    if (res.status !== 200 && res.status !== 202)
      throw apiErrorFrom(`delete ${target.kind} ${target.name}`, res);
    return true;
  }

  async patch(
    target: Target & { name: string },
    patch: unknown,
    type: PatchType,
    opts: { subresource?: string; fieldManager?: string } = {},
  ): Promise<KubeObject> {
    const { path } = await this.path(target, opts.subresource);
    const res = await this.call(`patch ${target.kind} ${target.name}`, {
      method: "PATCH",
      path,
      query: { fieldManager: opts.fieldManager },
      body: patch,
      contentType: PATCH_CONTENT_TYPES[type],
    });
    return res.body as KubeObject;
  }

  async create(obj: KubeObject, opts: { fieldManager?: string } = {}): Promise<KubeObject> {
    const { path } = await this.path({
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      namespace: obj.metadata.namespace,
    });
    const res = await this.call(`create ${obj.kind} ${obj.metadata.name ?? ""}`, {
      method: "POST",
      path,
      query: { fieldManager: opts.fieldManager },
      body: obj,
    });
    return res.body as KubeObject;
  }

  async replace(obj: KubeObject, opts: { subresource?: string } = {}): Promise<KubeObject> {
    const target = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
    };
    const { path } = await this.path(target, opts.subresource);
    const res = await this.call(`update ${obj.kind} ${obj.metadata.name ?? ""}`, {
      method: "PUT",
      path,
      body: obj,
    });
    return res.body as KubeObject;
  }

  /** Raw request for endpoints outside the resource model (SelfSubjectReview, TokenReview, /version). */
  async raw(spec: RequestSpec): Promise<ApiResponse> {
    return this.send(spec);
  }
}

export function statusMessage(body: unknown): string {
  return isPlainObject(body) && typeof body.message === "string" ? body.message : "";
}
