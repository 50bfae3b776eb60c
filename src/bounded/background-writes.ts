/**
 * Writes handed over to run in the background: at most `concurrency` at once, at most `max` waiting
 * (the oldest dropped first, as client-go's event broadcaster does), so a slow API server costs the
 * caller neither time nor unbounded memory. A write's failure is the write's own business: `write`
 * reports it; nothing here throws.
 */
export interface BackgroundWritesOptions<T> {
  concurrency: number;
  max: number;
  write: (item: T) => Promise<void>;
  /** Called with the running count of items dropped for want of room. */
  onDrop?: (dropped: number) => void;
}

export class BackgroundWrites<T> {
  private queue: T[] = [];
  private running = 0;
  private dropped = 0;
  private readonly idle: Array<() => void> = [];

  constructor(private readonly opts: BackgroundWritesOptions<T>) {}

  add(item: T): void {
    if (this.queue.length >= this.opts.max) {
      this.queue.shift();
      this.opts.onDrop?.(++this.dropped);
    }
    this.queue.push(item);
    this.pump();
  }

  /** Resolves once every item handed over was written or failed. */
  flushed(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Drops what waits and resolves once the writes under way ended (stop: the API server may go next). */
  close(): Promise<void> {
    this.queue = [];
    return this.flushed();
  }

  private pump(): void {
    while (this.running < this.opts.concurrency && this.queue.length > 0) {
      const item = this.queue.shift() as T;
      this.running++;
      void this.run(item);
    }
  }

  private async run(item: T): Promise<void> {
    try {
      await this.opts.write(item);
    } catch {
      // `write` reports its own failures; one that throws anyway must not stop the queue.
    } finally {
      this.running--;
      this.pump();
      if (this.running === 0 && this.queue.length === 0) for (const done of this.idle.splice(0)) done();
    }
  }
}
