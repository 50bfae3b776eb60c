/**
 * AdmissionReview v1 on the wire: validation of what kube-apiserver sends (ajv, once compiled) and the
 * exact response shape it expects back. Never throws on any input.
 */
import { Ajv } from "ajv";
import { isPlainObject, type KubeObject } from "../manifest/object.js";
import { capDepth, depthMarker } from "./depth.js";
import type { AdmissionRequest, AdmissionStatus, JsonPatchOp } from "./types.js";

const str = { type: "string" } as const;
const stringMap = { type: "object", additionalProperties: str } as const;
const objectOrNull = {
  type: ["object", "null"],
  properties: {
    apiVersion: str,
    kind: str,
    metadata: {
      type: "object",
      properties: { name: str, namespace: str, labels: stringMap, annotations: stringMap },
    },
  },
} as const;

/** Only the fields gitgate reads are constrained; everything else kube-apiserver adds passes through. */
const reviewSchema = {
  type: "object",
  required: ["apiVersion", "kind", "request"],
  properties: {
    apiVersion: { const: "admission.k8s.io/v1" },
    kind: { const: "AdmissionReview" },
    request: {
      type: "object",
      required: ["uid", "kind", "resource", "operation", "userInfo"],
      properties: {
        uid: { type: "string", minLength: 1, maxLength: 256 },
        kind: {
          type: "object",
          required: ["group", "version", "kind"],
          properties: { group: str, version: str, kind: str },
        },
        resource: {
          type: "object",
          required: ["group", "version", "resource"],
          properties: { group: str, version: str, resource: str },
        },
        subResource: str,
        name: str,
        namespace: str,
        operation: { enum: ["CREATE", "UPDATE", "DELETE", "CONNECT"] },
        userInfo: {
          type: "object",
          required: ["username"],
          properties: { username: str, uid: str, groups: { type: "array", items: str } },
        },
        object: objectOrNull,
        oldObject: objectOrNull,
        dryRun: { type: "boolean" },
        options: { type: ["object", "null"] },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true });
const validateReview = ajv.compile(reviewSchema);

export type ParseResult =
  | {
      ok: true;
      request: AdmissionRequest;
      /** Values deeper than MAX_DEPTH were replaced (depth.ts). */ capped?: true;
    }
  | { ok: false; error: string };

export function parseReview(body: unknown): ParseResult {
  if (!isPlainObject(body)) {
    return {
      ok: false,
      error: "body must be an AdmissionReview JSON object (Content-Type: application/json)",
    };
  }
  if (!validateReview(body)) {
    const detail = ajv.errorsText(validateReview.errors, { dataVar: "review", separator: "; " });
    return { ok: false, error: `invalid AdmissionReview: ${detail.slice(0, 300)}` };
  }
  const request = { ...(body.request as Record<string, unknown>) } as unknown as AdmissionRequest;
  if ((request.operation === "CREATE" || request.operation === "UPDATE") && !request.object) {
    return {
      ok: false,
      error: `invalid AdmissionReview: review.request.object is required for ${request.operation}`,
    };
  }
  // The decision's helpers recurse: nothing deeper than MAX_DEPTH reaches them (see depth.ts).
  const capped = [
    capDepth(request.object, depthMarker("object")),
    capDepth(request.oldObject, depthMarker("oldObject")),
  ].includes(true);
  request.object = withMetadata(request.object);
  request.oldObject = withMetadata(request.oldObject);
  return capped ? { ok: true, request, capped } : { ok: true, request };
}

/** Scale and CONNECT option objects may arrive without metadata; give every object one so readers need no guards. */
function withMetadata(obj: KubeObject | null | undefined): KubeObject | null | undefined {
  if (!obj) return obj;
  return {
    ...obj,
    apiVersion: typeof obj.apiVersion === "string" ? obj.apiVersion : "",
    kind: typeof obj.kind === "string" ? obj.kind : "",
    metadata: isPlainObject(obj.metadata) ? obj.metadata : {},
  };
}

export interface ResponseDecision {
  allowed: boolean;
  status?: AdmissionStatus;
  warnings?: string[];
  patch?: JsonPatchOp[];
}

export interface AdmissionReviewResponse {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  response: {
    uid: string;
    allowed: boolean;
    status?: AdmissionStatus;
    warnings?: string[];
    patchType?: "JSONPatch";
    patch?: string;
  };
}

/** kube-apiserver truncates long warnings and drops them past 4 KiB in total; keep them few and single-line. */
const MAX_WARNINGS = 10;
const MAX_WARNING_LENGTH = 256;

export function encodeResponse(uid: string, decision: ResponseDecision): AdmissionReviewResponse {
  const response: AdmissionReviewResponse["response"] = { uid, allowed: decision.allowed };
  if (decision.status)
    response.status = { ...decision.status, message: oneLine(decision.status.message, 4096) };
  const warnings = (decision.warnings ?? [])
    .slice(0, MAX_WARNINGS)
    .map((w) => oneLine(w, MAX_WARNING_LENGTH));
  if (warnings.length > 0) response.warnings = warnings;
  if (decision.patch && decision.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(decision.patch), "utf8").toString("base64");
  }
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

export function oneLine(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
