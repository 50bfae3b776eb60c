/**
 * The admission pipeline around the pure review (review.ts): the clock and policy in, the answer
 * out through `send` first, then metrics, a log line and the hand-off of alerts and admitted-change
 * claims to the gate state — after the response is on its way, so that none of them
 * can delay or fail it. The HTTP transport is server/admission-http.ts.
 */
import type { GateForAdmission } from "../gate/gate.js";
import type { Logger } from "../log/logger.js";
import type { DesiredEntry } from "../manifest/desired.js";
import type { AlertSink } from "../manifest/event.js";
import type { KubeObject } from "../manifest/object.js";
import { noMetrics, type AdmissionMetrics, type MetricVerdict, type WebhookKind } from "./metrics.js";
import { encodeResponse } from "./codec.js";
import { RepeatFilter } from "./repeat.js";
import { parentToRead, parseReview, review, type ReviewOutcome } from "./review.js";
import type { AdmissionPolicy, AdmissionRequest, Decision, JsonPatchOp } from "./types.js";

export interface AdmissionDeps {
  /** The index answered from, and where admitted-change claims go. */
  gate: GateForAdmission;
  /** Read per request, so a config reload applies without re-mounting. */
  policy: () => AdmissionPolicy;
  alerts: AlertSink;
  logger: Logger;
  metrics?: AdmissionMetrics;
  now?: () => Date;
  /** The live object a break-glass member's scale request is for (its annotations); may ask the API server. */
  liveParent?: (entry: DesiredEntry) => KubeObject | undefined | Promise<KubeObject | undefined>;
}

/** Writes one JSON answer (status, payload). */
export type Send = (status: number, payload: unknown) => void;

/** Reviews one request body (already read and parsed as JSON) and answers through `send`. */
export type AdmissionReviewer = (webhook: WebhookKind, body: unknown, send: Send) => void;

export function createReviewer(deps: AdmissionDeps): AdmissionReviewer {
  // One filter per reviewer: kube-apiserver's re-run of one request reaches the same process.
  const repeats = new RepeatFilter();
  const withRepeats = { ...deps, repeats };
  return (webhook, body, send) => reviewRequest(withRepeats, webhook, body, send);
}

/**
 * The answer to a review on the path of a cluster gitgate does not manage (`/validate/<name>` with
 * no registered cluster of that name): denied, by gitgate, saying so; never judged by another index.
 */
export function unknownClusterReviewer(cluster: string, logger: Logger): AdmissionReviewer {
  return (webhook, body, send) => {
    const parsed = parseReview(body);
    if (!parsed.ok) return send(400, { error: parsed.error });
    const message = `gitgate does not manage cluster "${cluster}" (no registered cluster of that name): request refused`;
    logger.warn({ webhook, cluster, uid: parsed.request.uid }, message);
    send(
      200,
      encodeResponse(parsed.request.uid, {
        allowed: false,
        status: { code: 403, reason: "Forbidden", message },
      }),
    );
  };
}

type PipelineDeps = AdmissionDeps & { repeats: RepeatFilter };

function reviewRequest(deps: PipelineDeps, webhook: WebhookKind, body: unknown, send: Send): void {
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const observe = (verdict: MetricVerdict): void =>
    (deps.metrics ?? noMetrics).observe(webhook, verdict, elapsed());
  let answered = false;
  const finish = (outcome: ReviewOutcome): void => {
    send(outcome.status, outcome.payload);
    answered = true;
    afterAnswer(deps, webhook, outcome, observe);
  };
  const failed = (err: unknown, uid: string | undefined): void => {
    // A bug must not take the process down; kube-apiserver applies the webhook's failurePolicy to a 500.
    observe("error");
    deps.logger.error(
      { webhook, uid, err: err instanceof Error ? err.message : String(err) },
      "admission failed",
    );
    if (!answered) send(500, { error: "gitgate failed to decide; see its log" });
  };
  const parsed = parseReview(body);
  const uid = parsed.ok ? parsed.request.uid : undefined;
  const reviewDeps = { index: deps.gate.index, policy: deps.policy(), now: deps.now?.() ?? new Date() };
  try {
    const entry = deps.liveParent
      ? parentToRead(webhook, parsed, reviewDeps.index, reviewDeps.policy)
      : undefined;
    const lookup = deps.liveParent;
    if (!entry || !lookup) return finish(review(webhook, parsed, reviewDeps));
    Promise.resolve()
      .then(() => lookup(entry))
      .catch((err: unknown) => {
        deps.logger.warn({ uid, err: String(err) }, "reading the scaled object failed");
        return undefined;
      })
      .then((parent) => finish(review(webhook, parsed, { ...reviewDeps, parent })))
      .catch((err: unknown) => failed(err, uid));
  } catch (err) {
    failed(err, uid);
  }
}

/** Metrics, the log line and the hand-off, once the answer is sent. */
function afterAnswer(
  deps: PipelineDeps,
  webhook: WebhookKind,
  outcome: ReviewOutcome,
  observe: (verdict: MetricVerdict) => void,
): void {
  switch (outcome.kind) {
    case "malformed":
      observe("error");
      deps.logger.warn({ webhook, error: outcome.error }, "malformed AdmissionReview");
      return;
    case "mutated":
      observe("allowed");
      logMutation(deps, outcome.request, outcome.patch);
      return;
    case "validated":
      observe(outcome.decision.verdict);
      logDecision(deps, outcome.request, outcome.decision);
      handOff(deps, outcome.decision);
  }
}

/**
 * Off the request path: neither a slow nor a throwing sink can delay or break the answer. Nothing
 * here grants anything: a break-glass window opens when the watch sees gitgate's signed record on
 * the stored object, and an admitted change is a claim the live object must confirm (gate.ts).
 */
function handOff(deps: PipelineDeps, decision: Decision): void {
  const { event, claimed } = decision;
  if (!event && !claimed) return;
  setImmediate(() => {
    try {
      const username = event?.actor?.username;
      if (username && decision.allowed && claimed?.length)
        deps.gate.recordAdmittedChange(decision.key, username, claimed);
    } catch (err) {
      deps.logger.error({ err: String(err), key: decision.key }, "recording an admitted change failed");
    }
    try {
      // kube-apiserver's retry of the same request (repeat.ts) is not a second change.
      if (event && deps.repeats.first(event)) deps.alerts.emit(event);
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
    decision.reason === "reserved-label" ||
    decision.reason === "forged-record";
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
