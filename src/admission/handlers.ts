/**
 * POST /validate and POST /mutate. The request path is read → parse → decide → respond, on plain
 * node:http (`serve`, which gitgate's app runs before express): no framework between
 * kube-apiserver and decide(). Alerts and break-glass grants are handed off after the response is
 * on its way and can never fail it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { AlertSink } from "../alerts/event.js";
import type { Logger } from "../log/logger.js";
import type { DesiredEntry, DesiredIndexReader } from "../manifest/desired.js";
import { keyOf, type KubeObject } from "../manifest/object.js";
import { encodeResponse, parseReview } from "./codec.js";
import { decide, targetOf } from "./decide.js";
import { parseReviewJson } from "./decode.js";
import { noteDepthCap } from "./depth.js";
import { noMetrics, type AdmissionMetrics, type WebhookKind } from "./metrics.js";
import { outOfBandPatch } from "./mutate.js";
import type { AdmissionPolicy, AdmissionRequest, BreakGlassGrant, Decision, JsonPatchOp } from "./types.js";
import { MUTATE_PATH, VALIDATE_PATH } from "./webhook-config.js";

export interface AdmissionDeps {
  index: DesiredIndexReader;
  /** Read per request, so a config reload applies without re-mounting. */
  policy: () => AdmissionPolicy;
  alerts: AlertSink;
  logger: Logger;
  metrics?: AdmissionMetrics;
  now?: () => Date;
  onBreakGlass?: (grant: BreakGlassGrant) => void;
  /** The live object a break-glass member's scale request is for (its annotations); may ask the API server. */
  liveParent?: (entry: DesiredEntry) => KubeObject | undefined | Promise<KubeObject | undefined>;
  /** An admitted out-of-band change (warn, audit, break-glass; not dry runs): who changed which fields. */
  onAdmittedChange?: (key: string, username: string, paths: string[]) => void;
}

/** kube-apiserver caps request bodies at 3 MiB; an AdmissionReview with object and oldObject fits. */
const BODY_LIMIT = "3mb";
/** BODY_LIMIT in bytes, as body-parser reads "3mb". */
const BODY_LIMIT_BYTES = 3 * 1024 * 1024;

/**
 * The admission endpoints, two ways: `serve` is a plain node:http handler for use in front of
 * express; the Router itself (for `app.use`) runs `serve` first too. Both answer identically.
 */
