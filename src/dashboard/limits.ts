/**
 * Failed logins per client address: each new token costs gitgate one TokenReview, so a client that
 * keeps sending wrong tokens must not turn the dashboard into a load amplifier on kube-apiserver.
 * Past `max` failures within `windowMs`, an address gets 429 (no review) until the window has
 * passed since its oldest counted failure. Pure given the clock; bounded in addresses.
 */
export interface LoginLimit {
  max: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { max: 10, windowMs: 60_000 };
const MAX_ADDRESSES = 10_000;

export class FailedLogins {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: LoginLimit = DEFAULT_LOGIN_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `address` may try a new token again; 0: it may now. */
  retryAfter(address: string): number {
    const times = this.recent(address);
    if (times.length < this.limit.max) return 0;
    const oldest = times[times.length - this.limit.max] ?? this.now();
    return Math.max(1, Math.ceil((oldest + this.limit.windowMs - this.now()) / 1000));
  }

  failed(address: string): void {
    const times = this.recent(address);
    times.push(this.now());
    // Only the last `max` matter for the decision.
    if (times.length > this.limit.max) times.splice(0, times.length - this.limit.max);
    this.failures.delete(address);
    this.failures.set(address, times);
    while (this.failures.size > MAX_ADDRESSES) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
  }

  private recent(address: string): number[] {
    const since = this.now() - this.limit.windowMs;
    const times = (this.failures.get(address) ?? []).filter((t) => t > since);
    if (times.length === 0) this.failures.delete(address);
    return times;
  }
}

/** Open live streams per user: one user cannot take every SSE slot. */
export class StreamsPerUser {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes a slot for `user`; false when the user already has `max` open. */
  take(user: string): boolean {
    const n = this.open.get(user) ?? 0;
    if (n >= this.max) return false;
    this.open.set(user, n + 1);
    return true;
  }

  release(user: string): void {
    const n = (this.open.get(user) ?? 1) - 1;
    if (n <= 0) this.open.delete(user);
    else this.open.set(user, n);
  }

  count(user: string): number {
    return this.open.get(user) ?? 0;
  }
}
