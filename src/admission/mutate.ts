/**
 * The narrow mutating webhook: an admitted out-of-band change to a managed object gets an annotation
 * saying who changed which declared fields and when, so drift found later can be attributed even
 * after managedFields have been rewritten. Pure; runs before validation, and adds nothing when the
 * validating webhook would deny the request anyway. kube-apiserver sends it UPDATEs only
 * (webhook-config.ts says why); a CREATE handed in directly is still judged the same way.
 */
import { escapePointerToken } from "../diff/path.js";
import type { DesiredIndexReader } from "../manifest/desired.js";
import { carriedHold, signHold } from "../manifest/hold-record.js";
import type { OutOfBandRecord } from "../manifest/last-change.js";
import { LAST_CHANGE_ANNOTATION } from "../manifest/labels.js";
import { keyOf } from "../manifest/object.js";
import { opensBreakGlass } from "./break-glass.js";
import { decide, targetOf, violationsOf } from "./decide.js";
import type { AdmissionPolicy, AdmissionRequest, JsonPatchOp } from "./types.js";

/** Keeps the annotation small: field paths beyond this are counted in `more`. */
const MAX_FIELDS = 20;

export function outOfBandPatch(
  request: AdmissionRequest,
  index: DesiredIndexReader,
  policy: AdmissionPolicy,
  now: Date,
): JsonPatchOp[] | undefined {
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return undefined;
  if (request.subResource || !request.object) return undefined; // a Scale object's annotations are not stored
  if (request.userInfo.username === policy.selfUsername) return undefined;
  const entry = index.get(keyOf(targetOf(request, policy)));
  if (!entry || entry.mode === "off") return undefined;
  const { changes } = violationsOf(request, entry, policy);
  // No declared field changes: only a request opening a break-glass window is recorded (its signed
  // grant is how every replica learns of the window; a later kubectl scale relies on it).
  if (changes.length === 0 && !opensBreakGlass(request)) return undefined;
  const decision = decide({ request, index, policy, now });
  if (!decision.allowed) return undefined;
  if (changes.length === 0 && !decision.breakGlass) return undefined;

  const fields = changes.map((c) => c.path);
  // A new grant, or the window already open on the object: the record replaces the annotation,
  // and without it the other replicas would stop honouring that window.
  const secret = policy.holdSecret;
  const breakGlass = !secret
    ? undefined
    : decision.breakGlass
      ? signHold(
          secret,
          decision.key,
          request.userInfo.username,
          decision.breakGlass.expiresAt,
          decision.breakGlass.reason,
        )
      : request.oldObject
        ? carriedHold(request.oldObject, decision.key, secret, now)
        : undefined;
  const record: OutOfBandRecord = {
    user: request.userInfo.username,
    groups: request.userInfo.groups ?? [],
    fields: fields.slice(0, MAX_FIELDS),
    ...(fields.length > MAX_FIELDS ? { more: fields.length - MAX_FIELDS } : {}),
    time: now.toISOString(),
    ...(breakGlass ? { breakGlass } : {}),
  };
  return setAnnotationPatch(
    request.object.metadata.annotations,
    LAST_CHANGE_ANNOTATION,
    JSON.stringify(record),
  );
}

/**
 * RFC 6902 ops setting one annotation. `add` on an object member replaces an existing value; the
 * map itself must exist first, and `/` in the key is escaped as `~1` (RFC 6901).
 */
export function setAnnotationPatch(
  annotations: Record<string, string> | undefined,
  name: string,
  value: string,
): JsonPatchOp[] {
  if (annotations === undefined || annotations === null) {
    return [{ op: "add", path: "/metadata/annotations", value: { [name]: value } }];
  }
  return [{ op: "add", path: `/metadata/annotations/${escapePointerToken(name)}`, value }];
}
