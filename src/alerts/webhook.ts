/**
 * The generic webhook document: the event itself plus the cluster, versioned so receivers can rely on
 * its shape. Signed like GitHub webhooks so receivers can check it came from this gitgate.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { redactDeep } from "../manifest/redact.js";
import type { AlertEvent, FieldChange } from "../manifest/event.js";
import {
  TITLES,
  cleanRepoURL,
  headline,
  renderValue,
  safeChanges,
  safeDetail,
  sourceLinks,
  type FormatContext,
} from "./text.js";

export const WEBHOOK_VERSION = "gitgate.io/v1";
export const SIGNATURE_HEADER = "X-Gitgate-Signature-256";
export const EVENT_HEADER = "X-Gitgate-Event";
export const DELIVERY_HEADER = "X-Gitgate-Delivery";

export interface WebhookDocument extends AlertEvent {
  version: typeof WEBHOOK_VERSION;
  cluster: string;
  title: string;
  summary: string;
  /** Browsable link to the Git file at the commit, when the host is GitHub or GitLab. */
  sourceURL?: string;
}

/**
 * Machines get the raw JSON values, not the chat rendering; only a value so large it would bloat every
 * delivery is replaced by its truncated compact rendering.
 */
const MAX_RAW_VALUE_JSON = 4000;

function boundedValue(value: unknown): unknown {
  if (value === undefined) return undefined;
  let size: number;
  try {
    size = JSON.stringify(value)?.length ?? 0;
  } catch {
    return renderValue(value);
  }
  return size > MAX_RAW_VALUE_JSON ? renderValue(value, 1000) : value;
}

function boundedChanges(changes: FieldChange[]): FieldChange[] {
  return changes.map((c) => ({
    path: c.path,
    ...(c.gitValue === undefined ? {} : { gitValue: boundedValue(c.gitValue) }),
    ...(c.liveValue === undefined ? {} : { liveValue: boundedValue(c.liveValue) }),
    ...(c.undeclared ? { undeclared: true } : {}),
    ...(c.manager ? { manager: c.manager } : {}),
  }));
}

export function webhookPayload(event: AlertEvent, ctx: FormatContext): WebhookDocument {
  const { changes: _changes, detail: _detail, ...rest } = event;
  const changes = event.changes ? boundedChanges(safeChanges(event)) : undefined;
  const detail = safeDetail(event);
  const url = sourceLinks(event).url;
  const source = event.source?.repoURL
    ? { ...event.source, repoURL: cleanRepoURL(event.source.repoURL) }
    : event.source;
  const doc: WebhookDocument = {
    version: WEBHOOK_VERSION,
    ...rest,
    ...(source ? { source } : {}),
    ...(changes ? { changes } : {}),
    ...(detail ? { detail } : {}),
    cluster: event.cluster ?? ctx.clusterName,
    title: TITLES[event.type].title,
    summary: headline(event, ctx),
    ...(url ? { sourceURL: url } : {}),
  };
  return redactDeep(doc);
}

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** For receivers (and tests): constant-time check of a signature header against the body. */
export function verifySignature(body: string, secret: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
