/**
 * One admission review, as a pure function: the parsed AdmissionReview body in, the HTTP status
 * and JSON payload out, with the decision that produced them. No I/O, no clock, no logging: the
 * pipeline (pipeline.ts) wraps it with metrics, logs and the hand-off of alerts and grants, and
 * server/admission-http.ts carries it over HTTP.
 */
import type { DesiredEntry, DesiredIndexReader } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import { encodeResponse, parseReview } from "./codec.js";
import { decide, liveParentNeeded } from "./decide.js";
import { noteDepthCap } from "./depth.js";
import type { WebhookKind } from "./metrics.js";
import { outOfBandPatch } from "./mutate.js";
import type { AdmissionPolicy, AdmissionRequest, Decision, JsonPatchOp } from "./types.js";

export interface ReviewDeps {
  index: DesiredIndexReader;
  policy: AdmissionPolicy;
  now: Date;
  /** The live parent object of a break-glass member's scale request, read beforehand (parentToRead). */
  parent?: KubeObject;
}

/** What a review answered: an AdmissionReview for kube-apiserver, or a 400 for a body that is not one. */
export type ReviewOutcome =
  | { kind: "malformed"; status: 400; payload: { error: string }; error: string }
  | { kind: "validated"; status: 200; payload: unknown; request: AdmissionRequest; decision: Decision }
  | { kind: "mutated"; status: 200; payload: unknown; request: AdmissionRequest; patch?: JsonPatchOp[] };

export type ParsedReview = ReturnType<typeof parseReview>;

export { parseReview };

export function review(webhook: WebhookKind, parsed: ParsedReview, deps: ReviewDeps): ReviewOutcome {
  if (!parsed.ok)
    return { kind: "malformed", status: 400, payload: { error: parsed.error }, error: parsed.error };
  const { request } = parsed;
  if (webhook === "mutate") {
    const patch = outOfBandPatch(request, deps.index, deps.policy, deps.now);
    const payload = encodeResponse(request.uid, { allowed: true, ...(patch ? { patch } : {}) });
    return { kind: "mutated", status: 200, payload, request, ...(patch ? { patch } : {}) };
  }
  const { parent } = deps;
  const decided = decide({ request, index: deps.index, policy: deps.policy, now: deps.now, parent });
  // Values past the depth cap were not compared with Git: the answer says so (depth.ts).
  const decision = parsed.capped ? noteDepthCap(decided) : decided;
  return {
    kind: "validated",
    status: 200,
    payload: encodeResponse(request.uid, decision),
    request,
    decision,
  };
}

/** The index entry whose live object is to be read before deciding (decide.ts: liveParentNeeded). */
export function parentToRead(
  webhook: WebhookKind,
  parsed: ParsedReview,
  index: DesiredIndexReader,
  policy: AdmissionPolicy,
): DesiredEntry | undefined {
  if (webhook !== "validate" || !parsed.ok) return undefined;
  return liveParentNeeded(parsed.request, index, policy);
}
