/**
 * The gate activity also kept as Kubernetes Events on the GitApp, so that the dashboard's timeline
 * survives a restart: each activity entry becomes an Event named after what changed (type, object,
 * actor, fields), so a repeat raises its `count` and `lastTimestamp` instead of adding an Event;
 * at startup the ring is filled from those Events. The entry rides in an annotation, already
 * bounded and redacted by the ring (no Secret values), and capped again here. kube-apiserver
 * expires Events after its --event-ttl (1 h by default): the timeline outlives a restart, not that.
 * Anyone who may create Events in the namespace could write one that looks like ours: with a key
 * (derived from the webhook CA's private key) each entry carries an HMAC, and an Event without a
 * valid one is not read back.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { GITAPP_API_VERSION, GITAPP_KIND } from "../api/gitapp.js";
import type { ClusterClient } from "../cluster/client.js";
import type { Logger } from "../log/logger.js";
import { changeIdentity, type AlertEvent } from "../manifest/event.js";
import { isPlainObject, type KubeObject } from "../manifest/object.js";
import { redactText } from "../manifest/redact.js";
import { ACTIVITY_TYPES, boundedEvent, type ActivityRing } from "./activity.js";
import { BackgroundWrites } from "../bounded/background-writes.js";

export const ACTIVITY_LABEL = "gitgate.io/activity";
export const ACTIVITY_ANNOTATION = "gitgate.io/activity-entry";
export const ACTIVITY_MAC_ANNOTATION = "gitgate.io/activity-mac";
/** Largest entry kept in the annotation (well under the 256 KiB annotation limit). */
const MAX_ENTRY_CHARS = 16 * 1024;
/** Events read at startup (one page). */
const MAX_RESTORED = 1000;
/** Writes waiting; beyond that the oldest are not written (the ring still shows them). */
const MAX_PENDING = 200;

const REASONS: Record<string, string> = {
  "change-denied": "ChangeDenied",
  "change-warned": "ChangeWarned",
  "change-audited": "ChangeAudited",
  "drift-reverted": "DriftReverted",
  "drift-found": "DriftFound",
  "break-glass-used": "BreakGlassUsed",
  "break-glass-expired": "BreakGlassExpired",
};

/** Same change, same Event: the name hashes what makes two entries one (not their time). */
export function activityEventName(event: AlertEvent): string {
  const hash = createHash("sha256").update(changeIdentity(event)).digest("hex").slice(0, 24);
  return `gitgate-activity.${hash}`;
}

/** The annotation's JSON: the bounded entry; past the cap, without the field values. */
export function entryJson(event: AlertEvent): string {
  const bounded = boundedEvent(event);
  const full = JSON.stringify(bounded);
  if (full.length <= MAX_ENTRY_CHARS) return full;
  const paths = (bounded.changes ?? []).map((c) => ({ path: c.path.slice(0, 256) }));
  return JSON.stringify({ ...bounded, changes: paths, detail: bounded.detail?.slice(0, 256) }).slice(
    0,
    MAX_ENTRY_CHARS,
  );
}

function summary(event: AlertEvent): string {
  const who = event.actor?.username ?? "someone";
  const what = event.object
    ? `${event.object.kind} ${event.object.namespace}/${event.object.name}`
    : "the app";
  const fields = (event.changes ?? [])
    .map((c) => c.path)
    .slice(0, 5)
    .join(", ");
  return redactText(`${event.action} ${who} on ${what}${fields ? `: ${fields}` : ""}`).slice(0, 1000);
}

function macOf(key: string, namespace: string, json: string): string {
  return createHmac("sha256", key).update(`${namespace}\n${json}`).digest("base64url");
}

