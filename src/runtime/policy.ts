/** The admission policy: the config's enforcement settings, as decide() reads them. */
import type { AdmissionPolicy } from "../admission/types.js";
import { excludedNamespaces } from "../admission/webhook-config.js";
import { durationsOf } from "../config/duration.js";
import type { GitgateConfig } from "../config/schema.js";

export function admissionPolicy(
  config: GitgateConfig,
  selfUsername: string,
  resourceKinds?: Record<string, string>,
  holdSecret?: string,
): AdmissionPolicy {
  const e = config.enforcement;
  const durations = durationsOf(config);
  return {
    selfUsername,
    ...(resourceKinds ? { resourceKinds } : {}),
    ...(holdSecret ? { holdSecret } : {}),
    exemptUsers: e.exemptUsers,
    exemptGroups: e.exemptGroups,
    ignoredNamespaces: excludedNamespaces(config.namespace),
    defaultMode: e.defaultMode,
    breakGlassGroups: e.breakGlass.groups,
    breakGlassMaxSeconds: durations.breakGlassMaxSeconds,
    breakGlassDefaultSeconds: durations.breakGlassDefaultSeconds,
    ...(e.undeclaredFields ? { undeclaredFields: e.undeclaredFields } : {}),
    failurePolicy: config.webhook.failurePolicy,
  };
}
