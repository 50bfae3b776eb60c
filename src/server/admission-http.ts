/**
 * POST /validate and POST /mutate over plain node:http, in front of express (which gitgate's app
 * runs for everything else): match the route, read the body (one path: decompressed, UTF-8, capped
 * at 3 MiB, parsed as express.json's strict mode did), hand it to the admission pipeline, write
 * its JSON answer. A body that cannot be read is answered here with a reason, never a crash.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { Readable } from "node:stream";
import { parseReviewJson } from "../admission/decode.js";
import type { WebhookKind } from "../admission/metrics.js";
import {
  createReviewer,
  unknownClusterReviewer,
  type AdmissionDeps,
  type AdmissionReviewer,
} from "../admission/pipeline.js";
import { MUTATE_PATH, VALIDATE_PATH } from "../admission/webhook-config.js";
import { TurnSlices } from "../bounded/turn-slices.js";

/** kube-apiserver caps request bodies at 3 MiB; an AdmissionReview with object and oldObject fits. */
const BODY_LIMIT_BYTES = 3 * 1024 * 1024;
const NOT_JSON = "body is not valid JSON";
const TOO_LARGE = "body larger than 3mb";
/** A review takes 0.1–1 ms: a slice holds a few, and the loop polls (accepts, reads) between slices. */
const SLICE_MS = 5;

export interface AdmissionTransport {
  /**
   * Answers POST /validate and /mutate and returns true; returns false, touching neither req nor
   * res, for every other request (express serves those).
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean;
}

export interface TransportOptions {
  /**
   * Checked before the body is read: a reason refuses the request with 403, so it never reaches
   * the review (webhook.clientCA: only kube-apiserver's client certificate counts).
   */
  refuse?: (req: IncomingMessage, cluster: string | undefined) => string | undefined;
  /**
   * `/validate/<cluster>` and `/mutate/<cluster>`: the review of a registered cluster, decided from
   * its own index. Absent, or undefined for that name: the request is refused as not managed.
   */
  cluster?: (name: string) => AdmissionDeps | undefined;
  /** Most time one turn of the event loop spends reviewing (TurnSlices); default 5 ms. */
  sliceMs?: number;
}

export function createAdmissionTransport(
  deps: AdmissionDeps,
  options: TransportOptions = {},
): AdmissionTransport {
  const reviewer = createReviewer(deps);
  const slices = new TurnSlices(options.sliceMs ?? SLICE_MS, (err) =>
    deps.logger.error({ err: String(err) }, "admission request failed"),
  );
  // One reviewer per registered cluster's deps (a re-registered cluster brings new ones).
  const clusterReviewers = new WeakMap<AdmissionDeps, AdmissionReviewer>();
  const reviewerOf = (cluster: string | undefined): AdmissionReviewer => {
    if (cluster === undefined) return reviewer;
    const clusterDeps = options.cluster?.(cluster);
    if (!clusterDeps) return unknownClusterReviewer(cluster, deps.logger);
    let found = clusterReviewers.get(clusterDeps);
    if (!found) clusterReviewers.set(clusterDeps, (found = createReviewer(clusterDeps)));
    return found;
  };
  const reject = (res: ServerResponse, status: number, error: string): void => {
    // A request that never reached the review (refused client, unreadable body): logged, answered, not counted.
    deps.logger.warn({ status, error }, "admission request rejected");
    if (!res.headersSent) sendJson(res, status, { error });
  };
  return {
    serve(req, res) {
      const route = routeOf(req);
      if (route === undefined) return false;
      const { webhook, cluster } = route;
      const refused = options.refuse?.(req, cluster);
      if (refused !== undefined) {
        req.resume();
        reject(res, 403, refused);
        return true;
      }
      readBody(req, (result) => {
        if (!result.ok) return reject(res, result.status, result.error);
        // Parsed and reviewed in a slice of its own turn (TurnSlices): accepts go on meanwhile.
        slices.run(() => {
          let body: unknown;
          try {
            body = parseJsonBody(result.raw);
          } catch {
            return reject(res, 400, NOT_JSON);
          }
          try {
            reviewerOf(cluster)(webhook, body, (status, payload) => sendJson(res, status, payload));
          } catch (err) {
            // Where express would have caught a throw: a 500, never an uncaught exception.
            reject(res, 500, err instanceof Error ? err.message : String(err));
          }
        });
      });
      return true;
    },
  };
}

/** A registered cluster's name in a webhook path: a DNS label, as cluster Secrets require. */
const CLUSTER_SEGMENT = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Which webhook a request is for, matched as express matched the routes (any case, one optional
 * trailing slash, query ignored), and for which registered cluster (`/validate/<cluster>`).
 */
