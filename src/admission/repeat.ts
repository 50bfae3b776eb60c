/**
 * One client request, one alert. kube-apiserver runs validating admission again for one update or
 * delete when the object it started from came from its watch cache and turned out stale (the
 * store's GuaranteedUpdate retries with the object read from etcd, kubernetes/kubernetes#104182):
 * gitgate then gets two AdmissionReviews, with different uids, for one `kubectl patch`, and would
 * emit two identical `change-denied` events. An event identical to one emitted within the last
 * moment (same type, actor, object, operation and fields) is that retry and is dropped. A user who
 * repeats the very same refused change within the window is shown once: the alert dispatcher's
 * dedup window already folds such repeats.
 */
import { createHash } from "node:crypto";
import { Deduplicator } from "../bounded/seen.js";
import { changeIdentity, type AlertEvent } from "../manifest/event.js";

/** kube-apiserver retries at once (one etcd read): two seconds covers a slow webhook answer. */
export const REPEAT_WINDOW_MS = 2000;
const MAX_REMEMBERED = 2000;

/** What makes two admission events the same change (not the time, not the review's uid). */
export function repeatKey(event: AlertEvent): string {
  return createHash("sha256").update(changeIdentity(event)).digest("base64url");
}

export class RepeatFilter {
  private readonly seen: Deduplicator;

  constructor(windowMs = REPEAT_WINDOW_MS, max = MAX_REMEMBERED, now: () => number = Date.now) {
    this.seen = new Deduplicator(windowMs, now, max);
  }

  /** True for the first event of a change; false for its repeat within the window. */
  first(event: AlertEvent): boolean {
    return !this.seen.isDuplicate(repeatKey(event));
  }
}
