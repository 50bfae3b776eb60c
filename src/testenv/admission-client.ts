/**
 * The client side of gitgate's webhook server, for tests: AdmissionReviews as kube-apiserver sends
 * them, and requests to the server (HTTPS with its CA, or plain HTTP) with the answer read whole.
 * Unit tests (src/) and integration tests (test/) share it; it imports nothing above manifest/.
 */
import {
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http";
import { request as httpsRequest, type Agent } from "node:https";
import type { KubeObject } from "../manifest/object.js";

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** What a test says about an AdmissionRequest; the rest is derived (see `admissionReview`). */
export interface ReviewRequest {
  /** Default "uid-1". */
  uid?: string;
  /** Default: from the object's (else oldObject's) apiVersion and kind. */
  kind?: GroupVersionKind;
  /** Default: the kind's group and version, and its lower-case plural (`ConfigMap` → `configmaps`). */
  resource?: GroupVersionResource;
  subResource?: string;
  /** Default: the object's (else oldObject's) metadata.name and metadata.namespace. */
  name?: string;
  namespace?: string;
  /** Default: UPDATE when there is an oldObject, else CREATE. */
  operation?: string;
  userInfo: { username: string; groups?: string[] };
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
}

/** An admission.k8s.io/v1 AdmissionReview, its request's fields in the order kube-apiserver sends them. */
export interface AdmissionReviewBody {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  request: ReviewRequest & {
    uid: string;
    kind: GroupVersionKind;
    resource: GroupVersionResource;
    operation: string;
  };
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The review kube-apiserver would send for `r`; fields left undefined are left out. */
export function admissionReview(r: ReviewRequest): AdmissionReviewBody {
  const subject = r.object ?? r.oldObject ?? undefined;
  const kind = r.kind ?? { ...splitApiVersion(subject?.apiVersion ?? "v1"), kind: subject?.kind ?? "" };
  const request = {
    uid: r.uid ?? "uid-1",
    kind,
    resource: r.resource ?? {
      group: kind.group,
      version: kind.version,
      resource: `${kind.kind.toLowerCase()}s`,
    },
    subResource: r.subResource,
    name: r.name ?? subject?.metadata.name,
    namespace: r.namespace ?? subject?.metadata.namespace,
    operation: r.operation ?? (r.oldObject ? "UPDATE" : "CREATE"),
    userInfo: r.userInfo,
    object: r.object,
    oldObject: r.oldObject,
    dryRun: r.dryRun,
  };
  for (const key of Object.keys(request) as Array<keyof typeof request>)
    if (request[key] === undefined) delete request[key];
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request };
}

/** A whole answer: status, headers and the body as text. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface CallOptions {
  /** Default GET. */
  method?: string;
  /** The server's CA certificate (PEM), for https: URLs. */
  ca?: string | Buffer;
  /** A client certificate and key (PEM) to present, as kube-apiserver does to a webhook with mTLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** An agent (keep-alive, its own CA), or false for a connection of the request's own. */
  agent?: Agent | false;
  headers?: OutgoingHttpHeaders;
}

/**
 * Starts a request without sending a body: the caller writes it and ends the request (a body in
 * parts, `Expect: 100-continue`). `answer` settles once the whole response is read, or on an error.
 */
export function openRequest(
  url: string,
  opts: CallOptions = {},
): { req: ClientRequest; answer: Promise<Answer> } {
  const options = {
    method: opts.method ?? "GET",
    ...(opts.headers ? { headers: opts.headers } : {}),
    ...(opts.agent !== undefined ? { agent: opts.agent } : {}),
  };
  const req = url.startsWith("https:")
    ? httpsRequest(url, {
        ...options,
        ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
        ...(opts.cert !== undefined && opts.key !== undefined ? { cert: opts.cert, key: opts.key } : {}),
      })
    : httpRequest(url, options);
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  return { req, answer };
}

/** One request with an optional body, answered whole. */
export function call(url: string, opts: CallOptions & { body?: string | Buffer } = {}): Promise<Answer> {
  const { req, answer } = openRequest(url, opts);
  req.end(opts.body);
  return answer;
}

/**
 * POSTs a review to a webhook path (`…/validate`, `…/mutate`): an object is sent as JSON, a string
 * or Buffer as it is (malformed bodies too). Content-Type is application/json unless `headers` say
 * otherwise; Content-Length is the body's.
 */
export function postReview(
  url: string,
  review: AdmissionReviewBody | string | Buffer,
  opts: Omit<CallOptions, "method"> = {},
): Promise<Answer> {
  const body = typeof review === "string" || Buffer.isBuffer(review) ? review : JSON.stringify(review);
  return call(url, {
    ...opts,
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...opts.headers,
    },
    body,
  });
}