export function routeOf(
  req: Pick<IncomingMessage, "method" | "url">,
): { webhook: WebhookKind; cluster?: string } | undefined {
  if (req.method !== "POST") return undefined;
  const url = req.url ?? "";
  const query = url.indexOf("?");
  let path = query === -1 ? url : url.slice(0, query);
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  path = path.toLowerCase();
  const slash = path.indexOf("/", 1);
  const base = slash === -1 ? path : path.slice(0, slash);
  const webhook: WebhookKind | undefined =
    base === VALIDATE_PATH ? "validate" : base === MUTATE_PATH ? "mutate" : undefined;
  if (webhook === undefined) return undefined;
  if (slash === -1) return { webhook };
  const cluster = path.slice(slash + 1);
  return CLUSTER_SEGMENT.test(cluster) ? { webhook, cluster } : undefined;
}

type BodyResult = { ok: true; raw: Buffer | undefined } | { ok: false; status: number; error: string };

/**
 * The request body's bytes as express.json read them: undefined without Content-Length or
 * Transfer-Encoding; gzip, deflate and br decoded; a charset other than UTF-8 refused; 413 beyond
 * the limit (counted after decoding). parseJsonBody refuses what is not a JSON object or array.
 */
function readBody(req: IncomingMessage, done: (result: BodyResult) => void): void {
  if (req.headers["transfer-encoding"] === undefined && Number.isNaN(Number(req.headers["content-length"]))) {
    req.resume();
    return done({ ok: true, raw: undefined });
  }
  const charset = charsetOf(req.headers["content-type"]);
  if (charset !== "utf-8") return refuse(req, done, `unsupported charset "${charset.toUpperCase()}"`);
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
  const stream = decoded(req, encoding);
  if (!stream) return refuse(req, done, `unsupported content encoding "${encoding}"`);
  let tooLarge = encoding === "identity" && Number(req.headers["content-length"]) > BODY_LIMIT_BYTES;
  let received = 0;
  let chunks: Buffer[] = [];
  let finished = false;
  const finish = (result: BodyResult): void => {
    if (finished) return;
    finished = true;
    chunks = [];
    done(result);
  };
  stream.on("data", (chunk: Buffer) => {
    if (tooLarge) return; // read off, not kept, like body-parser before it answers 413
    received += chunk.length;
    if (received > BODY_LIMIT_BYTES) {
      tooLarge = true;
      chunks = [];
    } else chunks.push(chunk);
  });
  stream.on("end", () => {
    if (tooLarge) return finish({ ok: false, status: 413, error: TOO_LARGE });
    finish({ ok: true, raw: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received) });
  });
  const aborted = (): void => finish({ ok: false, status: 400, error: "request aborted" });
  req.on("aborted", aborted);
  req.on("error", aborted);
  // A corrupt compressed body: 400 with the decoder's reason, as body-parser answered. The rest of
  // the body is read off, so the answer reaches the client instead of a reset connection.
  if (stream !== req)
    stream.on("error", (err: Error) => {
      req.unpipe();
      req.resume();
      finish({ ok: false, status: 400, error: err.message });
    });
}

/** Refused before reading (body-parser's 415s, which the express routes answered as 400). */
function refuse(req: IncomingMessage, done: (result: BodyResult) => void, error: string): void {
  req.resume();
  done({ ok: false, status: 400, error });
}

function decoded(req: IncomingMessage, encoding: string): Readable | undefined {
  switch (encoding) {
    case "identity":
      return req;
    case "gzip":
      return req.pipe(createGunzip());
    case "deflate":
      return req.pipe(createInflate());
    case "br":
      return req.pipe(createBrotliDecompress());
    default:
      return undefined;
  }
}

/** The charset parameter of a Content-Type, lower case; UTF-8 when none is given. */
function charsetOf(contentType: string | undefined): string {
  const match = /;\s*charset\s*=\s*("?)([^";\s]*)\1/i.exec(contentType ?? "");
  return match?.[2] ? match[2].toLowerCase() : "utf-8";
}

/**
 * JSON.parse as express.json (strict) does it: a UTF-8 byte-order mark is dropped, an empty body is
 * `{}`, and only an object or array is accepted at the top level.
 */
function parseJsonBody(raw: Buffer | undefined): unknown {
  if (raw === undefined) return undefined;
  let text = raw.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {};
  const first = text.charCodeAt(0);
  if (first !== 0x7b && first !== 0x5b) {
    const char = /^[ \t\n\r]*([^ \t\n\r]|$)/.exec(text)?.[1];
    if (char !== "{" && char !== "[") throw new SyntaxError("not a JSON object or array");
  }
  return parseReviewJson(text);
}

/** express's res.json without the ETag (a hash of every answer) and the framework around it. */
function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}
