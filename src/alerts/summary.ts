/**
 * Alerts held back by a channel's rate limit are counted here and later sent as one message
 * ("N more alerts held back: 3× change-denied on Deployment a/b by alice, …") so a storm never floods
 * a chat channel yet nobody is left unaware of it.
 */
import { redactDeep } from "../manifest/redact.js";
import type { AlertEvent } from "../manifest/event.js";
import { escapeMrkdwn, type SlackMessage } from "./slack.js";
import { teamsCard, teamsMessage, type TeamsMessage } from "./teams.js";
import { describeObject, truncate, type FormatContext } from "./text.js";
import { WEBHOOK_VERSION } from "./webhook.js";

export const HELD_BACK_TYPE = "alerts-held-back";

export interface HeldGroup {
  type: AlertEvent["type"];
  object?: string;
  actor?: string;
  app: string;
  count: number;
}

export interface HeldSummary {
  count: number;
  groups: HeldGroup[];
  /** Events counted but not itemised because the group table was full. */
  ungrouped: number;
  firstTime: string;
  lastTime: string;
}

/** Bounded memory during a storm of distinct events: beyond this many groups only the count grows. */
const MAX_GROUPS = 200;
const LISTED_GROUPS = 10;

export class HeldBack {
  private groups = new Map<string, HeldGroup>();
  private total = 0;
  private ungrouped = 0;
  private firstTime = "";
  private lastTime = "";

  get size(): number {
    return this.total;
  }

  add(event: AlertEvent): void {
    const object = describeObject(event);
    const actor = event.actor?.username;
    const app = `${event.app.namespace}/${event.app.name}`;
    const key = JSON.stringify([event.type, object, actor, app]);
    const group = this.groups.get(key);
    if (group) group.count++;
    else if (this.groups.size < MAX_GROUPS) {
      this.groups.set(key, {
        type: event.type,
        app,
        count: 1,
        ...(object ? { object } : {}),
        ...(actor ? { actor } : {}),
      });
    } else this.ungrouped++;
    if (this.total === 0) this.firstTime = event.time;
    this.lastTime = event.time;
    this.total++;
  }

  /** Returns what was held and starts over. */
  take(): HeldSummary | undefined {
    if (this.total === 0) return undefined;
    const summary: HeldSummary = {
      count: this.total,
      groups: [...this.groups.values()].sort((a, b) => b.count - a.count),
      ungrouped: this.ungrouped,
      firstTime: this.firstTime,
      lastTime: this.lastTime,
    };
    this.groups = new Map();
    this.total = 0;
    this.ungrouped = 0;
    return summary;
  }
}

function describeGroup(g: HeldGroup): string {
  const on = g.object ? ` on ${g.object}` : ` in GitApp ${g.app}`;
  const by = g.actor ? ` by ${g.actor}` : "";
  return `${g.count}× ${g.type}${on}${by}`;
}

/** `N more alerts held back: 3× change-denied on Deployment a/b by alice, …, and 12 others`. */
export function summaryText(summary: HeldSummary): string {
  const listed = summary.groups.slice(0, LISTED_GROUPS).map(describeGroup);
  const rest = summary.count - summary.groups.slice(0, LISTED_GROUPS).reduce((n, g) => n + g.count, 0);
  const tail = rest > 0 ? `, and ${rest} other(s)` : "";
  const noun = summary.count === 1 ? "alert" : "alerts";
  return `${summary.count} more ${noun} held back by the rate limit: ${listed.join(", ")}${tail}`;
}

export function slackSummaryPayload(summary: HeldSummary, ctx: FormatContext): SlackMessage {
  const text = summaryText(summary);
  return redactDeep({
    text: `[${ctx.clusterName}] ${text}`,
    blocks: [
      { type: "header", text: { type: "plain_text", text: ":mute: Alerts held back", emoji: true } },
      { type: "section", text: { type: "mrkdwn", text: truncate(escapeMrkdwn(text), 3000) } },
      {
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: escapeMrkdwn(`Cluster ${ctx.clusterName} · ${summary.firstTime} – ${summary.lastTime}`),
          },
        ],
      },
    ],
  });
}

export function teamsSummaryPayload(summary: HeldSummary, ctx: FormatContext): TeamsMessage {
  const text = summaryText(summary);
  const card = teamsCard([
    { type: "TextBlock", text: "🔇 Alerts held back", size: "Large", weight: "Bolder", wrap: true },
    { type: "TextBlock", text: truncate(text, 3000), wrap: true },
    {
      type: "FactSet",
      facts: [
        { title: "Cluster", value: ctx.clusterName },
        { title: "Period", value: `${summary.firstTime} – ${summary.lastTime}` },
      ],
    },
  ]);
  return redactDeep(teamsMessage(`[${ctx.clusterName}] ${text}`, card));
}

export interface WebhookSummaryDocument extends HeldSummary {
  version: typeof WEBHOOK_VERSION;
  type: typeof HELD_BACK_TYPE;
  cluster: string;
  summary: string;
}

export function webhookSummaryPayload(summary: HeldSummary, ctx: FormatContext): WebhookSummaryDocument {
  return redactDeep({
    version: WEBHOOK_VERSION,
    type: HELD_BACK_TYPE,
    cluster: ctx.clusterName,
    summary: summaryText(summary),
    ...summary,
  });
}
