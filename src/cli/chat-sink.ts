/** Prints gitgate's generic-webhook alerts as one readable block in the terminal (`gitgate dev`). */
import { paint } from "./style.js";

interface Payload {
  type?: string;
  app?: { namespace?: string; name?: string };
  object?: { kind?: string; namespace?: string; name?: string };
  actor?: { username?: string; via?: string };
  changes?: Array<{ path?: string; gitValue?: unknown; liveValue?: unknown }>;
  source?: { repoURL?: string; file?: string; commit?: string };
  action?: string;
  detail?: string;
}

const show = (v: unknown): string => (v === undefined ? "(absent)" : JSON.stringify(v));

export function formatChatLine(body: string): string {
  let p: Payload;
  try {
    p = JSON.parse(body) as Payload;
  } catch {
    return `${paint.yellow("[alert]")} ${body.slice(0, 500)}`;
  }
  const obj = p.object
    ? `${p.object.kind ?? ""} ${p.object.namespace ? `${p.object.namespace}/` : ""}${p.object.name ?? ""}`
    : `GitApp ${p.app?.namespace ?? ""}/${p.app?.name ?? ""}`;
  const who = p.actor?.username ? ` by ${p.actor.username}` : "";
  const lines = [`${paint.yellow(`[alert] ${p.type ?? "event"}`)} ${obj}${who}: ${p.action ?? ""}`];
  for (const c of p.changes ?? [])
    lines.push(`        ${c.path ?? ""}: Git ${show(c.gitValue)}, cluster ${show(c.liveValue)}`);
  if (p.source?.file)
    lines.push(
      `        ${paint.dim(`${p.source.repoURL ?? ""} ${p.source.file}@${(p.source.commit ?? "").slice(0, 7)}`)}`,
    );
  if (p.detail) lines.push(`        ${paint.dim(p.detail.slice(0, 300))}`);
  return lines.join("\n");
}

export function printChatLine(body: string): void {
  process.stdout.write(formatChatLine(body) + "\n");
}