function validMac(key: string, namespace: string, json: string, mac: unknown): boolean {
  if (typeof mac !== "string" || mac.length > 100) return false;
  const want = Buffer.from(macOf(key, namespace, json));
  const got = Buffer.from(mac);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The core/v1 Event for a new activity entry (signed when there is a key). */
export function activityEvent(event: AlertEvent, now: string, key?: string): KubeObject {
  const json = entryJson(event);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      name: activityEventName(event),
      namespace: event.app.namespace,
      labels: { [ACTIVITY_LABEL]: "true" },
      annotations: {
        [ACTIVITY_ANNOTATION]: json,
        ...(key ? { [ACTIVITY_MAC_ANNOTATION]: macOf(key, event.app.namespace, json) } : {}),
      },
    },
    involvedObject: {
      apiVersion: GITAPP_API_VERSION,
      kind: GITAPP_KIND,
      namespace: event.app.namespace,
      name: event.app.name,
    },
    reason: REASONS[event.type] ?? "Activity",
    message: summary(event),
    type: event.type === "change-audited" || event.type === "break-glass-expired" ? "Normal" : "Warning",
    source: { component: "gitgate" },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** An Event read back: the entry it carries (time = its last occurrence), or undefined if not ours. */
export function entryOfEvent(obj: unknown, key?: string): { event: AlertEvent; count: number } | undefined {
  if (!isPlainObject(obj) || !isPlainObject(obj.metadata)) return undefined;
  const annotations = isPlainObject(obj.metadata.annotations) ? obj.metadata.annotations : {};
  const text = annotations[ACTIVITY_ANNOTATION];
  if (typeof text !== "string" || text.length > MAX_ENTRY_CHARS) return undefined;
  const namespace = typeof obj.metadata.namespace === "string" ? obj.metadata.namespace : "";
  if (key && !validMac(key, namespace, text, annotations[ACTIVITY_MAC_ANNOTATION])) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlainObject(parsed) || typeof parsed.type !== "string" || !isPlainObject(parsed.app))
    return undefined;
  const event = parsed as unknown as AlertEvent;
  if (!ACTIVITY_TYPES.has(event.type)) return undefined;
  if (typeof event.app.namespace !== "string" || typeof event.app.name !== "string") return undefined;
  // The Event's namespace is the app's: an entry claiming another app's namespace is not shown.
  if (obj.metadata.namespace !== event.app.namespace) return undefined;
  const last = typeof obj.lastTimestamp === "string" ? obj.lastTimestamp : event.time;
  const count = typeof obj.count === "number" && obj.count > 0 ? Math.min(obj.count, 1e9) : 1;
  return { event: boundedEvent({ ...event, time: last }), count };
}

/** Fills the ring from the Events (oldest first, so the newest end up newest). */
export async function restoreActivity(
  client: ClusterClient,
  ring: ActivityRing,
  logger: Logger,
  key?: string,
): Promise<number> {
  const res = await client.raw({
    method: "GET",
    path: "/api/v1/events",
    query: { labelSelector: `${ACTIVITY_LABEL}=true`, limit: MAX_RESTORED },
    timeoutMs: 10_000,
  });
  if (res.status !== 200) {
    logger.warn({ status: res.status }, "could not read the gate activity Events: the timeline starts empty");
    return 0;
  }
  const items = isPlainObject(res.body) && Array.isArray(res.body.items) ? res.body.items : [];
  const entries = items
    .map((item) => entryOfEvent(item, key))
    .filter((e): e is { event: AlertEvent; count: number } => e !== undefined)
    .sort((a, b) => a.event.time.localeCompare(b.event.time));
  for (const { event, count } of entries) ring.restore(event, count);
  return entries.length;
}

/** Writes each new ring entry as an Event (or counts it on the existing one), one at a time. */
export class ActivityEventWriter {
  private readonly writes = new BackgroundWrites<AlertEvent>({
    concurrency: 1,
    max: MAX_PENDING,
    write: (event) => this.write(event),
  });

  constructor(
    private readonly client: ClusterClient,
    private readonly logger: Logger,
    private readonly key?: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  record(event: AlertEvent): void {
    this.writes.add(event);
  }

  /** Resolves once every queued write was tried. */
  flushed(): Promise<void> {
    return this.writes.flushed();
  }

  /** Drops what is queued and waits for the write under way (stop: the API server may go next). */
  close(): Promise<void> {
    return this.writes.close();
  }

  private async write(event: AlertEvent): Promise<void> {
    const now = this.now().toISOString();
    const obj = activityEvent(event, now, this.key);
    try {
      const res = await this.client.raw({
        method: "POST",
        path: `/api/v1/namespaces/${event.app.namespace}/events`,
        body: obj,
        timeoutMs: 5000,
      });
      if (res.status === 201 || res.status === 200) return;
      if (res.status !== 409) throw new Error(`status ${res.status}`);
      await this.count(event, now);
    } catch (err) {
      this.logger.debug({ app: event.app, err: String(err).slice(0, 300) }, "activity Event not recorded");
    }
  }

  /** The same change again: one more on the existing Event's count (its series). */
  private async count(event: AlertEvent, now: string): Promise<void> {
    const path = `/api/v1/namespaces/${event.app.namespace}/events/${activityEventName(event)}`;
    const got = await this.client.raw({ method: "GET", path, timeoutMs: 5000 });
    const current = isPlainObject(got.body) && typeof got.body.count === "number" ? got.body.count : 1;
    const res = await this.client.raw({
      method: "PATCH",
      path,
      contentType: "application/merge-patch+json",
      body: { count: current + 1, lastTimestamp: now },
      timeoutMs: 5000,
    });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
  }
}
