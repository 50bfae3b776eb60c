/**
 * Break-glass: an on-call member of a break-glass group annotates the object with a reason (and
 * optionally an expiry) to change it outside Git for a while. Pure.
 */
import { BREAK_GLASS_EXPIRES_ANNOTATION, BREAK_GLASS_REASON_ANNOTATION } from "../manifest/labels.js";
import type { AdmissionPolicy, AdmissionRequest } from "./types.js";

export type BreakGlassCheck =
  { kind: "none" } | { kind: "granted"; reason: string; expiresAt: Date } | { kind: "refused"; note: string };

const DEFAULT_MAX_SECONDS = 3600;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * `annotations`: where the reason is read when the request cannot carry it — the live parent of a
 * `scale` request (kubectl annotate, then kubectl scale). Otherwise the requested object's.
 */
export function checkBreakGlass(
  request: AdmissionRequest,
  policy: AdmissionPolicy,
  now: Date,
  annotations: Record<string, string> = requestAnnotations(request),
): BreakGlassCheck {
  const reason = annotations[BREAK_GLASS_REASON_ANNOTATION]?.trim() ?? "";
  if (reason === "") return { kind: "none" };

  if (!inBreakGlassGroup(request, policy)) {
    return {
      kind: "refused",
      note: `Break-glass refused: ${request.userInfo.username} is not in a break-glass group.`,
    };
  }

  const maxSeconds = maxWindowSeconds(policy);
  const defaultSeconds = Math.min(positive(policy.breakGlassDefaultSeconds) ?? maxSeconds, maxSeconds);
  const latest = now.getTime() + maxSeconds * 1000;
  const requested = annotations[BREAK_GLASS_EXPIRES_ANNOTATION]?.trim();
  if (requested === undefined || requested === "") {
    return { kind: "granted", reason, expiresAt: new Date(now.getTime() + defaultSeconds * 1000) };
  }
  const at = RFC3339.test(requested) ? Date.parse(requested) : NaN;
  if (Number.isNaN(at)) {
    return {
      kind: "refused",
      note: `Break-glass refused: ${BREAK_GLASS_EXPIRES_ANNOTATION} is not an RFC 3339 time.`,
    };
  }
  // A past expiry left on the object from an earlier incident must not open a new window.
  if (at <= now.getTime()) {
    return {
      kind: "refused",
      note: `Break-glass refused: ${BREAK_GLASS_EXPIRES_ANNOTATION} ${requested} has passed.`,
    };
  }
  return { kind: "granted", reason, expiresAt: new Date(Math.min(at, latest)) };
}

/** Whether the requester is in one of the break-glass groups. */
export function inBreakGlassGroup(request: AdmissionRequest, policy: AdmissionPolicy): boolean {
  return (request.userInfo.groups ?? []).some((g) => policy.breakGlassGroups.includes(g));
}

/** The longest window a grant may open. */
export function maxWindowSeconds(policy: AdmissionPolicy): number {
  return positive(policy.breakGlassMaxSeconds) ?? DEFAULT_MAX_SECONDS;
}

function requestAnnotations(request: AdmissionRequest): Record<string, string> {
  // DELETE carries no object: the annotation must already be on the live one (kubectl annotate, then delete).
  return (request.object ?? request.oldObject)?.metadata.annotations ?? {};
}

/**
 * An UPDATE or CREATE that sets or changes the break-glass annotations: annotating alone opens a
 * window (for what cannot carry annotations, such as kubectl scale), once, not on every later write.
 */
export function opensBreakGlass(request: AdmissionRequest): boolean {
  if (request.operation !== "UPDATE" && request.operation !== "CREATE") return false;
  if (request.subResource) return false;
  const now = request.object?.metadata.annotations ?? {};
  const before = request.oldObject?.metadata.annotations ?? {};
  const reason = now[BREAK_GLASS_REASON_ANNOTATION]?.trim() ?? "";
  if (reason === "") return false;
  return (
    reason !== (before[BREAK_GLASS_REASON_ANNOTATION]?.trim() ?? "") ||
    now[BREAK_GLASS_EXPIRES_ANNOTATION] !== before[BREAK_GLASS_EXPIRES_ANNOTATION]
  );
}

function positive(value: number): number | undefined {
  return Number.isFinite(value) && value > 0 ? value : undefined;
}
