/** Turns a queued item into the exact HTTP body and headers for one channel type. */
import { randomUUID } from "node:crypto";
import type { ChannelConfig } from "./channel.js";
import type { AlertEvent } from "../manifest/event.js";
import { slackPayload } from "./slack.js";
import {
  HELD_BACK_TYPE,
  slackSummaryPayload,
  teamsSummaryPayload,
  webhookSummaryPayload,
  type HeldSummary,
} from "./summary.js";
import { teamsPayload } from "./teams.js";
import type { FormatContext } from "./text.js";
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signBody, webhookPayload } from "./webhook.js";

export type QueueItem = { kind: "event"; event: AlertEvent } | { kind: "summary"; summary: HeldSummary };

export function typeOf(item: QueueItem): string {
  return item.kind === "event" ? item.event.type : HELD_BACK_TYPE;
}

function payload(type: ChannelConfig["type"], ctx: FormatContext, item: QueueItem): unknown {
  if (item.kind === "summary") {
    if (type === "slack") return slackSummaryPayload(item.summary, ctx);
    if (type === "teams") return teamsSummaryPayload(item.summary, ctx);
    return webhookSummaryPayload(item.summary, ctx);
  }
  if (type === "slack") return slackPayload(item.event, ctx);
  if (type === "teams") return teamsPayload(item.event, ctx);
  return webhookPayload(item.event, ctx);
}

/** Built once per message: every retry resends the same bytes, signature and delivery id. */
export function buildRequest(
  channel: ChannelConfig,
  ctx: FormatContext,
  item: QueueItem,
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(payload(channel.type, ctx, item));
  const headers: Record<string, string> = { "user-agent": "gitgate-alerts" };
  if (channel.type === "webhook") {
    headers[EVENT_HEADER] = typeOf(item);
    // Same id on every retry, so receivers can drop a duplicate delivery.
    headers[DELIVERY_HEADER] = randomUUID();
    if (channel.secret) headers[SIGNATURE_HEADER] = signBody(body, channel.secret);
  }
  return { body, headers };
}
