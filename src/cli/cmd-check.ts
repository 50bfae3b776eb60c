/**
 * `gitgate check <manifest>`: would kube-apiserver admit this change, given what Git says? Runs the
 * same decide() as the webhook, against the GitApp that manages each object. Exit 1 when denied.
 */
import { readFile } from "node:fs/promises";
import { decide } from "../admission/decide.js";
import type { AdmissionRequest, Decision } from "../admission/types.js";
import { discoverIdentity } from "../cluster/identity.js";
import { loadConfigFile } from "../config/load.js";
import { APP_LABEL } from "../manifest/labels.js";
import { describeRef, groupOf, refOf, versionOf, type KubeObject } from "../manifest/object.js";
import { parseManifests } from "../manifest/parse.js";
import { DesiredIndex } from "../sync/desired-index.js";
import { admissionPolicy } from "./runtime.js";
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
    const docs = parseManifests(await readFile(manifest, "utf8"), manifest);
    const results: CheckResult[] = [];
    const indexes = new Map<string, DesiredIndex>();
    for (const { object } of docs) {
      const obj: KubeObject = structuredClone(object);
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
      const requested: KubeObject = live
        ? {
            ...live,
            ...obj,
            metadata: {
              ...live.metadata,
              ...obj.metadata,
              labels: { ...live.metadata.labels, ...obj.metadata.labels },
              annotations: { ...live.metadata.annotations, ...obj.metadata.annotations },
            },
          }
        : obj;
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
      const decision = decide(request, index ?? new DesiredIndex(), policy, new Date());
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
