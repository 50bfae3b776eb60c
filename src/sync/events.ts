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
  private readonly queue: KubeObject[] = [];
  private running = 0;
  private dropped = 0;
  private sequence = 0;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly client: ClusterClient,
    private readonly logger: Logger,
  ) {}

  record(app: GitApp, event: KubeEventSpec): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.queue.shift();
      if (this.dropped++ % 100 === 0)
        this.logger.warn({ dropped: this.dropped }, "events dropped: too many waiting");
    }
    // Unique within this process by the sequence, across replicas (a leader change) by the random part.
    const suffix = `${(this.sequence++).toString(16)}${Math.random().toString(16).slice(2, 6)}`;
    this.queue.push(eventObject(app, event, new Date(), suffix));
    this.pump();
  }

  /** Resolves once every Event handed over is written or refused. */
  flushed(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.running < CONCURRENCY && this.queue.length > 0) {
      const event = this.queue.shift() as KubeObject;
      this.running++;
      void this.client
        .create(event)
        .catch((err: unknown) => this.logger.debug({ err: String(err) }, "event not recorded"))
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queue.length === 0) for (const done of this.idle.splice(0)) done();
        });
    }
  }
}
