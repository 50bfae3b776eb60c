import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { deniedEvent } from "../../test/fixtures/alerts/events.js";
import { closeAll, counter, dispatcher, distinct, receiver } from "../../test/fixtures/alerts/harness.js";
import { assertValid, payloadValidators } from "../../test/fixtures/alerts/receivers.js";

const validators = payloadValidators();
afterEach(closeAll);

describe("alert flow control (queue bound, dedup, rate limit)", () => {
  it("drops the oldest queued alert when a channel queue is full", async () => {
    const dead = await receiver(() => "hang");
    const { alerts, registry } = dispatcher([{ name: "dead", type: "slack", url: dead.url }], {
      queueSize: 2,
      timeoutMs: 30_000,
    });
    // emit() is synchronous, so all five arrive before the worker takes the first: 3 are dropped.
    for (let i = 0; i < 5; i++) alerts.emit(distinct(i));
    await dead.waitFor(1);
    assert.equal(await counter(registry, "gitgate_alerts_dropped_total"), 3);
    assert.match(dead.requests[0]?.body ?? "", /app-3/, "the newest alerts survive");
  });

  it("sends a burst of 1,000 identical drifts only a handful of times", async () => {
    const slack = await receiver();
    const { alerts, registry } = dispatcher([{ name: "slack", type: "slack", url: slack.url }], {
      rateLimit: { perMinute: 20 },
    });
    const drift = deniedEvent({ type: "drift-found", actor: { username: "hpa", via: "managedFields" } });
    for (let i = 0; i < 1_000; i++) alerts.emit({ ...drift, time: new Date(Date.now() + i).toISOString() });
    await slack.waitFor(1);
    await alerts.flush(2_000);
    await alerts.close(); // nothing more can be sent: the counts below are final
    assert.ok(slack.requests.length <= 5, `${slack.requests.length} messages`);
    assert.equal(await counter(registry, "gitgate_alerts_deduplicated_total"), 999);
  });

  it("rate-limits 1,000 distinct alerts into a bounded number of messages with a summary", async () => {
    const slack = await receiver();
    const { alerts, registry } = dispatcher([{ name: "slack", type: "slack", url: slack.url }], {
      rateLimit: { perMinute: 120, burst: 5 },
      summaryDelayMs: 300,
    });
    for (let i = 0; i < 1_000; i++) alerts.emit(distinct(i));
    await slack.waitFor(6, 5_000);
    await alerts.flush(2_000);
    await alerts.close(); // nothing more can be sent: the counts below are final
    const texts = slack.requests.map((r) => (r.json as { text: string }).text);
    assert.ok(texts.length <= 10, `${texts.length} messages`);
    const summary = texts.find((t) => /more alerts held back/.test(t));
    assert.ok(summary, "a summary message was sent");
    assert.match(
      summary,
      /995 more alerts held back by the rate limit: 1× change-denied on Deployment ns\/app-5/,
    );
    assertValid(validators.slack, slack.requests.at(-1)?.json);
    assert.equal(await counter(registry, "gitgate_alerts_held_total"), 995);
  });

  it("sends held summaries on close and ignores emits afterwards", async () => {
    const slack = await receiver();
    const { alerts } = dispatcher([{ name: "slack", type: "slack", url: slack.url }], {
      rateLimit: { perMinute: 1, burst: 1 },
      summaryDelayMs: 60_000,
    });
    for (let i = 0; i < 4; i++) alerts.emit(distinct(i));
    await slack.waitFor(1);
    await alerts.close();
    alerts.emit(distinct(99));
    assert.equal(slack.requests.length, 2);
    assert.match((slack.requests[1]?.json as { text: string }).text, /3 more alerts held back/);
  });
});
