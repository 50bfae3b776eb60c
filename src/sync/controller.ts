/**
 * The reconciler's control loop: watches GitApps, queues reconciles (one at a time per app, a
 * bounded number at once), and triggers them on spec changes, intervals, pushes, drift and
 * break-glass expiry. Writes status, Events and alerts only as leader.
 */
import { additionsOf } from "../diff/managed-fields.js";
import type { AlertEvent } from "../manifest/event.js";
import { Informer, type WatchEventType } from "../cluster/watch.js";
import { classOf, messageOf } from "../errors.js";
import { diffDeclared } from "../diff/index.js";
import { objectKey, type KubeObject } from "../manifest/object.js";
import type { GateForSync } from "../gate/gate.js";
import type { Hold } from "../gate/holds.js";
import type { AppRef } from "../manifest/desired.js";
import {
  appKey,
  CASCADE_FINALIZER,
  destinationCluster,
  type ClusterConnection,
  effectiveSpec,
  GITAPP_API_VERSION,
  GITAPP_KIND,
  type GitApp,
} from "../api/gitapp.js";
import { cascadeDelete, finalizerWanted, setFinalizer } from "./cascade.js";
import { operationPatch } from "./hooks.js";
import { LiveState } from "./live.js";
import { composeOutcome, type Outcome } from "./outcome.js";
import { statusWriteNeeded } from "./status-write.js";
import {
  forgetRender,
  reconcile,
  type ReconcileContext,
  type ReconcileDeps,
  type Role,
} from "./reconcile.js";
import { EventRecorder } from "./events.js";
import { within } from "../bounded/within.js";
import { PushPace } from "./push-pace.js";
import { healthUpdate } from "./health-refresh.js";
import { WorkQueue } from "./queue.js";
import { readsRepo } from "./reads-repo.js";
import { changedByPush, changedFirst, pushedFiles } from "./changed-first.js";
import { afterStatusWrite, afterWatchEvent, GitApps } from "./apps.js";
import { StartupReadiness } from "./startup-readiness.js";
import { primeDepsOf, primeIndex } from "./prime.js";
import type { ClusterClient } from "../cluster/client.js";

/** Whether this replica leads now (only the leader writes); it can change at any time. */
/** At most one health write per app this often when only the Ready message changes. */
const HEALTH_MESSAGE_PACE_MS = 5_000;
/** Renders at once while priming the index at start: reading a cached worktree is I/O, parsing is CPU. */
const PRIME_CONCURRENCY = 8;
/** The longest the queue waits for the index to be primed at start (a slow Git server, an empty cache). */
const PRIME_HOLD_MS = 15_000;

export interface Leadership {
  isLeader(): boolean;
}

export interface ControllerOptions extends Omit<ReconcileDeps, "live" | "appExists" | "stillLeading"> {
  leadership: Leadership;
  /** Where the GitApps seen by the watch are kept (shared read-only with alert routing). */
  apps?: GitApps;
  /** Sameness of repo URLs for push triggers. */
  sameRepo: (a: string, b: string) => boolean;
  workers?: number;
  /**
   * Where GitApps, their status and Events live (the cluster gitgate runs in); `client` is the
   * destination the objects go to. Absent: the same cluster.
   */
  hub?: ClusterClient;
  /** Which GitApps this controller syncs (a registered cluster's own controller); absent: those naming none. */
  serves?: (app: GitApp) => boolean;
  /** The destination's connection, written into each status this controller publishes. */
  connection?: () => ClusterConnection | undefined;
}

export class Controller {
  private readonly live: LiveState;
  private readonly apps: GitApps;
  private readonly queue: WorkQueue;
  private readonly pushPace: PushPace;
  /** Apps whose health is to be judged again shortly (a managed object's status changed). */
  private readonly healthTimers = new Map<string, NodeJS.Timeout>();
  /** When each app's health was last written by a refresh (pacing message-only writes). */
  private readonly healthWrites = new Map<string, number>();
  /** Set by stop(): a reconcile that finishes afterwards neither publishes nor logs its result. */
  private stopping = false;
  private informer?: Informer;
  private readonly deps: ReconcileDeps;
  /** Where GitApps, status and Events are read and written. */
  private readonly hub: ClusterClient;
  private readonly serves: (app: GitApp) => boolean;
  private readonly readiness = new StartupReadiness();
  private readonly events: EventRecorder;
  /** Last reconcile per app, for tests and `gitgate status`. */
  readonly lastResult = new Map<string, ReconcileContext>();

