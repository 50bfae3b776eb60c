/**
 * A labelled object the index does not hold, while the app its label names has not been rendered
 * since gitgate started (a restart, or a GitApp just created): its desired state is unknown, not
 * absent, so gitgate cannot judge the change. It answers as kube-apiserver would settle an
 * unanswered call — the validating webhook's failurePolicy — but says why (docs/architecture.md,
 * "Before the index is complete").
 */
import { APP_LABEL } from "../manifest/labels.js";
import type { DesiredIndexReader } from "../manifest/desired.js";
import type { AdmissionPolicy, AdmissionRequest, Decision } from "./types.js";

export function awaitingAppDecision(
  request: AdmissionRequest,
  index: DesiredIndexReader,
  policy: AdmissionPolicy,
  key: string,
): Decision | undefined {
  const label =
    request.object?.metadata.labels?.[APP_LABEL] ?? request.oldObject?.metadata.labels?.[APP_LABEL];
  if (label === undefined || !index.awaits?.(label)) return undefined;
  const [namespace, ...rest] = label.split(".");
  const app = `${namespace ?? ""}/${rest.join(".")}`;
  const why = `gitgate has not yet rendered GitApp ${app} since it started, so it cannot compare this change with Git`;
  if ((policy.failurePolicy ?? "Fail") === "Ignore")
    return {
      allowed: true,
      verdict: "allowed",
      reason: "index-incomplete",
      key,
      warnings: [`${why}; allowed unchecked (failurePolicy Ignore).`],
    };
  return {
    allowed: false,
    verdict: "denied",
    reason: "index-incomplete",
    key,
    status: {
      code: 503,
      reason: "ServiceUnavailable",
      message: `${why}; refused as the webhook's failurePolicy Fail would (try again in a few seconds).`,
    },
  };
}
