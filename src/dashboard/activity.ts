/**
 * The gate-activity ring: the last N alert events of interest (denials, warnings, reverted drift,
 * break-glass), fed from the same AlertEvent stream the alert dispatcher gets. In memory and per
 * replica: each replica sees the admissions it answered itself. Each entry is also written as an
 * Event on the GitApp (activity-events.ts), from which the ring is filled again at startup.
 */
import type { AlertEvent, AlertEventType, AlertSink } from "../manifest/event.js";
import { isSecretValuePath, REDACTED, redactDeep } from "../manifest/redact.js";

/** The events the timeline shows: what someone tried to change, and what gitgate did about it. */
export const ACTIVITY_TYPES: ReadonlySet<AlertEventType> = new Set<AlertEventType>([
  "change-denied",
  "change-warned",
  "change-audited",
  "drift-reverted",
  "drift-found",
  "break-glass-used",
  "break-glass-expired",
]);

/** Longest text of one value kept in the ring (a hostile request can carry megabytes). */
const MAX_VALUE_CHARS = 512;
/** Most field changes kept per entry. */
const MAX_CHANGES = 20;

export interface ActivityEntry {
  /** Increasing per process: the client asks for what is newer than what it has. */
  seq: number;
  event: AlertEvent;
  /** Read back from a Kubernetes Event at startup (not written again). */
  restored?: boolean;
  /** How often this change happened, as the Event's count says (restored entries). */
  count?: number;
}

export class ActivityRing {
  private readonly entries: ActivityEntry[] = [];
  private seq = 0;
  private readonly listeners = new Set<(entry: ActivityEntry) => void>();

  constructor(private readonly capacity: number) {}

  /** Redacted, bounded copy of the event; the oldest entry goes when full. */
  push(event: AlertEvent): void {
    if (!ACTIVITY_TYPES.has(event.type)) return;
    this.add({ seq: ++this.seq, event: boundedEvent(event) });
  }

  /** An entry read back from its Event at startup. */
  restore(event: AlertEvent, count: number): void {
    if (!ACTIVITY_TYPES.has(event.type)) return;
    this.add({
      seq: ++this.seq,
      event: boundedEvent(event),
      restored: true,
      ...(count > 1 ? { count } : {}),
    });
  }

  private add(entry: ActivityEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    for (const listener of this.listeners) listener(entry);
  }

  /** Newest first. */
  list(): ActivityEntry[] {
    return [...this.entries].reverse();
  }

  get size(): number {
    return this.entries.length;
  }

  onEntry(listener: (entry: ActivityEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A sink that hands every event to `inner` and to the ring (the runtime's tee). */
export function teeAlerts(inner: AlertSink, ring: ActivityRing): AlertSink & { close?: () => Promise<void> } {
  const close = (inner as { close?: () => Promise<void> }).close;
  return {
    emit: (event) => {
      inner.emit(event);
      try {
        ring.push(event);
      } catch {
        // The dashboard must never break alerting.
      }
    },
    ...(close ? { close: () => close.call(inner) } : {}),
  };
}

function clip(value: unknown): unknown {
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : value;
}

/** What the ring keeps: redacted as alerts are (Secret values were already redacted by the diff). */
export function boundedEvent(event: AlertEvent): AlertEvent {
  const secret = event.object?.kind === "Secret" && event.object.group === "";
  const value = (path: string, v: unknown): unknown =>
    v !== undefined && secret && isSecretValuePath(path) ? REDACTED : clip(v);
  const changes = event.changes?.slice(0, MAX_CHANGES).map((c) => ({
    ...c,
    gitValue: value(c.path, c.gitValue),
    liveValue: value(c.path, c.liveValue),
  }));
  return redactDeep({
    ...event,
    ...(changes ? { changes } : {}),
    ...(event.detail ? { detail: event.detail.slice(0, 2 * MAX_VALUE_CHARS) } : {}),
  });
}
