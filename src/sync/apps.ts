/**
 * The GitApps as last seen by the controller's watch, by `namespace/name`. Written by the
 * controller; read by the alert routing (per-app channels), which the runtime creates before it.
 */
import { appKey, type GitApp } from "../api/gitapp.js";
import type { AppRef } from "../manifest/desired.js";

export class GitApps extends Map<string, GitApp> {
  byRef(ref: AppRef): GitApp | undefined {
    return this.get(appKey(ref));
  }
}