export type AdmissionRouter = Router & {
  /**
   * Answers POST /validate and /mutate and returns true; returns false, touching neither req nor
   * res, for every other request, and for bodies left to express.json (a Content-Encoding other
   * than identity; a Content-Type other than `type/subtype` with at most `charset=utf-8`), which
   * the Router's express.json routes then decode or reject as before.
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean;
};

export function createAdmissionRouter(deps: AdmissionDeps): AdmissionRouter {
  const serve = (req: IncomingMessage, res: ServerResponse): boolean => serveAdmission(deps, req, res);
  const router = express.Router();
  router.use((req, res, next) => {
    if (!serve(req, res)) next();
  });
  // What `serve` leaves to express: compressed or non-UTF-8 bodies, unusual Content-Types.
  const json = express.json({ limit: BODY_LIMIT, type: () => true });
  router.post(VALIDATE_PATH, json, (req, res) => answer(deps, "validate", req.body, res));
  router.post(MUTATE_PATH, json, (req, res) => answer(deps, "mutate", req.body, res));
  // Body-parser failures (malformed JSON, too large) on these paths: a 400/413 with a reason, never a crash.
  router.use(
    [VALIDATE_PATH, MUTATE_PATH],
    (err: unknown, _req: Request, res: Response, next: NextFunction) => {
      const e = err as { status?: number; type?: string; message?: string };
      if (res.headersSent) return next(err);
      const status =
        e.status === 413 ? 413 : e.status !== undefined && e.status >= 400 && e.status < 500 ? 400 : 500;
      const error =
        e.type === "entity.parse.failed"
          ? NOT_JSON
          : e.type === "entity.too.large"
            ? TOO_LARGE
            : (e.message ?? "bad request");
      reject(deps, res, status, error);
    },
  );
  return Object.assign(router, { serve });
}

const NOT_JSON = "body is not valid JSON";
const TOO_LARGE = `body larger than ${BODY_LIMIT}`;

/** Which webhook a request is for, matched as express matches the routes (any case, one optional trailing slash, query ignored). */
function webhookOf(req: IncomingMessage): WebhookKind | undefined {
  if (req.method !== "POST") return undefined;
  const url = req.url ?? "";
  const query = url.indexOf("?");
  let path = query === -1 ? url : url.slice(0, query);
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  path = path.toLowerCase();
  return path === VALIDATE_PATH ? "validate" : path === MUTATE_PATH ? "mutate" : undefined;
}

/**
 * A Content-Type whose charset body-parser reads as UTF-8 (none given, or utf-8), in the grammar of
 * the `content-type` package; anything else goes to express.json, which decodes or rejects it.
 */
const PLAIN_CONTENT_TYPE =
  /^ *[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+ *(?:; *charset *= *(?:utf-8|"utf-8") *)?$/i;

function isPlainBody(req: IncomingMessage): boolean {
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") return false;
  const type = req.headers["content-type"];
  return type === undefined || PLAIN_CONTENT_TYPE.test(type);
}

/** Reads the body (capped at BODY_LIMIT), parses it as express.json does, answers. */
function serveAdmission(deps: AdmissionDeps, req: IncomingMessage, res: ServerResponse): boolean {
  const webhook = webhookOf(req);
  if (webhook === undefined || !isPlainBody(req)) return false;
  // Neither Content-Length nor Transfer-Encoding: express.json leaves req.body undefined.
  if (req.headers["transfer-encoding"] === undefined && Number.isNaN(Number(req.headers["content-length"]))) {
    req.resume();
    answer(deps, webhook, undefined, res);
    return true;
  }
  let tooLarge = Number(req.headers["content-length"]) > BODY_LIMIT_BYTES;
  let received = 0;
  let chunks: Buffer[] = [];
  let finished = false;
  req.on("data", (chunk: Buffer) => {
    if (tooLarge) return; // read off, not kept, like body-parser before it answers 413
    received += chunk.length;
    if (received > BODY_LIMIT_BYTES) {
      tooLarge = true;
      chunks = [];
    } else chunks.push(chunk);
  });
  req.on("end", () => {
    if (finished) return;
    finished = true;
    try {
      if (tooLarge) return reject(deps, res, 413, TOO_LARGE);
      let body: unknown;
      try {
        body = parseJsonBody(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
      } catch {
        return reject(deps, res, 400, NOT_JSON);
      }
      chunks = [];
      answer(deps, webhook, body, res);
    } catch (err) {
      // Where express would have caught a throw: a 500, never an uncaught exception.
      reject(deps, res, 500, err instanceof Error ? err.message : String(err));
    }
  });
  const aborted = (): void => {
    if (finished) return;
    finished = true;
    chunks = [];
    reject(deps, res, 400, "request aborted");
  };
  req.on("aborted", aborted);
  req.on("error", aborted);
  return true;
}

/**
 * JSON.parse as express.json (strict) does it: a UTF-8 byte-order mark is dropped, an empty body is
 * `{}`, and only an object or array is accepted at the top level.
 */
function parseJsonBody(raw: Buffer): unknown {
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

/** A request that never reached the decision (unreadable body): logged, answered with a reason, not counted. */
function reject(deps: AdmissionDeps, res: ServerResponse, status: number, error: string): void {
  deps.logger.warn({ status, error }, "admission request rejected");
  if (!res.headersSent) sendJson(res, status, { error });
}

function answer(deps: AdmissionDeps, webhook: WebhookKind, body: unknown, res: ServerResponse): void {
  const metrics = deps.metrics ?? noMetrics;
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const parsed = parseReview(body);
  if (!parsed.ok) {
    metrics.observe(webhook, "error", elapsed());
    deps.logger.warn({ webhook, error: parsed.error }, "malformed AdmissionReview");
    sendJson(res, 400, { error: parsed.error });
    return;
  }
  const { request } = parsed;
  const now = deps.now?.() ?? new Date();
  const policy = deps.policy();
  const failed = (err: unknown): void => {
    // A bug must not take the process down; kube-apiserver applies the webhook's failurePolicy to a 500.
    metrics.observe(webhook, "error", elapsed());
    deps.logger.error(
      { webhook, uid: request.uid, err: err instanceof Error ? err.message : String(err) },
      "admission failed",
    );
    if (!res.headersSent) sendJson(res, 500, { error: "gitgate failed to decide; see its log" });
  };
  const validate = (parent?: KubeObject): void => {
    const decided = decide(request, deps.index, policy, now, () => parent);
    const decision = parsed.capped ? noteDepthCap(decided) : decided;
    sendJson(res, 200, encodeResponse(request.uid, decision));
    metrics.observe(webhook, decision.verdict, elapsed());
    logDecision(deps, request, decision);
    handOff(deps, decision);
  };
  try {
    if (webhook === "mutate") {
      const patch = outOfBandPatch(request, deps.index, policy, now);
      sendJson(res, 200, encodeResponse(request.uid, { allowed: true, ...(patch ? { patch } : {}) }));
      metrics.observe(webhook, "allowed", elapsed());
      logMutation(deps, request, patch);
      return;
    }
    // The one request that needs more than the index: a break-glass member's scale reads the
    // parent object's annotations (the watch cache may not hold it, or may lag a kubectl annotate).
    const entry =
      deps.liveParent && scaleByBreakGlassMember(request, policy)
        ? deps.index.get(keyOf(targetOf(request, policy)))
        : undefined;
    if (!entry || !deps.liveParent) return validate();
    const lookup = deps.liveParent;
    Promise.resolve()
      .then(() => lookup(entry))
      .catch((err: unknown) => {
        deps.logger.warn({ uid: request.uid, err: String(err) }, "reading the scaled object failed");
        return undefined;
      })
      .then(validate)
      .catch(failed);
  } catch (err) {
    failed(err);
  }
}

function scaleByBreakGlassMember(request: AdmissionRequest, policy: AdmissionPolicy): boolean {
  return (
    request.subResource === "scale" &&
    (request.userInfo.groups ?? []).some((group) => policy.breakGlassGroups.includes(group))
  );
}

/** Off the request path: neither a slow nor a throwing sink can delay or break the answer. */
function handOff(deps: AdmissionDeps, decision: Decision): void {
  const { event, breakGlass } = decision;
  if (!event && !breakGlass) return;
  setImmediate(() => {
    try {
      if (breakGlass) deps.onBreakGlass?.(breakGlass);
    } catch (err) {
      deps.logger.error({ err: String(err), key: decision.key }, "recording break-glass failed");
    }
    try {
      const username = event?.actor?.username;
      if (username && decision.allowed && decision.changes?.length)
        deps.onAdmittedChange?.(
          decision.key,
          username,
          decision.changes.map((c) => c.path),
        );
    } catch (err) {
      deps.logger.error({ err: String(err), key: decision.key }, "recording an admitted change failed");
    }
    try {
      if (event) deps.alerts.emit(event);
    } catch (err) {
      deps.logger.error({ err: String(err), key: decision.key }, "alert emit failed");
    }
  });
}

function logDecision(deps: AdmissionDeps, request: AdmissionRequest, decision: Decision): void {
  // The fast path is nearly every request: keep it at debug, and build nothing when debug is off.
  const notable =
    decision.reason === "violation" ||
    decision.reason === "break-glass" ||
    decision.reason === "reserved-label";
  if (!notable && !deps.logger.isLevelEnabled("debug")) return;
  const fields = {
    uid: request.uid,
    key: decision.key,
    operation: request.operation,
    subResource: request.subResource,
    user: request.userInfo.username,
    verdict: decision.verdict,
    reason: decision.reason,
    dryRun: request.dryRun === true,
    fields: decision.changes?.map((c) => c.path),
  };
  if (notable) deps.logger.info(fields, "admission decision");
  else deps.logger.debug(fields, "admission decision");
}

function logMutation(deps: AdmissionDeps, request: AdmissionRequest, patch: JsonPatchOp[] | undefined): void {
  if (patch)
    deps.logger.info(
      { uid: request.uid, user: request.userInfo.username, name: request.name },
      "recorded out-of-band change",
    );
}