  constructor(private readonly opts: ControllerOptions) {
    this.apps = opts.apps ?? new GitApps();
    this.hub = opts.hub ?? opts.client;
    this.events = new EventRecorder(this.hub, opts.logger);
    this.serves = opts.serves ?? ((app) => destinationCluster(app) === undefined);
    opts.gate.onHoldExpired((hold) => this.onHoldExpired(hold));
    this.live = new LiveState(opts.client, opts.logger, (type, obj) => this.onLiveChange(type, obj));
    this.deps = {
      ...opts,
      live: this.live,
      appExists: (app) => this.apps.has(appKey(app)),
      stillLeading: () => this.isLeader(),
    };
    this.queue = new WorkQueue((key) => this.process(key), opts.workers ?? 4, opts.logger);
    this.pushPace = new PushPace(opts.settings.minIntervalMs);
  }

  async start(): Promise<void> {
    // The first reconciles wait while the index is primed (bounded): each would fetch and render
    // the app again, slowing the renders readiness waits for (prime.ts).
    this.queue.hold();
    this.informer = new Informer(
      this.hub,
      { apiVersion: GITAPP_API_VERSION, kind: GITAPP_KIND },
      (type, obj) => this.onGitApp(type, obj as GitApp),
      this.opts.logger,
    );
    this.informer.start();
    // A CRD still being established (404) or a restarting API server is waited out; no permission
    // to list GitApps is a start-up error worth stopping for.
    for (;;) {
      try {
        await this.informer.hasSynced();
        this.readiness.listed(this.apps.keys());
        const primed = this.prime();
        const release = setTimeout(() => this.queue.release(), PRIME_HOLD_MS);
        release.unref();
        void primed.finally(() => {
          clearTimeout(release);
          this.queue.release();
        });
        return;
      } catch (err) {
        if (classOf(err) === "terminal") throw err;
        this.opts.logger.warn({ err: messageOf(err) }, "listing GitApps failed; retrying");
      }
    }
  }

  stop(): void {
    this.stopping = true;
    for (const timer of this.healthTimers.values()) clearTimeout(timer);
    this.healthTimers.clear();
    this.informer?.stop();
    this.live.stop();
    this.queue.stop();
  }

  /**
   * After stop: waits (bounded) for reconciles still running, so that nothing of this controller
   * talks to the API server once its caller goes on to close the connection or the cluster.
   */
  async drained(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.queue.drained(timeoutMs);
    // Events and renders still being written would otherwise reach a connection or a cache
    // directory the caller removes next.
    await within(
      Promise.all([this.events.flushed(), this.deps.renderStore?.flushed()]),
      deadline - Date.now(),
    );
  }

  /** Indexes every listed app at its recorded revision ahead of the queue (prime.ts). */
  private async prime(): Promise<void> {
    const apps = [...this.apps.values()];
    if (apps.length === 0) return;
    try {
      const result = await primeIndex(
        apps,
        primeDepsOf(this.deps, this.index, {
          wanted: (key) => !this.stopping && this.apps.has(key),
          concurrency: PRIME_CONCURRENCY,
        }),
      );
      if (!this.stopping) this.opts.logger.info({ apps: apps.length, ...result }, "index primed");
    } catch (err) {
      // Only a head start: the reconciles index every app anyway.
      this.opts.logger.warn({ err: messageOf(err) }, "priming the index failed");
    }
  }

  /**
   * Whether every GitApp listed at start has been rendered (or attempted) since: the admission
   * webhook's readiness (startup-readiness.ts). False until start() has listed the GitApps.
   */
  isReady(): boolean {
    return this.readiness.isReady(
      (key) => this.index.wasRendered(key),
      // One being deleted is never rendered again (its entries leave the index): not waited for.
      (key) => {
        const app = this.apps.get(key);
        return app !== undefined && !app.metadata.deletionTimestamp;
      },
    );
  }

  /** The desired index this controller writes (shared with the webhook through the gate state). */
  get index(): GateForSync["index"] {
    return this.opts.gate.index;
  }

  private isLeader(): boolean {
    return this.opts.leadership.isLeader();
  }

  /** GitApps whose source or values source (`spec.valuesFrom`) is this repository. */
  private appsReading(repoURL: string): string[] {
    return [...this.apps.entries()]
      .filter(([, app]) => readsRepo(app.spec, repoURL, this.opts.sameRepo))
      .map(([k]) => k);
  }

