/**
 * Slack incoming-webhook messages in Block Kit. Limits respected here (Slack rejects the whole message
 * otherwise): header ≤ 150 chars, section text ≤ 3000, ≤ 10 fields of ≤ 2000, ≤ 50 blocks.
 */
import { redactDeep, redactText } from "../manifest/redact.js";
import type { AlertEvent } from "../manifest/event.js";
import {
  TITLES,
  describeActor,
  describeApp,
  describeObject,
  headline,
  otherSideLabel,
  renderGitSide,
  renderOtherSide,
  safeChanges,
  safeDetail,
  sourceLinks,
  truncate,
  type FormatContext,
} from "./text.js";

export interface SlackPlainText {
  type: "plain_text";
  text: string;
  emoji?: boolean;
}
export interface SlackMrkdwn {
  type: "mrkdwn";
  text: string;
}
export type SlackText = SlackPlainText | SlackMrkdwn;

export type SlackBlock =
  | { type: "header"; text: SlackPlainText }
  | { type: "section"; text?: SlackText; fields?: SlackMrkdwn[] }
  | { type: "context"; elements: SlackText[] }
  | { type: "divider" };

export interface SlackMessage {
  /** Fallback for notifications and clients that cannot show blocks. */
  text: string;
  blocks: SlackBlock[];
}

const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const HEADER_MAX = 150;
/** Diff sections per message: the rest is summarised, a chat alert is not a full report. */
const MAX_DIFF_SECTIONS = 8;

/**
 * Slack parses `<…>` as links/mentions and `&` as entities everywhere, even in code blocks. Credentials
 * are redacted first so the `<redacted>` marker is escaped too (unescaped, Slack would eat it as markup).
 */
export function escapeMrkdwn(text: string): string {
  return redactText(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Values go inside ``` blocks; a value containing ``` would end the block early. */
function inCode(text: string): string {
  return escapeMrkdwn(text.replace(/```/g, "`\u200b``"));
}

function field(label: string, value: string): SlackMrkdwn {
  return { type: "mrkdwn", text: truncate(`*${label}*\n${value}`, FIELD_MAX) };
}

function link(url: string | undefined, label: string): string {
  // `|` and `>` would end the link markup; our URLs are built from encoded parts, labels are escaped.
  return url ? `<${url}|${escapeMrkdwn(label)}>` : escapeMrkdwn(label);
}

function diffSections(event: AlertEvent): SlackBlock[] {
  const changes = safeChanges(event);
  if (changes.length === 0) return [];
  const other = otherSideLabel(event.type);
  const pad = other.length + 1;
  const entries = changes.map((c) =>
    inCode(
      `${truncate(c.path, 200)}\n  ${"git:".padEnd(pad)} ${renderGitSide(c)}\n  ${`${other}:`.padEnd(pad)} ${renderOtherSide(c)}`,
    ),
  );
  const title = `*Fields that differ from Git* (${changes.length})`;
  const sections: string[] = [];
  let current: string[] = [];
  let length = 0;
  let shown = 0;
  // Escaping can lengthen an entry; 2,400 leaves room for the title, fences and the "more" line.
  const budget = SECTION_MAX - 600;
  for (const entry of entries) {
    const piece = truncate(entry, budget);
    if (current.length > 0 && length + piece.length + 1 > budget) {
      sections.push(current.join("\n"));
      current = [];
      length = 0;
    }
    if (sections.length === MAX_DIFF_SECTIONS) break;
    current.push(piece);
    length += piece.length + 1;
    shown++;
  }
  if (current.length > 0) sections.push(current.join("\n"));
  const blocks: SlackBlock[] = sections.map((body, i) => ({
    type: "section",
    text: { type: "mrkdwn", text: `${i === 0 ? `${title}\n` : ""}\`\`\`${body}\`\`\`` },
  }));
  if (shown < changes.length) {
    blocks.push({
      type: "context",
      elements: [{ type: "mrkdwn", text: `…and ${changes.length - shown} more field(s) not shown.` }],
    });
  }
  return blocks;
}

function contextBlock(event: AlertEvent): SlackBlock {
  const links = sourceLinks(event);
  const parts: string[] = [];
  if (links.repo) parts.push(`Repo ${escapeMrkdwn(links.repo)}`);
  if (links.file) parts.push(`File \`${escapeMrkdwn(truncate(links.file, 300))}\``);
  if (links.shortSha) parts.push(`Commit ${link(links.url, links.shortSha)}`);
  parts.push(escapeMrkdwn(event.time));
  return { type: "context", elements: [{ type: "mrkdwn", text: truncate(parts.join(" · "), SECTION_MAX) }] };
}

export function slackPayload(event: AlertEvent, ctx: FormatContext): SlackMessage {
  const info = TITLES[event.type];
  const fields: SlackMrkdwn[] = [
    field("Cluster", escapeMrkdwn(event.cluster ?? ctx.clusterName)),
    field("GitApp", escapeMrkdwn(describeApp(event))),
  ];
  const object = describeObject(event);
  if (object) fields.push(field("Object", escapeMrkdwn(object)));
  if (event.actor) fields.push(field("Who", escapeMrkdwn(describeActor(event.actor))));
  if (event.operation) fields.push(field("Operation", event.operation));
  fields.push(field("What gitgate did", escapeMrkdwn(event.action)));

  const blocks: SlackBlock[] = [
    {
      type: "header",
      text: { type: "plain_text", text: truncate(`${info.emoji} ${info.title}`, HEADER_MAX), emoji: true },
    },
    { type: "section", fields },
    ...diffSections(event),
  ];
  const detail = safeDetail(event);
  if (detail)
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `\`\`\`${truncate(inCode(detail), SECTION_MAX - 6)}\`\`\`` },
    });
  blocks.push(contextBlock(event));
  return redactDeep({ text: headline(event, ctx), blocks });
}
