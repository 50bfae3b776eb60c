/**
 * A keyed work queue like controller-runtime's: a key is processed by one worker at a time, adds
 * while it runs mark it dirty (it runs once more), and the handler's result schedules the next
 * run: a delay in ms, or undefined for exponential backoff after a failure. A key added `first`
 * (a GitApp a push changed) starts before every key that is only due (its repository's others).
 */
import type { Logger } from "../log/logger.js";

type Handler = (key: string) => Promise<number | undefined>;

interface KeyState {
  timer?: NodeJS.Timeout;
  dueAt?: number;
  active: boolean;
  dirty: boolean;
  failures: number;
  /** Start before the keys of the plain lane, at its next run (cleared when it starts). */
  first: boolean;
}

export class WorkQueue {
  private readonly keys = new Map<string, KeyState>();
  private readonly ready: string[] = [];
  /** Keys due that were added `first`: taken before `ready`. */
  private readonly readyFirst: string[] = [];
  private running = 0;
  private stopped = false;
  /** Keys are queued but none is started (the controller primes the index first). */
  private held = false;
  private readonly drainWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly handler: Handler,
    private readonly workers: number,
    private readonly logger: Logger,
    private readonly backoff = { baseMs: 1000, maxMs: 300_000 },
  ) {}

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) {
      s = { active: false, dirty: false, failures: 0, first: false };
      this.keys.set(key, s);
    }
    return s;
  }

  add(key: string, delayMs = 0, first = false): void {
    if (this.stopped) return;
    const s = this.state(key);
    if (first) this.prioritize(key, s);
    if (s.active) {
      s.dirty = true;
      return;
    }
    if (s.first && delayMs <= 0) {
      // Due now and first: into its lane at once, not after the plain keys a worker takes meanwhile.
      clearTimeout(s.timer);
      this.enqueue(key);
      return;
    }
    const dueAt = Date.now() + delayMs;
    if (s.dueAt !== undefined && s.dueAt <= dueAt) return; // already due sooner
    clearTimeout(s.timer);
    s.dueAt = dueAt;
    s.timer = setTimeout(() => this.enqueue(key), delayMs);
  }

  /**
   * The key's next run starts before the plain lane's keys: now if it is due already, else when it
   * becomes due (a key running now: its next run, e.g. the one a push during it asked for).
   */
  prioritize(key: string, s = this.keys.get(key)): void {
    if (!s || this.stopped) return;
    s.first = true;
    const at = this.ready.indexOf(key);
    if (at < 0) return;
    this.ready.splice(at, 1);
    this.readyFirst.push(key);
  }

  isActive(key: string): boolean {
    return this.keys.get(key)?.active ?? false;
  }

  forget(key: string): void {
    const s = this.keys.get(key);
    if (s) clearTimeout(s.timer);
    this.keys.delete(key);
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.keys.values()) clearTimeout(s.timer);
    this.keys.clear();
  }

  /** After stop: resolves once no handler runs any more, or after `timeoutMs`, whichever is first. */
  drained(timeoutMs: number): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      // Not unref'd: the wait itself is what keeps the stopping process alive, and it is bounded.
      const timer = setTimeout(resolve, timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves when nothing is running or due within the next 100 ms (tests). */
  whenIdle(): Promise<void> {
    return this.isIdle() ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    if (this.running > 0 || this.ready.length > 0 || this.readyFirst.length > 0) return false;
    const soon = Date.now() + 100;
    for (const s of this.keys.values()) if (s.dueAt !== undefined && s.dueAt <= soon) return false;
    return true;
  }

  private enqueue(key: string): void {
    const s = this.keys.get(key);
    if (!s || this.stopped) return;
    s.timer = undefined;
    s.dueAt = undefined;
    const lane = s.first ? this.readyFirst : this.ready;
    if (!this.ready.includes(key) && !this.readyFirst.includes(key)) lane.push(key);
    this.pump();
  }

  /** Until release(): keys are queued, none is started. */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.pump();
  }

  private pump(): void {
    while (!this.held && this.running < this.workers && this.ready.length + this.readyFirst.length > 0) {
      const key = (this.readyFirst.length > 0 ? this.readyFirst.shift() : this.ready.shift()) as string;
      const s = this.keys.get(key);
      if (!s || s.active) continue;
      s.active = true;
      s.first = false;
      this.running++;
      void this.run(key, s);
    }
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async run(key: string, s: KeyState): Promise<void> {
    let next: number | undefined;
    try {
      next = await this.handler(key);
    } catch (err) {
      this.logger.error({ key, err: String(err) }, "reconcile crashed");
      next = undefined;
    }
    s.active = false;
    this.running--;
    if (this.running === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
    if (this.keys.get(key) === s) {
      if (next === undefined) {
        s.failures++;
        next = Math.min(this.backoff.baseMs * 2 ** (s.failures - 1), this.backoff.maxMs);
      } else {
        s.failures = 0;
      }
      if (s.dirty) {
        s.dirty = false;
        next = 0;
      }
      this.add(key, next);
    }
    this.pump();
  }
}
