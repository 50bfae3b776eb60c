/**
 * Break-glass holds: while one is active, self-heal leaves that object alone. When it expires the
 * object's app is reconciled (reverting it to Git) and an alert says so.
 */
import type { AppRef } from "../manifest/desired.js";

export interface Hold {
  key: string;
  app: AppRef;
  expiresAt: Date;
  username: string;
  reason: string;
}

const MAX_TIMER_MS = 2_147_483_647;

export class BreakGlassHolds {
  private readonly holds = new Map<string, { hold: Hold; timer: NodeJS.Timeout }>();

  constructor(private readonly onExpire: (hold: Hold) => void) {}

  grant(hold: Hold, now = new Date()): void {
    const existing = this.holds.get(hold.key);
    if (existing) clearTimeout(existing.timer);
    const delay = Math.max(0, hold.expiresAt.getTime() - now.getTime());
    // setTimeout fires at once beyond 2^31-1 ms (24.8 days): re-arm in steps instead.
    const timer = setTimeout(
      () => {
        if (delay > MAX_TIMER_MS) return this.grant(hold);
        this.holds.delete(hold.key);
        this.onExpire(hold);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    timer.unref();
    this.holds.set(hold.key, { hold, timer });
  }

  isHeld(key: string): boolean {
    return this.holds.has(key);
  }

  list(): Hold[] {
    return [...this.holds.values()].map((h) => h.hold);
  }

  clear(): void {
    for (const { timer } of this.holds.values()) clearTimeout(timer);
    this.holds.clear();
  }
}
