/**
 * `gitgate check <manifest>`: would kube-apiserver admit this change, given what Git says? Runs the
 * same decide() as the webhook, against the GitApp that manages each object. Exit 1 when denied.
 */
import { readFile } from "node:fs/promises";
import { decide } from "../admission/decide.js";
import type { AdmissionRequest, Decision } from "../admission/types.js";
import { discoverIdentity } from "../cluster/identity.js";
import { loadConfigFile } from "../config/load.js";
import { messageOf, terminal } from "../errors.js";
import { findByKey, mergeKeyFor } from "../diff/lists.js";
import type { PathSegment } from "../diff/path.js";
import { withApplyDefaults } from "../manifest/defaults.js";
import { APP_LABEL } from "../manifest/labels.js";
import {
  describeRef,
  groupOf,
  isPlainObject,
  refOf,
  versionOf,
  type KubeObject,
} from "../manifest/object.js";
import { parseManifests } from "../manifest/parse.js";
import { DesiredIndex } from "../gate/desired-index.js";
import { admissionPolicy } from "../runtime/policy.js";
import { connect, getGitApp, renderGitApp } from "./context.js";
import { paint } from "./style.js";

export interface CheckFlags {
  kubeconfig?: string;
  config?: string;
  namespace: string;
  as?: string;
  asGroup?: string[];
  output: "text" | "json";
}

interface CheckResult {
  object: string;
  verdict: Decision["verdict"];
  allowed: boolean;
  message?: string;
  warnings?: string[];
}

/**
 * `applied` over `live` as an apply merges them: maps field by field, associative lists (containers,
 * ports, env, …) item by merge key keeping live items the manifest does not name, other values whole.
 * A partial manifest thus changes only the fields it names.
 */
export function applyOver(kind: string, live: unknown, applied: unknown, path: PathSegment[]): unknown {
  if (isPlainObject(live) && isPlainObject(applied)) {
    const out: Record<string, unknown> = { ...live };
    for (const [field, value] of Object.entries(applied))
      out[field] = applyOver(kind, live[field], value, [...path, field]);
    return out;
  }
  const key = mergeKeyFor(kind, path);
  if (!key || !Array.isArray(live) || !Array.isArray(applied)) return applied;
  const liveItems: unknown[] = live;
  const appliedItems: unknown[] = applied;
  const out: unknown[] = liveItems.slice();
  appliedItems.forEach((item: unknown, index: number) => {
    const match = findByKey(liveItems, item, key);
    const merged = applyOver(kind, match, item, [...path, index]);
    if (match === undefined) out.push(merged);
    else out[liveItems.indexOf(match)] = merged;
  });
  return out;
}

export async function checkCommand(manifest: string, flags: CheckFlags): Promise<void> {
  const client = connect(flags.kubeconfig);
  try {
    const config = await loadConfigFile(flags.config);
    const self = await discoverIdentity(client);
    const user = flags.as
      ? { username: flags.as, groups: flags.asGroup ?? [] }
      : { username: self.username, groups: self.groups };
    // Decide as the webhook would, but never treat the checker as gitgate itself.
    const policy = { ...admissionPolicy(config, "system:serviceaccount:gitgate-system:gitgate") };
    const text = await readFile(manifest, "utf8").catch((err: unknown): never => {
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      throw terminal(
        "ManifestUnreadable",
        `cannot read ${manifest}: ${missing ? "no such file" : messageOf(err)}`,
        err,
      );
    });
    const docs = parseManifests(text, manifest);
    const results: CheckResult[] = [];
    const indexes = new Map<string, DesiredIndex>();
    for (const { object } of docs) {
      // The API server defaults (e.g. ports' protocol) before admission, as it did for Git's objects.
      const obj: KubeObject = withApplyDefaults(structuredClone(object));
      const info = await client.discovery.resource(obj.apiVersion, obj.kind);
      if (info.namespaced) obj.metadata.namespace ??= flags.namespace;
      const live = await client.get({
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name ?? "",
      });
      const owner = live?.metadata.labels?.[APP_LABEL];
      let index = owner ? indexes.get(owner) : new DesiredIndex();
      if (!index && owner) {
        const [ns = "", ...rest] = owner.split(".");
        const app = await getGitApp(client, `${ns}/${rest.join(".")}`, ns);
        index = new DesiredIndex();
        if (app) index.replaceApp({ namespace: ns, name: rest.join(".") }, await renderGitApp(client, app));
        indexes.set(owner, index);
      }
      // The requested object is the live one with the manifest's fields over it (an apply).
      const requested: KubeObject = live ? (applyOver(obj.kind, live, obj, []) as KubeObject) : obj;
      const request: AdmissionRequest = {
        uid: "gitgate-check",
        kind: { group: groupOf(obj.apiVersion), version: versionOf(obj.apiVersion), kind: obj.kind },
        resource: { group: groupOf(obj.apiVersion), version: versionOf(obj.apiVersion), resource: info.name },
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        operation: live ? "UPDATE" : "CREATE",
        userInfo: user,
        object: requested,
        oldObject: live ?? null,
        dryRun: true,
      };
      const decision = decide({ request, index: index ?? new DesiredIndex(), policy, now: new Date() });
      results.push({
        object: describeRef(refOf(obj)),
        verdict: decision.verdict,
        allowed: decision.allowed,
        message: decision.status?.message,
        warnings: decision.warnings,
      });
    }
    if (flags.output === "json") process.stdout.write(JSON.stringify(results, null, 2) + "\n");
    else {
      for (const r of results) {
        if (!r.allowed) process.stdout.write(`${paint.red("denied")}   ${r.object}: ${r.message ?? ""}\n`);
        else if (r.verdict === "warned")
          process.stdout.write(`${paint.yellow("warned")}   ${r.object}: ${(r.warnings ?? []).join(" ")}\n`);
        else
          process.stdout.write(
            `${paint.green("admitted")} ${r.object}${r.verdict === "audited" ? " (recorded)" : ""}\n`,
          );
      }
    }
    process.exitCode = results.some((r) => !r.allowed) ? 1 : 0;
  } finally {
    client.transport.close();
  }
}
