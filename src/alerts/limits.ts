/** Dedup window and token bucket: in-memory, per channel, driven by an injectable clock. */
import { keyOf } from "../manifest/object.js";
import { digestOf } from "../manifest/digest.js";
import type { AlertEvent } from "../manifest/event.js";
import type { Clock } from "../bounded/seen.js";

export type { Clock };

/**
 * What makes two alerts "the same": type, app, object, actor and the set of differing field paths (not
 * their values: a drift that keeps flapping between values is still one situation), plus the commit,
 * since the same drift against a new Git revision is news. An admission alert also keys on the
 * requested values: a review anyone could post to the webhook port must not silence a later real one
 * that asks for something else (only an identical alert is suppressed).
 */
export function dedupKey(event: AlertEvent): string {
  const changes = event.changes ?? [];
  const paths =
    event.actor?.via === "admission"
      ? [...new Set(changes.map((c) => `${c.path}=${digestOf(c.liveValue)}`))].sort()
      : [...new Set(changes.map((c) => c.path))].sort();
  return JSON.stringify([
    event.type,
    event.app.namespace,
    event.app.name,
    event.object ? keyOf(event.object) : "",
    event.actor?.username ?? "",
    event.actor?.via ?? "",
    paths,
    event.source?.commit ?? "",
  ]);
}

export interface RateLimit {
  /** Sustained rate. */
  perMinute: number;
  /** Messages that may go out at once before the rate applies (defaults to `perMinute`). */
  burst?: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly capacity: number;
  private readonly perMs: number;

  constructor(
    limit: RateLimit,
    private readonly clock: Clock,
  ) {
    this.capacity = Math.max(1, limit.burst ?? limit.perMinute);
    this.perMs = Math.max(limit.perMinute, 0.001) / 60_000;
    this.tokens = this.capacity;
    this.last = clock();
  }

  private refill(): void {
    const now = this.clock();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
  }

  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until one token is available (0 when one is). */
  msUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }
}
