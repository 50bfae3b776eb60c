/** What the rest of gitgate tells the alerting subsystem. Emitting never blocks and never throws. */
import type { AppRef, GitLocation } from "./desired.js";
import type { ObjectRef } from "./object.js";

export type AlertEventType =
  | "change-denied"
  | "change-warned"
  | "change-audited"
  | "drift-reverted"
  | "drift-found"
  | "break-glass-used"
  | "break-glass-expired"
  | "sync-failed"
  | "sync-recovered"
  | "prune-refused"
  | "health-degraded"
  | "health-recovered"
  /** Opt-in: only channels that list it in `events` get it. */
  | "sync-succeeded";

/** Types a channel gets only when its `events` names them (routine news, not incidents). */
export const OPT_IN_EVENTS: ReadonlySet<AlertEventType> = new Set<AlertEventType>(["sync-succeeded"]);

export interface Actor {
  username: string;
  groups?: string[];
  /** Where the identity came from: the admission request, or managedFields of the live object. */
  via: "admission" | "managedFields" | "unknown";
}

export interface FieldChange {
  /** Dotted path with list selectors, e.g. `spec.template.spec.containers[name=web].image`. */
  path: string;
  /** Value in Git (undefined: not declared / absent). */
  gitValue?: unknown;
  /** Value requested by the change or found live (undefined: removed). */
  liveValue?: unknown;
  /** A field Git does not declare at all (an addition outside Git), rather than a different value. */
  undeclared?: boolean;
  /** Who wrote it, when known from managedFields (drift only): a field manager name. */
  manager?: string;
}

export interface AlertEvent {
  type: AlertEventType;
  /** RFC 3339. */
  time: string;
  app: AppRef;
  object?: ObjectRef;
  actor?: Actor;
  changes?: FieldChange[];
  source?: Partial<GitLocation>;
  /** What gitgate did, in one sentence ("Denied the request.", "Reverted to the Git value."). */
  action: string;
  /** Free-text detail (error message for sync failures). Redacted before delivery. */
  detail?: string;
  /** Operation on the object when it came from admission. */
  operation?: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  /** The registered cluster it happened on (spec.destination.cluster); absent: gitgate's own. */
  cluster?: string;
}

/**
 * What makes two alert events one change, as JSON: type, app, object, actor, operation, the
 * fields with both values and the cluster — not the time. The admission repeat filter and the activity Events'
 * names both key on it.
 */
export function changeIdentity(event: AlertEvent): string {
  return JSON.stringify([
    event.type,
    event.app.namespace,
    event.app.name,
    event.object ? [event.object.group, event.object.kind, event.object.namespace, event.object.name] : null,
    event.actor?.username ?? null,
    event.operation ?? null,
    (event.changes ?? []).map((c) => [c.path, c.gitValue ?? null, c.liveValue ?? null]),
    event.cluster ?? null,
  ]);
}

export interface AlertSink {
  emit(event: AlertEvent): void;
}

/** For contexts with alerting disabled. */
export const discardAlerts: AlertSink = { emit: () => undefined };
