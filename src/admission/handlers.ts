/**
 * POST /validate and POST /mutate. The request path is parse → decide → respond; alerts and
 * break-glass grants are handed off after the response is on its way and can never fail it.
 */
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { AlertSink } from "../alerts/event.js";
import type { Logger } from "../log/logger.js";
import type { DesiredIndexReader } from "../manifest/desired.js";
import { encodeResponse, parseReview } from "./codec.js";
import { decide } from "./decide.js";
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
}

/** kube-apiserver caps request bodies at 3 MiB; an AdmissionReview with object and oldObject fits. */
const BODY_LIMIT = "3mb";

export function createAdmissionRouter(deps: AdmissionDeps): Router {
  const router = express.Router();
  const json = express.json({ limit: BODY_LIMIT, type: () => true });
  router.post(VALIDATE_PATH, json, (req, res) => answer(deps, "validate", req, res));
  router.post(MUTATE_PATH, json, (req, res) => answer(deps, "mutate", req, res));
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
          ? "body is not valid JSON"
          : e.type === "entity.too.large"
            ? `body larger than ${BODY_LIMIT}`
            : (e.message ?? "bad request");
      deps.logger.warn({ status, error }, "admission request rejected");
      res.status(status).json({ error });
    },
  );
  return router;
}

function answer(deps: AdmissionDeps, webhook: WebhookKind, req: Request, res: Response): void {
  const metrics = deps.metrics ?? noMetrics;
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const parsed = parseReview(req.body);
  if (!parsed.ok) {
    metrics.observe(webhook, "error", elapsed());
    deps.logger.warn({ webhook, error: parsed.error }, "malformed AdmissionReview");
    res.status(400).json({ error: parsed.error });
    return;
  }
  const { request } = parsed;
  const now = deps.now?.() ?? new Date();
  try {
    if (webhook === "mutate") {
      const patch = outOfBandPatch(request, deps.index, deps.policy(), now);
      res.json(encodeResponse(request.uid, { allowed: true, ...(patch ? { patch } : {}) }));
      metrics.observe(webhook, "allowed", elapsed());
      logMutation(deps, request, patch);
      return;
    }
    const decision = decide(request, deps.index, deps.policy(), now);
    res.json(encodeResponse(request.uid, decision));
    metrics.observe(webhook, decision.verdict, elapsed());
    logDecision(deps, request, decision);
    handOff(deps, decision);
  } catch (err) {
    // A bug must not take the process down; kube-apiserver applies the webhook's failurePolicy to a 500.
    metrics.observe(webhook, "error", elapsed());
    deps.logger.error(
      { webhook, uid: request.uid, err: err instanceof Error ? err.message : String(err) },
      "admission failed",
    );
    if (!res.headersSent) res.status(500).json({ error: "gitgate failed to decide; see its log" });
  }
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
      if (event) deps.alerts.emit(event);
    } catch (err) {
      deps.logger.error({ err: String(err), key: decision.key }, "alert emit failed");
    }
  });
}

function logDecision(deps: AdmissionDeps, request: AdmissionRequest, decision: Decision): void {
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
  // The fast path is nearly every request: keep it at debug.
  if (decision.reason === "violation" || decision.reason === "break-glass")
    deps.logger.info(fields, "admission decision");
  else deps.logger.debug(fields, "admission decision");
}

function logMutation(deps: AdmissionDeps, request: AdmissionRequest, patch: JsonPatchOp[] | undefined): void {
  if (patch)
    deps.logger.info(
      { uid: request.uid, user: request.userInfo.username, name: request.name },
      "recorded out-of-band change",
    );
}
