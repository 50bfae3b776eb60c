/** Why a GitApp is not Healthy, for its Ready condition: the object that makes it so, and why. */
import type { DesiredEntry } from "../manifest/desired.js";
import { describeRef } from "../manifest/object.js";
import type { HealthStatus } from "./health.js";

/** The first object whose health is the app's (when not Healthy), named, with its message. */
export function worstReason(
  desired: DesiredEntry[],
  healths: Array<{ status: HealthStatus; message?: string }>,
  app: HealthStatus,
): string | undefined {
  if (app === "Healthy") return undefined;
  const i = healths.findIndex((h) => h.status === app);
  const entry = desired[i];
  if (!entry) return undefined;
  const message = healths[i]?.message;
  return `${describeRef(entry.ref)} is ${app.toLowerCase()}${message ? `: ${message}` : ""}`;
}