  /** Sync every GitApp on this repo now (push receiver). Returns how many were queued. */
  triggerRepo(repoURL: string): string[] {
    this.opts.source.repoPushed?.(repoURL);
    const keys = this.appsReading(repoURL);
    for (const key of keys) this.queue.add(key);
    return keys;
  }

  /**
   * The push receiver's trigger: like triggerRepo, but each GitApp syncs no sooner than
   * sync.minInterval after its last sync started, so pushes cannot make gitgate fetch faster.
   * Those whose files the push changed (`paths`, from its payload) go first (changed-first.ts): the
   * others only move their status commit. The repository's ref lookups are asked afresh.
   */
  pushRepo(repoURL: string, paths?: readonly string[]): string[] {
    this.opts.source.repoPushed?.(repoURL);
    const keys = this.appsReading(repoURL);
    const files = pushedFiles(paths);
    const changed = (key: string): boolean => {
      const app = this.apps.get(key);
      return app !== undefined && changedByPush(app.spec, repoURL, files, this.opts.sameRepo);
    };
    const { ordered, first } = changedFirst(keys, changed);
    for (const key of ordered) {
      if (this.queue.isActive(key)) {
        this.pushPace.pushedWhileRunning(key);
        if (first.has(key)) this.queue.prioritize(key);
      } else this.queue.add(key, this.pushPace.delay(key, Date.now()), first.has(key));
    }
    return keys;
  }

  /** Leadership changed: everything needs a fresh look (a new leader applies, a follower only renders). */
  resyncAll(): void {
    for (const key of this.apps.keys()) this.queue.add(key);
  }

  /** The object as last seen by the watch (undefined until its kind has been synced here). */
  liveObject(obj: KubeObject): KubeObject | undefined {
    return this.live.get(obj);
  }

  /** The GitApp as last seen by the watch. */
  getApp(ref: AppRef): GitApp | undefined {
    return this.apps.get(appKey(ref));
  }

  /** The GitApps this controller serves, as last seen by the watch. */
  appsSeen(): IterableIterator<GitApp> {
    return this.apps.values();
  }

  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  /** The set of registered clusters changed: take up the GitApps now served here, drop the others. */
  reconsider(): void {
    for (const app of this.informer?.cache.values() ?? []) this.onGitApp("MODIFIED", app as GitApp);
  }

