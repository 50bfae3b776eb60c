/**
 * One channel's delivery: filter → dedup → rate limit (hold + summary) → bounded queue → one worker
 * posting with retries. Each channel has its own worker, so a dead or slow endpoint only delays itself.
 * Logs name the channel, never its URL (Slack and Teams webhook URLs are credentials) nor payload values.
 */
import type { Logger } from "../log/logger.js";
import { OPT_IN_EVENTS, type AlertEvent, type AlertEventType } from "../manifest/event.js";
import { backoffDelay, errorCode, postOnce, sleep, type PostOutcome } from "./http.js";
import { Deduplicator } from "../bounded/seen.js";
import { TokenBucket, dedupKey, type Clock, type RateLimit } from "./limits.js";
import type { AlertCounterName, AlertCounters } from "./metrics.js";
import { buildRequest, typeOf, type QueueItem } from "./request.js";
import { HeldBack } from "./summary.js";
import type { FormatContext } from "./text.js";

export type ChannelType = "slack" | "teams" | "webhook";

export interface ChannelConfig {
  name: string;
  type: ChannelType;
  url: string;
  /** HMAC-SHA256 key for `webhook` channels. */
  secret?: string;
  /** Only these event types (when absent: all but the opt-in ones, OPT_IN_EVENTS). */
  events?: AlertEventType[];
}

export interface ChannelOptions {
  queueSize: number;
  timeoutMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  maxRetryAfterMs: number;
  dedupWindowMs: number;
  rateLimit: RateLimit | false;
  /** Minimum wait before a summary of held alerts goes out, so a storm yields few summaries. */
  summaryDelayMs: number;
  clock: Clock;
}

const DROP_WARN_INTERVAL_MS = 60_000;

