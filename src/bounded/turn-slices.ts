/**
 * Runs jobs in arrival order, at most `sliceMs` of them per event-loop turn, then yields.
 *
 * Why: libuv accepts one connection per turn of the loop (measured with strace on node 20: one
 * accept4 per epoll_pwait). When a server does its request work inside the turn that read the
 * request, 500 busy keep-alive connections make each turn ~300 ms long; new connections
 * (kube-apiserver's, after a timeout or a restart) then wait in the kernel's accept queue at ~3 a
 * second until their client gives up. Run through here, a turn holds one slice of work, so
 * accepts, TLS handshakes and reads go on between slices; the work itself is neither more nor less.
 */
export class TurnSlices {
  private jobs: Array<(() => void) | undefined> = [];
  private head = 0;
  private scheduled = false;

  /** `onError` receives what a job threw; the jobs after it still run. */
  constructor(
    private readonly sliceMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Jobs waiting for a slice. */
  get pending(): number {
    return this.jobs.length - this.head;
  }

  run(job: () => void): void {
    this.jobs.push(job);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.slice);
  }

  private readonly slice = (): void => {
    const until = performance.now() + this.sliceMs;
    while (this.head < this.jobs.length) {
      const job = this.jobs[this.head];
      this.jobs[this.head++] = undefined;
      try {
        job?.();
      } catch (err) {
        this.onError(err);
      }
      if (performance.now() >= until) break;
    }
    if (this.head < this.jobs.length) {
      // Drop the run part so a long busy spell does not keep a long array.
      if (this.head > 1024) [this.jobs, this.head] = [this.jobs.slice(this.head), 0];
      setImmediate(this.slice);
      return;
    }
    [this.jobs, this.head, this.scheduled] = [[], 0, false];
  };
}