  private onGitApp(type: WatchEventType, app: GitApp): void {
    const key = appKey({ namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" });
    // Another cluster's controller syncs it: out of this one's view, as if deleted.
    if (type !== "DELETED" && !this.serves(app)) {
      if (this.apps.has(key)) this.onGitApp("DELETED", app);
      return;
    }
    if (type === "DELETED") {
      this.apps.delete(key);
      this.index.removeApp({ namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" });
      forgetRender(this.deps, { namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" });
      this.queue.forget(key);
      this.pushPace.forget(key);
      this.healthWrites.delete(key);
      return;
    }
    const previous = this.apps.get(key);
    this.apps.set(key, afterWatchEvent(previous, app));
    this.index.expect({ namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" });
    const specChanged =
      previous?.metadata.generation !== app.metadata.generation ||
      previous?.metadata.deletionTimestamp !== app.metadata.deletionTimestamp;
    // Followers track the revision the leader recorded.
    const revisionMoved = !this.isLeader() && previous?.status?.revision !== app.status?.revision;
    if (!previous || specChanged || revisionMoved) this.queue.add(key);
  }

  private onLiveChange(type: WatchEventType, obj: KubeObject): void {
    const entry = this.index.get(objectKey(obj));
    if (!entry) return;
    if (type !== "DELETED") this.opts.gate.observe(entry.key, obj); // a break-glass window stored on it
    if (!this.isLeader()) return;
    const key = appKey(entry.app);
    // Judged even while this app's reconcile runs: it may have read the object before this change.
    // The queue then runs the app once more; gitgate's own applies converge on Git and show no drift.
    const drifted =
      type === "DELETED" ||
      diffDeclared(entry.object, obj, entry.ignore).length > 0 ||
      additionsOf(entry, obj).length > 0;
    if (drifted)
      this.queue.add(key, 50); // coalesce a burst of events into one reconcile
    else this.scheduleHealth(key);
  }

  /** Coalesces a burst of status events (a rollout) into one look at the app's health. */
  private scheduleHealth(key: string, delayMs = 250): void {
    if (this.healthTimers.has(key)) return;
    const timer = setTimeout(() => {
      this.healthTimers.delete(key);
      void this.refreshHealth(key);
    }, delayMs);
    timer.unref();
    this.healthTimers.set(key, timer);
  }

  private async refreshHealth(key: string): Promise<void> {
    if (!this.isLeader() || this.stopping) return;
    // A running sync judges health itself, maybe before this change: look again once it is done.
    if (this.queue.isActive(key)) return this.scheduleHealth(key, 1000);
    const app = this.apps.get(key);
    const last = this.lastResult.get(key);
    if (!app || !last || last.error || !last.completed.includes("health")) return;
    const update = healthUpdate(app, last.desired, this.live, new Date());
    if (!update) return;
    // A new level is news at once; a message that moves with every pod is written at a bounded pace.
    const wait = (this.healthWrites.get(key) ?? 0) + HEALTH_MESSAGE_PACE_MS - Date.now();
    if (!update.levelChanged && wait > 0) return this.scheduleHealth(key, wait);
    this.healthWrites.set(key, Date.now());
    try {
      const updated = await this.patchStatus(app, update.status);
      const held = this.apps.get(key);
      if (held && held.metadata.uid === app.metadata.uid) this.apps.set(key, afterStatusWrite(held, updated));
    } catch (err) {
      // Nothing else would write it until the next status event: try again shortly.
      this.opts.logger.warn({ app: key, err: messageOf(err) }, "health status update failed; retrying");
      this.scheduleHealth(key, 2000);
      return;
    }
    if (update.alert) this.emit(update.alert);
  }

  private onHoldExpired(hold: Hold): void {
    this.emit({
      type: "break-glass-expired",
      time: new Date().toISOString(),
      app: hold.app,
      object: this.index.get(hold.key)?.ref,
      actor: { username: hold.username, via: "admission" },
      source: this.index.get(hold.key)?.source,
      action: "Break-glass expired; reverting the object to Git.",
      detail: `reason: ${hold.reason}`,
    });
    this.queue.add(appKey(hold.app));
  }

  private emit(event: AlertEvent): void {
    if (this.isLeader()) this.opts.alerts.emit(event);
  }

  private async process(key: string): Promise<number | undefined> {
    this.pushPace.started(key, Date.now());
    const next = await this.reconcileOne(key);
    return this.pushPace.next(key, next, Date.now());
  }

  private async reconcileOne(key: string): Promise<number | undefined> {
    const app = this.apps.get(key);
    if (!app) return undefined;
    if (app.metadata.deletionTimestamp) return this.deleting(key, app);
    const role: Role = this.isLeader() ? "leader" : "follower";
    const started = performance.now();
    if (role === "leader") await this.keepFinalizer(key, app);
    const ctx = await reconcile(app, role, this.deps);
    // Deleted meanwhile, or gitgate is stopping: nothing to report on, nothing to schedule.
    if (this.stopping || this.apps.get(key)?.metadata.uid !== app.metadata.uid) return undefined;
    this.lastResult.set(key, ctx);
    const spec = effectiveSpec(
      app,
      this.opts.settings.defaultMode,
      this.opts.settings.minIntervalMs,
      this.opts.settings.enforcement,
    );
    // Leadership may have moved during the reconcile: a former leader must not overwrite the status.
    const published = performance.now();
    if (role === "leader" && this.isLeader()) await this.publish(app, ctx);
    const publishMs = Math.round(performance.now() - published);
    if (ctx.error) {
      this.opts.logger.warn(
        { app: key, step: ctx.failedStep, reason: ctx.error.reason, class: ctx.error.class },
        ctx.error.message,
      );
      // Terminal errors wait for a new commit or spec: poll at the normal interval. Others back off.
      return ctx.error.class === "terminal" ? spec.intervalMs : undefined;
    }
    // A wave or hook still running: look again soon, without holding this worker meanwhile.
    if (ctx.requeueAfterMs !== undefined) return Math.min(ctx.requeueAfterMs, spec.intervalMs);
    this.opts.logger.info(
      {
        app: key,
        commit: ctx.commit?.slice(0, 7),
        applied: ctx.appliedCount,
        pruned: ctx.pruned.length,
        drift: ctx.drift.length,
        role,
        ms: Math.round(performance.now() - started),
        stepMs: { ...ctx.stepMs, publish: publishMs },
      },
      "reconciled",
    );
    return spec.intervalMs;
  }

  /** deletionPolicy Delete puts the cascade finalizer on; an explicit Orphan takes it off. */
  private async keepFinalizer(key: string, app: GitApp): Promise<void> {
    const wanted = finalizerWanted(app);
    if (wanted === undefined) return;
    await setFinalizer(this.hub, app, wanted).catch((err: unknown) =>
      this.opts.logger.warn(
        { app: key, err: messageOf(err) },
        "cascade finalizer not updated; retried next sync",
      ),
    );
  }

  /** A GitApp being deleted: with the cascade finalizer (leader only) its objects go first. */
  private async deleting(key: string, app: GitApp): Promise<number | undefined> {
    const ref = { namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" };
    this.index.removeApp(ref);
    // Followers, and deletions without the finalizer (orphan), only look again in a while.
    if (!this.isLeader() || !(app.metadata.finalizers ?? []).includes(CASCADE_FINALIZER)) return 30_000;
    const spec = effectiveSpec(app, this.opts.settings.defaultMode, 0, this.opts.settings.enforcement);
    // Its objects are on a cluster this controller cannot reach or does not know: delete nothing
    // anywhere (the finalizer stays) until it can.
    const refused = this.opts.refuseDestination?.(app, spec);
    if (refused) {
      this.opts.logger.warn({ app: key, reason: refused.reason }, `cascade delete waits: ${refused.message}`);
      return 30_000;
    }
    const writer = spec.actAs ? this.opts.client.as(spec.actAs) : this.opts.client;
    try {
      const result = await cascadeDelete(app, {
        client: this.opts.client,
        writer,
        hub: this.hub,
        index: this.index,
        app: ref,
      });
      const kept = result.kept.length > 0 ? `; kept ${result.kept.join(", ")} (prune disabled)` : "";
      const message = `deleted ${result.deleted.length} objects with the GitApp${kept}${result.refused ? `; ${result.refused}` : ""}`;
      this.opts.logger.info({ app: key, deleted: result.deleted.length, kept: result.kept.length }, message);
      this.events.record(app, {
        type: result.refused ? "Warning" : "Normal",
        reason: "CascadeDelete",
        message,
      });
      return result.refused ? 5_000 : 30_000;
    } catch (err) {
      this.opts.logger.warn({ app: key, err: messageOf(err) }, "cascade delete failed; retrying");
      return undefined;
    }
  }

  /** A merge patch of the GitApp's status subresource (null values clear fields); the app as written. */
  private async patchStatus(app: GitApp, status: object): Promise<GitApp> {
    const target = {
      apiVersion: GITAPP_API_VERSION,
      kind: GITAPP_KIND,
      namespace: app.metadata.namespace,
      name: app.metadata.name ?? "",
    };
    return (await this.hub.patch(target, { status }, "merge", { subresource: "status" })) as GitApp;
  }

  private async publish(app: GitApp, ctx: ReconcileContext): Promise<void> {
    const now = new Date();
    const outcome = composeOutcome(ctx, now);
    try {
      const connection = this.opts.connection?.();
      const status = {
        ...outcome.status,
        operation: operationPatch(outcome.status.operation),
        ...(connection ? { cluster: connection } : {}),
      };
      const heartbeatMs = this.opts.settings.statusHeartbeatMs ?? 0;
      if (!statusWriteNeeded(ctx.app.status, status, now, heartbeatMs)) return this.deliver(app, outcome);
      const updated = await this.patchStatus(app, status);
      // Keep our copy current so the next run's transitions compare against what we wrote.
      const key = appKey(ctx.spec.app);
      const held = this.apps.get(key);
      if (held && held.metadata.uid === app.metadata.uid)
        this.apps.set(key, afterStatusWrite(held, { ...updated, status: updated.status ?? outcome.status }));
    } catch (err) {
      this.opts.logger.warn({ app: appKey(ctx.spec.app), err: String(err) }, "status update failed");
    }
    this.deliver(app, outcome);
  }

  /** The outcome's Events and alerts, whether or not its status needed a write. */
  private deliver(app: GitApp, outcome: Outcome): void {
    for (const event of outcome.events) this.events.record(app, event);
    for (const alert of outcome.alerts) this.emit(alert);
  }
}
