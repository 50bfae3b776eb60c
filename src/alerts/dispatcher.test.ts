import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { afterEach, describe, it } from "node:test";
import { CANARY, deniedEvent, secretEvent } from "../../test/fixtures/alerts/events.js";
import {
  FAST,
  capturedLogger,
  closeAll,
  counter,
  dispatcher,
  distinct,
  receiver,
  track,
} from "../../test/fixtures/alerts/harness.js";
import {
  assertValid,
  payloadValidators,
  type Receiver,
  type Responder,
} from "../../test/fixtures/alerts/receivers.js";
import { silentLogger } from "../log/logger.js";
import { createAlertDispatcher, type AlertDispatcher } from "./dispatcher.js";

const validators = payloadValidators();
afterEach(closeAll);

describe("alert dispatcher", () => {
  it("delivers schema-valid, signed messages to Slack, Teams and a webhook", async () => {
    const [slack, teams, hook] = await Promise.all([receiver(), receiver(), receiver()]);
    const { alerts, registry } = dispatcher([
      { name: "slack", type: "slack", url: slack.url },
      { name: "teams", type: "teams", url: teams.url },
      { name: "hook", type: "webhook", url: hook.url, secret: "hmac-key" },
    ]);
    alerts.emit(deniedEvent());
    await Promise.all([slack.waitFor(1), teams.waitFor(1), hook.waitFor(1)]);
    assertValid(validators.slack, slack.requests[0]?.json);
    assertValid(validators.teams, teams.requests[0]?.json);
    const req = hook.requests[0];
    assert.ok(req);
    // GitHub's documented scheme, computed here over the bytes received: sha256=<hex HMAC-SHA256>.
    const want = `sha256=${createHmac("sha256", "hmac-key").update(req.body).digest("hex")}`;
    assert.equal(req.headers["x-gitgate-signature-256"], want);
    assert.equal(req.headers["x-gitgate-event"], "change-denied");
    assert.equal((req.json as { version: string }).version, "gitgate.io/v1");
    await alerts.flush(2_000);
    assert.equal(await counter(registry, "gitgate_alerts_sent_total"), 3);
  });

  it("never puts a Secret canary or a webhook URL into payloads or log lines", async () => {
    const { logger, lines } = capturedLogger();
    const failing: Responder = (_r, n) =>
      n === 0 ? { status: 500 } : { status: 400, body: "invalid_blocks" };
    const [slack, teams, hook] = await Promise.all([receiver(failing), receiver(), receiver()]);
    const { alerts } = dispatcher(
      [
        { name: "slack", type: "slack", url: slack.url },
        { name: "teams", type: "teams", url: teams.url },
        { name: "hook", type: "webhook", url: hook.url, secret: "k" },
      ],
      {},
      logger,
    );
    alerts.emit(secretEvent());
    await Promise.all([slack.waitFor(2), teams.waitFor(1), hook.waitFor(1)]);
    await alerts.flush(2_000);
    const bodies = [...slack.requests, ...teams.requests, ...hook.requests].map((r) => r.body);
    for (const body of bodies) assert.ok(!body.includes(CANARY), "canary in payload");
    assert.ok(lines.length >= 3, "retry, rejection and delivery were logged");
    for (const line of lines) {
      assert.ok(!line.includes(CANARY), `canary in log: ${line}`);
      assert.ok(!line.includes("URLTOKENCANARY") && !line.includes("127.0.0.1"), `URL in log: ${line}`);
    }
    assert.ok(lines.some((l) => l.includes('"reason":"invalid_blocks"')));
  });

  it("retries a 500 and delivers exactly once", async () => {
    const flaky = await receiver((_r, n) => (n === 0 ? { status: 500 } : { status: 200 }));
    const { alerts, registry } = dispatcher([{ name: "slack", type: "slack", url: flaky.url }]);
    alerts.emit(deniedEvent());
    await flaky.waitFor(2);
    // Closed: nothing more can be sent, so the counts below are final (no sleep needed).
    await alerts.flush(2_000);
    await alerts.close();
    assert.equal(flaky.requests.length, 2);
    assert.equal(flaky.requests[0]?.body, flaky.requests[1]?.body);
    assert.equal(await counter(registry, "gitgate_alerts_sent_total"), 1);
    assert.equal(await counter(registry, "gitgate_alerts_failed_total"), 0);
  });

  it("waits for Retry-After on 429", async () => {
    const limited = await receiver((_r, n) =>
      n === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 },
    );
    const { alerts } = dispatcher([{ name: "teams", type: "teams", url: limited.url }]);
    alerts.emit(deniedEvent());
    await limited.waitFor(2, 10_000);
    const [first, second] = limited.requests;
    assert.ok(first && second);
    // Loose bound: timers may fire a little early relative to Date.now() granularity.
    assert.ok(second.at - first.at >= 900, `retried after ${second.at - first.at} ms`);
  });

  it("does not retry other 4xx and gives up after maxAttempts on 5xx", async () => {
    const gone = await receiver(() => ({ status: 404, body: "no_service" }));
    const down = await receiver(() => ({ status: 503 }));
    const { alerts, registry } = dispatcher(
      [
        { name: "gone", type: "slack", url: gone.url },
        { name: "down", type: "webhook", url: down.url },
      ],
      { maxAttempts: 3 },
    );
    alerts.emit(deniedEvent());
    await down.waitFor(3);
    await alerts.flush(2_000);
    assert.equal(gone.requests.length, 1);
    assert.equal(down.requests.length, 3);
    assert.equal(await counter(registry, "gitgate_alerts_failed_total"), 2);
  });

  it("keeps delivering to healthy channels while one never answers", async () => {
    const dead = await receiver(() => "hang");
    const alive = await receiver();
    const { alerts } = dispatcher(
      [
        { name: "dead", type: "webhook", url: dead.url },
        { name: "alive", type: "slack", url: alive.url },
      ],
      { timeoutMs: 30_000 },
    );
    const started = Date.now();
    alerts.emit(deniedEvent());
    alerts.emit(distinct(1));
    await alive.waitFor(2, 5_000);
    assert.ok(Date.now() - started < 5_000);
    assert.equal(dead.requests.length, 1, "the dead channel is still stuck on its first request");
    const closing = Date.now();
    await alerts.close();
    assert.ok(Date.now() - closing < 5_000, "close() does not wait for the dead channel's timeout");
  });

  it("never throws from emit, even for odd values or a broken router", async () => {
    const [slack, hook] = await Promise.all([receiver(), receiver()]);
    const alerts = track(
      createAlertDispatcher({
        channels: [
          { name: "s", type: "slack", url: slack.url },
          { name: "h", type: "webhook", url: hook.url },
        ],
        clusterName: "c",
        logger: silentLogger,
        routes: () => {
          throw new Error("router bug");
        },
        options: FAST,
      }),
    );
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    alerts.emit(deniedEvent({ changes: [{ path: "x", gitValue: circular, liveValue: () => 1 }] }));
    await Promise.all([slack.waitFor(1), hook.waitFor(1)]);
    assertValid(validators.slack, slack.requests[0]?.json);
    assert.match(slack.requests[0]?.body ?? "", /unserialisable object/);
  });

  it("routes events and applies per-channel event filters", async () => {
    const [a, b, c] = await Promise.all([receiver(), receiver(), receiver()]);
    const { alerts } = createRouted(a, b, c);
    alerts.emit(deniedEvent());
    alerts.emit(deniedEvent({ type: "sync-failed", object: undefined, changes: undefined }));
    await alerts.flush(2_000);
    assert.deepEqual(
      [a, b, c].map((r) => r.requests.map((q) => (q.json as { text: string }).text.split(":")[0])),
      [["[test-cluster] Out-of-band change denied"], [], ["[test-cluster] Sync failed"]],
    );
  });

  it("sends the opt-in sync-succeeded only to channels that list it", async () => {
    const [all, opted] = await Promise.all([receiver(), receiver()]);
    const alerts = track(
      createAlertDispatcher({
        channels: [
          { name: "all", type: "slack", url: all.url },
          { name: "opted", type: "slack", url: opted.url, events: ["sync-succeeded", "health-degraded"] },
        ],
        clusterName: "test-cluster",
        logger: silentLogger,
        options: FAST,
      }),
    );
    alerts.emit(
      deniedEvent({ type: "sync-succeeded", object: undefined, changes: undefined, actor: undefined }),
    );
    alerts.emit(
      deniedEvent({ type: "health-degraded", object: undefined, changes: undefined, actor: undefined }),
    );
    await alerts.flush(2_000);
    const titles = (r: Receiver): string[] =>
      r.requests.map((q) => (q.json as { text: string }).text.split(":")[0] ?? "");
    assert.deepEqual(titles(all), ["[test-cluster] Health degraded"]);
    assert.deepEqual(titles(opted), ["[test-cluster] Synced", "[test-cluster] Health degraded"]);
  });
});

function createRouted(a: Receiver, b: Receiver, c: Receiver): { alerts: AlertDispatcher } {
  const alerts = createAlertDispatcher({
    channels: [
      { name: "a", type: "slack", url: a.url },
      { name: "b", type: "slack", url: b.url, events: ["drift-found"] },
      { name: "c", type: "slack", url: c.url },
    ],
    clusterName: "test-cluster",
    logger: silentLogger,
    routes: (e) => (e.type === "sync-failed" ? ["c"] : e.type === "change-denied" ? ["a", "b"] : undefined),
    options: FAST,
  });
  return { alerts: track(alerts) };
}
