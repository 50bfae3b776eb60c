/**
 * The AlertSink the rest of gitgate emits through. emit() is synchronous, never throws and never waits
 * on the network: it hands the event to each target channel's own queue and worker.
 */
import type { Registry } from "prom-client";
import { terminal } from "../errors.js";
import type { Logger } from "../log/logger.js";
import { ChannelWorker, type ChannelConfig, type ChannelOptions } from "./channel.js";
import type { AlertEvent, AlertSink } from "../manifest/event.js";
import { errorCode, sleep } from "./http.js";
import type { Clock, RateLimit } from "./limits.js";
import { alertCounters } from "./metrics.js";

export interface AlertDispatcherOptions {
  /** Events queued per channel before the oldest is dropped. Default 500. */
  queueSize?: number;
  /** Per HTTP attempt. Default 5 s. */
  timeoutMs?: number;
  /** Attempts per message, the first included. Default 5. */
  maxAttempts?: number;
  /** First backoff step; doubles per attempt up to `backoffMaxMs`. Defaults 1 s and 60 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Upper bound on a server's `Retry-After`. Default 5 min. */
  maxRetryAfterMs?: number;
  /** Same (type, object, actor, fields) within this window is sent once. Default 10 min; 0 disables. */
  dedupWindowMs?: number;
  /** Per-channel message rate. Default 20/min (burst 20); `false` disables. */
  rateLimit?: RateLimit | false;
  /** Minimum delay before a summary of held-back alerts is sent. Default 60 s. */
  summaryDelayMs?: number;
  /** How long close() waits for queues to drain before abandoning them. Default 5 s. */
  closeTimeoutMs?: number;
  /** For dedup and rate limiting; tests may inject a fake clock. */
  clock?: Clock;
}

export interface AlertDispatcherConfig {
  channels: ChannelConfig[];
  clusterName: string;
  logger: Logger;
  registry?: Registry;
  /** Channel names for an event; undefined means every channel (each still applies its `events` filter). */
  routes?: (event: AlertEvent) => string[] | undefined;
  options?: AlertDispatcherOptions;
}

export interface AlertDispatcher extends AlertSink {
  /** Sends held summaries, drains queues (bounded by `closeTimeoutMs`), then stops all workers. */
  close(): Promise<void>;
  /** Waits until every channel has nothing queued or in flight, or `timeoutMs` passed. Never rejects. */
  flush(timeoutMs: number): Promise<void>;
}

const CHANNEL_TYPES: ReadonlySet<string> = new Set(["slack", "teams", "webhook"]);

/** Config errors name the channel, never the URL. */
export function validateChannels(channels: ChannelConfig[]): void {
  const names = new Set<string>();
  for (const channel of channels) {
    if (!channel.name) throw terminal("AlertChannelInvalid", "alert channel without a name");
    if (names.has(channel.name))
      throw terminal("AlertChannelInvalid", `alert channel ${channel.name} is defined twice`);
    names.add(channel.name);
    if (!CHANNEL_TYPES.has(channel.type)) {
      throw terminal(
        "AlertChannelInvalid",
        `alert channel ${channel.name}: type must be slack, teams or webhook`,
      );
    }
    let url: URL | undefined;
    try {
      url = new URL(channel.url);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
      throw terminal("AlertChannelInvalid", `alert channel ${channel.name}: url is not an http(s) URL`);
    }
  }
}

function channelOptions(options: AlertDispatcherOptions = {}): ChannelOptions {
  return {
    queueSize: Math.max(1, options.queueSize ?? 500),
    timeoutMs: options.timeoutMs ?? 5_000,
    maxAttempts: Math.max(1, options.maxAttempts ?? 5),
    backoffBaseMs: options.backoffBaseMs ?? 1_000,
    backoffMaxMs: options.backoffMaxMs ?? 60_000,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 300_000,
    dedupWindowMs: options.dedupWindowMs ?? 600_000,
    rateLimit: options.rateLimit ?? { perMinute: 20 },
    summaryDelayMs: options.summaryDelayMs ?? 60_000,
    clock: options.clock ?? Date.now,
  };
}

/** A private copy: producers may reuse or mutate their objects after emitting. */
function snapshot(event: AlertEvent): AlertEvent {
  try {
    return structuredClone(event);
  } catch {
    return event;
  }
}

export function createAlertDispatcher(config: AlertDispatcherConfig): AlertDispatcher {
  validateChannels(config.channels);
  const logger = config.logger.child({ component: "alerts" });
  const counters = alertCounters(config.registry);
  const opts = channelOptions(config.options);
  const closeTimeoutMs = config.options?.closeTimeoutMs ?? 5_000;
  const ctx = { clusterName: config.clusterName };
  const workers = config.channels.map((c) => new ChannelWorker(c, ctx, opts, counters, logger));
  for (const worker of workers) worker.start();
  let closing: Promise<void> | undefined;

  const targets = (event: AlertEvent): ChannelWorker[] => {
    let names: string[] | undefined;
    try {
      names = config.routes?.(event);
    } catch (err) {
      // A broken routing rule must not lose the alert: fall back to every channel.
      logger.warn({ type: event.type, error: errorCode(err) }, "alert routing failed, using all channels");
    }
    return names ? workers.filter((w) => names.includes(w.name)) : workers;
  };

  return {
    emit(event: AlertEvent): void {
      try {
        if (closing) return;
        const copy = snapshot(event);
        for (const worker of targets(copy)) worker.offer(copy);
      } catch (err) {
        logger.error({ error: errorCode(err) }, "could not dispatch alert");
      }
    },

    async flush(timeoutMs: number): Promise<void> {
      const timer = new AbortController();
      try {
        await Promise.race([Promise.all(workers.map((w) => w.whenIdle())), sleep(timeoutMs, timer.signal)]);
      } catch {
        // whenIdle never rejects; flush must not either.
      } finally {
        timer.abort();
      }
    },

    close(): Promise<void> {
      closing ??= Promise.all(workers.map((w) => w.close(closeTimeoutMs))).then(
        () => undefined,
        (err: unknown) => logger.error({ error: errorCode(err) }, "closing alert channels failed"),
      );
      return closing;
    },
  };
}
