/** Jobs and CronJobs. Pure. */
import type { KubeObject } from "../manifest/object.js";
import { conditionsOf, fields, health, isTrue, text, type Health } from "./types.js";

export function jobHealth(obj: KubeObject): Health {
  const spec = fields(obj.spec);
  const status = fields(obj.status);
  const conditions = conditionsOf(status);
  const failed = conditions.find((c) => c.type === "Failed" && isTrue(c));
  if (failed) return health("Degraded", text(failed, "message") || text(failed, "reason") || "job failed");
  const complete = conditions.find((c) => c.type === "Complete" && isTrue(c));
  if (complete) return health("Healthy", text(complete, "message"));
  const suspended = conditions.find((c) => c.type === "Suspended" && isTrue(c));
  if (suspended || spec.suspend === true) return health("Suspended", "job is suspended");
  return health("Progressing", "job running");
}

/**
 * A CronJob is Suspended when `spec.suspend` is set; otherwise its last scheduled run tells: a run
 * scheduled after the last success that is no longer active did not succeed.
 */
export function cronJobHealth(obj: KubeObject): Health {
  const spec = fields(obj.spec);
  const status = fields(obj.status);
  if (spec.suspend === true) return health("Suspended", "CronJob is suspended");
  const scheduled = text(status, "lastScheduleTime");
  const succeeded = text(status, "lastSuccessfulTime");
  const active = Array.isArray(status.active) && status.active.length > 0;
  if (!scheduled) return health("Healthy", "not run yet");
  if (active) return health("Healthy", `running the job scheduled at ${scheduled}`);
  if (!succeeded || Date.parse(succeeded) < Date.parse(scheduled))
    return health("Degraded", `the job scheduled at ${scheduled} did not succeed`);
  return health("Healthy", `last succeeded at ${succeeded}`);
}
