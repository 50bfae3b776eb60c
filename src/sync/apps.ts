/**
 * The GitApps as last seen by the controller's watch, by `namespace/name`. Written by the
 * controller; read by the alert routing (per-app channels), which the runtime creates before it.
 */
import { appKey, type GitApp } from "../api/gitapp.js";
import type { AppRef } from "../manifest/desired.js";
import { isNewer } from "./live.js";

export class GitApps extends Map<string, GitApp> {
  byRef(ref: AppRef): GitApp | undefined {
    return this.get(appKey(ref));
  }
}

/**
 * The app after a watch event. The watch lags: an event older than the status gitgate itself
 * just wrote (a health update, the previous reconcile's) would put an old sync operation back, and
 * the next reconcile would start that commit's operation again and run its hooks twice. Such an
 * event keeps the status written; its spec is taken (events arrive in order, so it is not older
 * than the spec held).
 */
export function afterWatchEvent(held: GitApp | undefined, incoming: GitApp): GitApp {
  if (!held || isNewer(incoming, held)) return incoming;
  return {
    ...incoming,
    metadata: { ...incoming.metadata, resourceVersion: held.metadata.resourceVersion },
    status: held.status,
  };
}

/** The app after gitgate's own status write: that status, on the newest spec held. */
export function afterStatusWrite(held: GitApp, written: GitApp): GitApp {
  if (!isNewer(written, held)) return held;
  return {
    ...held,
    metadata: { ...held.metadata, resourceVersion: written.metadata.resourceVersion },
    status: written.status,
  };
}
