/** `gitgate status`: GitApps with revision, sync, drift and health state. */
import { findCondition } from "../sync/conditions.js";
import type { GitApp } from "../api/gitapp.js";
import { APPSET_LABEL } from "../api/gitappset.js";
import { connect, listGitApps } from "./context.js";
import { paint } from "./style.js";

export interface StatusFlags {
  kubeconfig?: string;
  namespace?: string;
  allNamespaces?: boolean;
  /** One row per GitApp with its destination cluster (the hub: "in-cluster") and whether it answers. */
  fleet?: boolean;
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

/** A row of `status --fleet`: the app's row with its set, where it goes and whether that cluster answers. */
export interface FleetRow extends AppStatusRow {
  /** The GitAppSet that generated it (its label), or "-". */
  set: string;
  cluster: string;
  /** "yes", "no", or "-" for the cluster gitgate runs in. */
  reachable: string;
}

export function fleetRow(app: GitApp): FleetRow {
  const cluster = app.spec.destination?.cluster;
  const connection = app.status?.cluster;
  return {
    ...statusRow(app),
    set: app.metadata.labels?.[APPSET_LABEL] || "-",
    cluster: cluster ?? "in-cluster",
    reachable: !cluster ? "-" : connection ? (connection.reachable ? "yes" : "no") : "unknown",
  };
}

/**
 * Grouped by set (namespace, then set name; GitApps of no set last), then by cluster: what each
 * environment of a set runs, side by side.
 */
export function fleetRows(apps: GitApp[]): FleetRow[] {
  const group = (r: FleetRow): string => (r.set === "-" ? "\u0001" : `\u0000${r.namespace}\u0000${r.set}`);
  const key = (r: FleetRow): string => `${group(r)}\u0000${r.cluster}\u0000${r.namespace}\u0000${r.name}`;
  return apps.map(fleetRow).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const TABLE_HEADER = ["NAMESPACE", "NAME", "REVISION", "SYNCED", "DRIFTED", "HEALTH", "MESSAGE"];
const FLEET_HEADER = ["SET", "CLUSTER", "REACHABLE", ...TABLE_HEADER];

export function formatTable(rows: AppStatusRow[] | FleetRow[], fleet = false): string {
  const header = fleet ? FLEET_HEADER : TABLE_HEADER;
  const offset = fleet ? 3 : 0;
  const cells = rows.map((r) => [
    ...(fleet ? [(r as FleetRow).set, (r as FleetRow).cluster, (r as FleetRow).reachable] : []),
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
    row[3 + offset]?.startsWith("False")
      ? paint.red(text)
      : row[4 + offset] === "True"
        ? paint.yellow(text)
        : text;
  return [paint.bold(line(header)), ...cells.map((c) => colour(c, line(c)))].join("\n");
}

export async function statusCommand(flags: StatusFlags): Promise<void> {
  const client = connect(flags.kubeconfig);
  try {
    const apps = await listGitApps(client, flags.allNamespaces ? undefined : flags.namespace);
    const rows = flags.fleet ? fleetRows(apps) : apps.map(statusRow);
    if (flags.output === "json") process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
    else process.stdout.write((rows.length ? formatTable(rows, flags.fleet) : "No GitApps found.") + "\n");
  } finally {
    client.transport.close();
  }
}
