/** `gitgate status`: GitApps with revision, sync, drift and health state. */
import { findCondition } from "../sync/conditions.js";
import type { GitApp } from "../api/gitapp.js";
import { connect, listGitApps } from "./context.js";
import { paint } from "./style.js";

export interface StatusFlags {
  kubeconfig?: string;
  namespace?: string;
  allNamespaces?: boolean;
  output: "table" | "json";
}

export interface AppStatusRow {
  namespace: string;
  name: string;
  revision: string;
  synced: string;
  drifted: string;
  health: string;
  message: string;
}

export function statusRow(app: GitApp): AppStatusRow {
  const synced = findCondition(app.status?.conditions, "Synced");
  const drifted = findCondition(app.status?.conditions, "Drifted");
  const ready = findCondition(app.status?.conditions, "Ready");
  const problem =
    synced?.status === "False"
      ? synced.message
      : drifted?.status === "True"
        ? drifted.message
        : ready?.status === "False"
          ? ready.message
          : "";
  return {
    namespace: app.metadata.namespace ?? "",
    name: app.metadata.name ?? "",
    revision: (app.status?.revision ?? "").slice(0, 7),
    synced: synced ? `${synced.status} (${synced.reason})` : "Unknown",
    drifted: drifted?.status ?? "Unknown",
    health: app.status?.health ?? "Unknown",
    message: problem,
  };
}

export function formatTable(rows: AppStatusRow[]): string {
  const header = ["NAMESPACE", "NAME", "REVISION", "SYNCED", "DRIFTED", "HEALTH", "MESSAGE"];
  const cells = rows.map((r) => [
    r.namespace,
    r.name,
    r.revision,
    r.synced,
    r.drifted,
    r.health,
    r.message.slice(0, 80),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: string[]): string =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const colour = (row: string[], text: string): string =>
    row[3]?.startsWith("False") ? paint.red(text) : row[4] === "True" ? paint.yellow(text) : text;
  return [paint.bold(line(header)), ...cells.map((c) => colour(c, line(c)))].join("\n");
}

export async function statusCommand(flags: StatusFlags): Promise<void> {
  const client = connect(flags.kubeconfig);
  try {
    const apps = await listGitApps(client, flags.allNamespaces ? undefined : flags.namespace);
    const rows = apps.map(statusRow);
    if (flags.output === "json") process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
    else process.stdout.write((rows.length ? formatTable(rows) : "No GitApps found.") + "\n");
  } finally {
    client.transport.close();
  }
}
