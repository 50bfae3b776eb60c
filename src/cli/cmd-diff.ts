/**
 * `gitgate diff`: field-level differences between Git (a local directory, or a GitApp's source)
 * and the live cluster. Exit code 1 when there are differences, like `kubectl diff`.
 */
import { existsSync } from "node:fs";
import type { FieldChange } from "../manifest/event.js";
import type { ClusterClient } from "../cluster/client.js";
import { undeclaredRules } from "../diff/allowed.js";
import { diffDeclared } from "../diff/index.js";
import { undeclaredAdditions } from "../diff/managed-fields.js";
import { COMMIT_ANNOTATION, CONTENT_ANNOTATION, FILE_ANNOTATION } from "../manifest/labels.js";
import { describeRef, refOf, type KubeObject } from "../manifest/object.js";
import { connect, getGitApp, parseAppRef, renderGitApp } from "./context.js";
import { renderLocal } from "./local-render.js";
import { paint } from "./style.js";

export interface DiffFlags {
  kubeconfig?: string;
  namespace: string;
  releaseName?: string;
  values?: string[];
  output: "text" | "json";
}

export interface ObjectDiff {
  object: string;
  state: "same" | "differs" | "missing";
  changes: FieldChange[];
}

const BOOKKEEPING = [
  `metadata.annotations.${COMMIT_ANNOTATION}`,
  `metadata.annotations.${CONTENT_ANNOTATION}`,
  `metadata.annotations.${FILE_ANNOTATION}`,
];

export async function diffObjects(client: ClusterClient, desired: KubeObject[]): Promise<ObjectDiff[]> {
  const out: ObjectDiff[] = [];
  for (const obj of desired) {
    const live = await client.get({
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name ?? "",
    });
    const object = describeRef(refOf(obj));
    if (!live) {
      out.push({ object, state: "missing", changes: [] });
      continue;
    }
    // A commit annotation that lags is not a difference a user acts on.
    const declared = diffDeclared(obj, live, []).filter(
      (c) => !BOOKKEEPING.some((b) => c.path.startsWith(b) || c.path.includes(b.split(".").pop() ?? "")),
    );
    // Fields Git does not declare that another field manager added (what self-heal would remove).
    const added = undeclaredAdditions(obj, live, undeclaredRules([])).map(
      ({ path, liveValue, manager }): FieldChange => ({ path, liveValue, undeclared: true, manager }),
    );
    const changes = [...declared, ...added];
    out.push({ object, state: changes.length ? "differs" : "same", changes });
  }
  return out;
}

const show = (v: unknown): string => (v === undefined ? "(absent)" : JSON.stringify(v));

export function formatDiff(diffs: ObjectDiff[]): string {
  const lines: string[] = [];
  for (const d of diffs) {
    if (d.state === "same") continue;
    if (d.state === "missing") {
      lines.push(paint.green(`+ ${d.object} (not in the cluster)`));
      continue;
    }
    lines.push(paint.bold(`~ ${d.object}`));
    for (const c of d.changes)
      lines.push(
        c.undeclared
          ? `    ${c.path}: ${paint.green("not in Git")}, ${paint.red(`live ${show(c.liveValue)}`)}${c.manager ? ` (added by ${c.manager})` : ""}`
          : `    ${c.path}: ${paint.green(`Git ${show(c.gitValue)}`)}, ${paint.red(`live ${show(c.liveValue)}`)}`,
      );
  }
  const differing = diffs.filter((d) => d.state !== "same").length;
  lines.push(
    differing
      ? `${differing} of ${diffs.length} objects differ from Git`
      : `all ${diffs.length} objects match Git`,
  );
  return lines.join("\n");
}

export async function diffCommand(target: string, flags: DiffFlags): Promise<void> {
  const client = connect(flags.kubeconfig);
  try {
    let desired: KubeObject[];
    // A GitApp reference has at most one slash; anything else that exists or reads as a path is one,
    // and renderLocal reports a missing path or a file by the name given.
    const isPath = existsSync(target) || /^[./~]/.test(target) || target.split("/").length > 2;
    if (isPath) {
      desired = await renderLocal(client, target, {
        namespace: flags.namespace,
        releaseName: flags.releaseName,
        values: flags.values,
      });
    } else {
      const app = await getGitApp(client, target, flags.namespace);
      if (!app) {
        const { namespace, name } = parseAppRef(target, flags.namespace);
        throw new Error(
          `${target} is neither a directory nor a GitApp (no GitApp ${name} in namespace ${namespace})`,
        );
      }
      desired = (await renderGitApp(client, app)).map((e) => e.object);
    }
    // diffDeclared redacts Secret values in what it returns; the comparison itself needs the real ones.
    const diffs = await diffObjects(client, desired);
    if (flags.output === "json") process.stdout.write(JSON.stringify(diffs, null, 2) + "\n");
    else process.stdout.write(formatDiff(diffs) + "\n");
    process.exitCode = diffs.some((d) => d.state !== "same") ? 1 : 0;
  } finally {
    client.transport.close();
  }
}