export class ChannelWorker {
  readonly name: string;
  private readonly queue: QueueItem[] = [];
  private readonly dedup: Deduplicator;
  private readonly bucket: TokenBucket | undefined;
  private readonly held = new HeldBack();
  private readonly abort = new AbortController();
  private summaryTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];
  private busy = false;
  private closed = false;
  private lastDropWarn = 0;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: ChannelConfig,
    private readonly ctx: FormatContext,
    private readonly opts: ChannelOptions,
    private readonly counters: AlertCounters,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    this.dedup = new Deduplicator(opts.dedupWindowMs, opts.clock);
    this.bucket = opts.rateLimit ? new TokenBucket(opts.rateLimit, opts.clock) : undefined;
  }

  start(): void {
    this.loopDone = this.loop().catch((err: unknown) => {
      this.logger.error({ channel: this.name, error: errorCode(err) }, "alert worker stopped unexpectedly");
    });
  }

  /** Synchronous and non-throwing: decides whether the event is queued, suppressed or held. */
  offer(event: AlertEvent): void {
    try {
      if (this.closed) return this.count("gitgate_alerts_dropped_total", event.type);
      if (this.config.events ? !this.config.events.includes(event.type) : OPT_IN_EVENTS.has(event.type))
        return;
      if (this.dedup.isDuplicate(dedupKey(event)))
        return this.count("gitgate_alerts_deduplicated_total", event.type);
      // While alerts are held, newer ones join the summary too, so the channel stays in order.
      if (!this.bucket || (this.held.size === 0 && this.bucket.tryTake()))
        return this.enqueue({ kind: "event", event });
      this.held.add(event);
      this.count("gitgate_alerts_held_total", event.type);
      this.scheduleSummary();
    } catch (err) {
      this.logger.error(
        { channel: this.name, type: event.type, error: errorCode(err) },
        "could not queue alert",
      );
    }
  }

  /** Resolves once nothing is queued or in flight (held alerts wait for the rate limit, not for this). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends what is held (ignoring the rate limit), drains the queue for up to `graceMs`, then stops. */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return this.loopDone;
    this.closed = true;
    clearTimeout(this.summaryTimer);
    const summary = this.held.take();
    if (summary) this.enqueue({ kind: "summary", summary });
    const grace = new AbortController();
    await Promise.race([this.whenIdle(), sleep(graceMs, grace.signal)]);
    grace.abort(); // clears the grace timer when the queue drained first
    this.abort.abort();
    for (const item of this.queue.splice(0)) this.count("gitgate_alerts_dropped_total", typeOf(item));
    this.wakeUp();
    await this.loopDone;
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle() && !this.abort.signal.aborted) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private count(name: AlertCounterName, type: string): void {
    this.counters[name].inc({ channel: this.name, type });
  }

  private enqueue(item: QueueItem): void {
    if (this.queue.length >= this.opts.queueSize) {
      // Oldest first: the newest alert describes the current state best.
      const dropped = this.queue.shift();
      if (dropped) this.count("gitgate_alerts_dropped_total", typeOf(dropped));
      const now = Date.now();
      if (now - this.lastDropWarn >= DROP_WARN_INTERVAL_MS) {
        this.lastDropWarn = now;
        this.logger.warn(
          { channel: this.name, queueSize: this.opts.queueSize },
          "alert queue full, dropping oldest",
        );
      }
    }
    this.queue.push(item);
    this.wakeUp();
  }

  private scheduleSummary(): void {
    if (this.summaryTimer || !this.bucket) return;
    const delay = Math.max(this.opts.summaryDelayMs, this.bucket.msUntilToken());
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      if (this.closed) return;
      if (!this.bucket?.tryTake()) return this.scheduleSummary();
      const summary = this.held.take();
      if (summary) this.enqueue({ kind: "summary", summary });
    }, delay);
    // A pending summary must not keep the process alive; close() sends it on shutdown.
    this.summaryTimer.unref();
  }

  private async loop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const item = this.queue.shift();
      if (!item) {
        this.notifyIdle();
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      this.busy = true;
      try {
        await this.deliver(item);
      } catch (err) {
        this.count("gitgate_alerts_failed_total", typeOf(item));
        this.logger.error(
          { channel: this.name, type: typeOf(item), error: errorCode(err) },
          "alert delivery crashed",
        );
      } finally {
        this.busy = false;
      }
    }
  }

  private async deliver(item: QueueItem): Promise<void> {
    const type = typeOf(item);
    const { body, headers } = buildRequest(this.config, this.ctx, item);
    const log = { channel: this.name, type };
    for (let attempt = 1; ; attempt++) {
      const outcome: PostOutcome = await postOnce({
        url: this.config.url,
        body,
        headers,
        timeoutMs: this.opts.timeoutMs,
        signal: this.abort.signal,
      });
      if (outcome.kind === "ok") {
        this.count("gitgate_alerts_sent_total", type);
        this.logger.debug({ ...log, status: outcome.status, attempt }, "alert delivered");
        return;
      }
      if (this.abort.signal.aborted) {
        this.count("gitgate_alerts_dropped_total", type);
        this.logger.warn({ ...log, attempt }, "alert abandoned at shutdown");
        return;
      }
      if (outcome.kind === "fatal") {
        this.count("gitgate_alerts_failed_total", type);
        this.logger.warn(
          { ...log, status: outcome.status, reason: outcome.reason, attempt },
          "alert rejected",
        );
        return;
      }
      if (attempt >= this.opts.maxAttempts) {
        this.count("gitgate_alerts_failed_total", type);
        this.logger.warn(
          { ...log, status: outcome.status, error: outcome.error, attempt },
          "alert delivery gave up",
        );
        return;
      }
      const delayMs =
        outcome.retryAfterMs !== undefined
          ? Math.min(outcome.retryAfterMs, this.opts.maxRetryAfterMs)
          : backoffDelay(attempt, this.opts.backoffBaseMs, this.opts.backoffMaxMs);
      this.logger.info(
        { ...log, status: outcome.status, error: outcome.error, attempt, delayMs },
        "alert delivery retry",
      );
      await sleep(delayMs, this.abort.signal);
    }
  }
}
