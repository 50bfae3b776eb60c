/** API discovery: (apiVersion, kind) → resource name and scope, cached per group-version. */
import { waiting } from "../errors.js";
import { isPlainObject, scalarText } from "../manifest/object.js";
import { apiErrorFrom } from "./api-error.js";
import type { Transport } from "./transport.js";

export interface ResourceInfo {
  apiVersion: string;
  kind: string;
  /** Plural resource name, e.g. `deployments`. */
  name: string;
  namespaced: boolean;
  verbs: string[];
}

export function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

export class Discovery {
  private readonly cache = new Map<string, Promise<Map<string, ResourceInfo>>>();
  /**
   * `<group>/<plural>` → kind of every resource discovered so far (all kinds gitgate manages are):
   * a Scale request names only the resource, and the admission gate may do no I/O to resolve it.
   */
  readonly resourceKinds: Record<string, string> = {};

  constructor(private readonly transport: Transport) {}

  private load(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    let entry = this.cache.get(apiVersion);
    if (!entry) {
      entry = this.fetch(apiVersion);
      // A failed or missing group-version is retried on the next lookup (CRDs appear over time).
      entry.catch(() => this.cache.delete(apiVersion));
      this.cache.set(apiVersion, entry);
    }
    return entry;
  }

  private async fetch(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    const res = await this.transport.request({ method: "GET", path: groupVersionPath(apiVersion) });
    if (res.status === 404) return new Map();
    if (res.status !== 200) throw apiErrorFrom(`discovery of ${apiVersion}`, res);
    const list = isPlainObject(res.body) && Array.isArray(res.body.resources) ? res.body.resources : [];
    const byKind = new Map<string, ResourceInfo>();
    for (const r of list as Array<Record<string, unknown>>) {
      const name = scalarText(r.name);
      if (name.includes("/")) continue; // subresources
      const group = apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "";
      this.resourceKinds[`${group}/${name}`] = String(r.kind);
      byKind.set(String(r.kind), {
        apiVersion,
        kind: String(r.kind),
        name,
        namespaced: r.namespaced === true,
        verbs: Array.isArray(r.verbs) ? r.verbs.map(String) : [],
      });
    }
    return byKind;
  }

  /** Resolves a kind, refreshing the group-version once on a miss (a CRD may have just been created). */
  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let info = (await this.load(apiVersion)).get(kind);
    if (!info) {
      this.cache.delete(apiVersion);
      info = (await this.load(apiVersion)).get(kind);
    }
    if (!info)
      throw waiting(
        "KindNotServed",
        `the API server does not serve ${kind} in ${apiVersion} (CRD missing or not established yet)`,
      );
    return info;
  }

  invalidate(): void {
    this.cache.clear();
  }
}
