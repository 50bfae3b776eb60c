/**
 * Kubernetes Events for GitApps, written off the reconcile's path (as client-go's recorder does):
 * a reconcile hands its Events over and moves on, so a slow API server costs the worker nothing.
 * Events are best effort: a bounded queue, the oldest dropped when full, never retried.
 */
import type { ClusterClient } from "../cluster/client.js";
import { GITAPP_API_VERSION, GITAPP_KIND, type GitApp } from "../api/gitapp.js";
import type { Logger } from "../log/logger.js";
import type { KubeObject } from "../manifest/object.js";
import type { KubeEventSpec } from "./outcome.js";
import { BackgroundWrites } from "../bounded/background-writes.js";

/** Events waiting to be written; past this the oldest go (a storm of reconciles, an API server down). */
const MAX_QUEUED = 1000;
/** Writes at once: enough to keep up with the workers, few enough not to crowd out the applies. */
const CONCURRENCY = 2;
/** An Event's message is cut here (kube-apiserver itself allows 1 KiB in `note` of events.k8s.io). */
const MAX_MESSAGE = 1000;

export function eventObject(app: GitApp, event: KubeEventSpec, now: Date, suffix: string): KubeObject {
  const at = now.toISOString();
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      name: `${app.metadata.name ?? "gitapp"}.${now.getTime().toString(16)}${suffix}`,
      namespace: app.metadata.namespace,
    },
    involvedObject: {
      apiVersion: GITAPP_API_VERSION,
      kind: GITAPP_KIND,
      name: app.metadata.name,
      namespace: app.metadata.namespace,
      uid: app.metadata.uid,
    },
    reason: event.reason,
    message: event.message.slice(0, MAX_MESSAGE),
    type: event.type,
    source: { component: "gitgate" },
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

export class EventRecorder {
  private sequence = 0;
  private readonly writes: BackgroundWrites<KubeObject>;

  constructor(client: ClusterClient, logger: Logger) {
    this.writes = new BackgroundWrites({
      concurrency: CONCURRENCY,
      max: MAX_QUEUED,
      write: (event) =>
        client.create(event).then(
          () => undefined,
          (err: unknown) => logger.debug({ err: String(err) }, "event not recorded"),
        ),
      onDrop: (dropped) => {
        if (dropped % 100 === 1) logger.warn({ dropped }, "events dropped: too many waiting");
      },
    });
  }

  record(app: GitApp, event: KubeEventSpec): void {
    // Unique within this process by the sequence, across replicas (a leader change) by the random part.
    const suffix = `${(this.sequence++).toString(16)}${Math.random().toString(16).slice(2, 6)}`;
    this.writes.add(eventObject(app, event, new Date(), suffix));
  }

  /** Resolves once every Event handed over is written or refused. */
  flushed(): Promise<void> {
    return this.writes.flushed();
  }
}
