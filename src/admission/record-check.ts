/**
 * The out-of-band record (LAST_CHANGE_ANNOTATION) is gitgate's evidence of who changed an object
 * and of break-glass windows; its mutating webhook writes it into the requester's own write. A
 * request may carry a new or changed record only if it is the one gitgate would write for that
 * requester: named for them, and any new break-glass grant theirs and allowed. So a record from a
 * forged /mutate call, or typed by hand, is refused before kube-apiserver stores it. Pure.
 */
import { BREAK_GLASS_REASON_ANNOTATION, LAST_CHANGE_ANNOTATION } from "../manifest/labels.js";
import { inBreakGlassGroup, maxWindowSeconds } from "./break-glass.js";
import { signedHold, type VerifiedHold } from "../manifest/hold-record.js";
import { readLastChange } from "../manifest/last-change.js";
import type { KubeObject } from "../manifest/object.js";
import type { AdmissionPolicy, AdmissionRequest } from "./types.js";

/** Clock skew and latency between the mutating and the validating call. */
const SLACK_MS = 60_000;

/** Why the request's record is not gitgate's for this requester; undefined when it is (or is unchanged). */
export function recordProblem(
  request: AdmissionRequest,
  policy: AdmissionPolicy,
  key: string,
  now: Date,
): string | undefined {
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return undefined;
  const object = request.object;
  const text = object?.metadata.annotations?.[LAST_CHANGE_ANNOTATION];
  if (!object || text === undefined) return undefined; // absent or removed: no claim made
  if (text === request.oldObject?.metadata.annotations?.[LAST_CHANGE_ANNOTATION]) return undefined;
  const record = readLastChange(object);
  if (!record) return "it is not a record gitgate wrote";
  const user = request.userInfo.username;
  if (record.user !== user)
    return `it names ${typeof record.user === "string" ? record.user : "no user"}, not ${user}`;
  if (record.breakGlass === undefined) return undefined;
  const secret = policy.holdSecret ?? "";
  const hold = signedHold(object, key, secret);
  if (!hold) return "its break-glass grant is not signed by gitgate for this object";
  const before = request.oldObject ? signedHold(request.oldObject, key, secret) : undefined;
  if (before && sameHold(hold, before)) return undefined; // a window carried over from an earlier grant
  return grantProblem(request, policy, hold, now);
}

function sameHold(a: VerifiedHold, b: VerifiedHold): boolean {
  return (
    a.username === b.username && a.reason === b.reason && a.expiresAt.getTime() === b.expiresAt.getTime()
  );
}

/** A new grant: for the requester, in a break-glass group, with the reason on the object, within the maximum. */
function grantProblem(
  request: AdmissionRequest,
  policy: AdmissionPolicy,
  hold: VerifiedHold,
  now: Date,
): string | undefined {
  const user = request.userInfo.username;
  if (hold.username !== user) return `its break-glass grant is for ${hold.username}, not ${user}`;
  if (!inBreakGlassGroup(request, policy)) return `${user} is not in a break-glass group`;
  const reason = (request.object as KubeObject).metadata.annotations?.[BREAK_GLASS_REASON_ANNOTATION]?.trim();
  if (reason !== hold.reason)
    return `its break-glass reason is not the object's ${BREAK_GLASS_REASON_ANNOTATION}`;
  const max = maxWindowSeconds(policy);
  if (hold.expiresAt.getTime() > now.getTime() + max * 1000 + SLACK_MS)
    return `its break-glass window ends after the ${max} s maximum`;
  return undefined;
}
