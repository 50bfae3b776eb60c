/**
 * One full garbage collection when the port goes quiet after a burst of requests. V8 collects only
 * while JavaScript allocates, so a process that falls idle keeps the heap a load grew: in the
 * 500-client soak (bench/soak.ts) gitgate's heap stayed at 74 MiB used / 104 MiB total (58 / 92
 * before the load) and its RSS at the load's level for the whole minute after. A collection then
 * costs one pause (tens of ms) at a moment nobody is waiting.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** How often the request count is looked at; a quiet interval is one without any request. */
export const IDLE_CHECK_MS = 10_000;
/** Requests since the last collection that make a quiet interval worth one (a burst, not a trickle). */
export const BURST_REQUESTS = 1_000;

export interface IdleGcState {
  /** The request count at the previous check. */
  seen: number;
  /** The request count at the last collection (or at start). */
  collectedAt: number;
}

/**
 * Whether to collect now, given the total request count: only after an interval without requests
 * that follows at least `burst` requests since the last collection. Pure; the caller keeps `next`.
 */
export function idleGcDue(
  state: IdleGcState,
  requests: number,
  burst = BURST_REQUESTS,
): { due: boolean; next: IdleGcState } {
  const quiet = requests === state.seen;
  const due = quiet && requests - state.collectedAt >= burst;
  return { due, next: { seen: requests, collectedAt: due ? requests : state.collectedAt } };
}

let gcFunction: (() => void) | null | undefined;

/**
 * V8's gc(): the global one under `--expose-gc`, else exposed once through the V8 flag (node has no
 * API for it); null when neither works, and then nothing is collected.
 */
export function fullGc(): (() => void) | null {
  if (gcFunction !== undefined) return gcFunction;
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === "function") return (gcFunction = global as () => void);
  try {
    setFlagsFromString("--expose-gc");
    const exposed: unknown = runInNewContext("gc");
    gcFunction = typeof exposed === "function" ? (exposed as () => void) : null;
  } catch {
    gcFunction = null;
  }
  return gcFunction;
}

/** Checks `requests()` every `everyMs` (an unref'd timer); returns the stop function. */
export function startIdleGc(requests: () => number, everyMs = IDLE_CHECK_MS): () => void {
  let state: IdleGcState = { seen: requests(), collectedAt: requests() };
  const timer = setInterval(() => {
    const { due, next } = idleGcDue(state, requests());
    state = next;
    if (due) fullGc()?.();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
