/**
 * A per-key async mutex. GitApps on one repository share its cache directory, and isomorphic-git's
 * fetch (packfiles, shallow file, refs) is not safe to run twice at once on one gitdir.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Drop the entry once nobody queued behind us, so the map does not grow with every repo ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Number of keys with a holder or waiters (for tests). */
  get size(): number {
    return this.tails.size;
  }
}

/** Shared by every GitSource in the process, keyed by cache directory, so two sources on one cache root are safe too. */
export const repoLocks = new KeyedMutex();
