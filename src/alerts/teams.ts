/**
 * Microsoft Teams messages for Workflows ("Post to a channel when a webhook request is received"): a
 * `message` with one Adaptive Card attachment. The retired Office 365 connector MessageCard format is
 * deliberately not produced. Card version 1.4 is what Teams renders everywhere (desktop, web, mobile).
 */
import { redactDeep } from "../manifest/redact.js";
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
  type Severity,
} from "./text.js";

export interface TextBlock {
  type: "TextBlock";
  text: string;
  wrap?: boolean;
  size?: "Small" | "Default" | "Medium" | "Large";
  weight?: "Lighter" | "Default" | "Bolder";
  color?: "Default" | "Attention" | "Warning" | "Good" | "Accent";
  fontType?: "Default" | "Monospace";
  isSubtle?: boolean;
  separator?: boolean;
  spacing?: "None" | "Small" | "Default" | "Medium";
}
export interface FactSet {
  type: "FactSet";
  facts: Array<{ title: string; value: string }>;
}
export interface Column {
  type: "Column";
  width?: "auto" | "stretch" | `${number}px`;
  items: CardElement[];
}
export interface ColumnSet {
  type: "ColumnSet";
  columns: Column[];
  separator?: boolean;
}
export type CardElement = TextBlock | FactSet | ColumnSet;

export interface OpenUrlAction {
  type: "Action.OpenUrl";
  title: string;
  url: string;
}

export interface AdaptiveCard {
  $schema: "http://adaptivecards.io/schemas/adaptive-card.json";
  type: "AdaptiveCard";
  version: "1.4";
  body: CardElement[];
  actions?: OpenUrlAction[];
  /** Teams extension: use the full channel width, the diff table needs it. */
  msteams?: { width: "Full" };
}

export interface TeamsMessage {
  type: "message";
  /** Shown in notifications and the activity feed. */
  summary?: string;
  attachments: Array<{
    contentType: "application/vnd.microsoft.card.adaptive";
    contentUrl: null;
    content: AdaptiveCard;
  }>;
}

/** Teams rejects very large cards (~28 KB); 15 rows of ≤ 3 × 200 chars stays well inside. */
const MAX_DIFF_ROWS = 15;

const COLORS: Record<Severity, TextBlock["color"]> = {
  attention: "Attention",
  warning: "Warning",
  good: "Good",
  accent: "Accent",
};

function cell(text: string, bold = false): Column {
  return {
    type: "Column",
    width: "stretch",
    items: [
      { type: "TextBlock", text, wrap: true, ...(bold ? { weight: "Bolder" } : { fontType: "Monospace" }) },
    ],
  };
}

function diffElements(event: AlertEvent): CardElement[] {
  const changes = safeChanges(event);
  if (changes.length === 0) return [];
  const other = otherSideLabel(event.type);
  const rows: CardElement[] = [
    {
      type: "TextBlock",
      text: `Fields that differ from Git (${changes.length})`,
      weight: "Bolder",
      wrap: true,
      separator: true,
    },
    {
      type: "ColumnSet",
      columns: [
        cell("Field", true),
        cell("Git value", true),
        cell(other === "live" ? "Live value" : "Requested value", true),
      ],
    },
  ];
  for (const c of changes.slice(0, MAX_DIFF_ROWS)) {
    rows.push({
      type: "ColumnSet",
      separator: true,
      columns: [cell(truncate(c.path, 200)), cell(renderGitSide(c)), cell(renderOtherSide(c))],
    });
  }
  if (changes.length > MAX_DIFF_ROWS) {
    rows.push({
      type: "TextBlock",
      text: `…and ${changes.length - MAX_DIFF_ROWS} more field(s) not shown.`,
      isSubtle: true,
      wrap: true,
    });
  }
  return rows;
}

function facts(event: AlertEvent, ctx: FormatContext): FactSet {
  const list: FactSet["facts"] = [
    { title: "Cluster", value: event.cluster ?? ctx.clusterName },
    { title: "GitApp", value: describeApp(event) },
  ];
  const object = describeObject(event);
  if (object) list.push({ title: "Object", value: object });
  if (event.actor) list.push({ title: "Who", value: describeActor(event.actor) });
  if (event.operation) list.push({ title: "Operation", value: event.operation });
  list.push({ title: "What gitgate did", value: event.action });
  const links = sourceLinks(event);
  if (links.repo) list.push({ title: "Repo", value: links.repo });
  if (links.file) list.push({ title: "File", value: truncate(links.file, 300) });
  if (links.shortSha) {
    list.push({ title: "Commit", value: links.url ? `[${links.shortSha}](${links.url})` : links.shortSha });
  }
  list.push({ title: "Time", value: event.time });
  return { type: "FactSet", facts: list };
}

export function teamsCard(body: CardElement[], actions?: OpenUrlAction[]): AdaptiveCard {
  return {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    body,
    ...(actions && actions.length > 0 ? { actions } : {}),
    msteams: { width: "Full" },
  };
}

export function teamsMessage(summary: string, card: AdaptiveCard): TeamsMessage {
  return {
    type: "message",
    summary: truncate(summary, 250),
    attachments: [
      { contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card },
    ],
  };
}

export function teamsPayload(event: AlertEvent, ctx: FormatContext): TeamsMessage {
  const info = TITLES[event.type];
  const body: CardElement[] = [
    {
      type: "TextBlock",
      text: `${info.unicode} ${info.title}`,
      size: "Large",
      weight: "Bolder",
      color: COLORS[info.severity],
      wrap: true,
    },
    facts(event, ctx),
    ...diffElements(event),
  ];
  const detail = safeDetail(event);
  if (detail)
    body.push({ type: "TextBlock", text: detail, wrap: true, fontType: "Monospace", separator: true });
  const url = sourceLinks(event).url;
  const actions: OpenUrlAction[] = url ? [{ type: "Action.OpenUrl", title: "Open in Git", url }] : [];
  return redactDeep(teamsMessage(headline(event, ctx), teamsCard(body, actions)));
}
