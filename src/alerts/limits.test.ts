import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deniedEvent } from "../../test/fixtures/alerts/events.js";
import type { AlertEvent } from "../manifest/event.js";
import { resolveChannelURL, resolveChannels, type SecretKeyRef } from "./channel-url.js";
import { validateChannels } from "./dispatcher.js";
import { backoffDelay, parseRetryAfter } from "./http.js";
import { Deduplicator } from "../bounded/seen.js";
import { TokenBucket, dedupKey } from "./limits.js";

describe("alert limits", () => {
  it("parses Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2024-05-01T12:00:00Z");
    assert.equal(parseRetryAfter("1", now), 1000);
    assert.equal(parseRetryAfter(" 2.5 ", now), 2500);
    assert.equal(parseRetryAfter("Wed, 01 May 2024 12:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Wed, 01 May 2024 11:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });

  it("backs off exponentially with jitter, capped", () => {
    assert.equal(
      backoffDelay(1, 100, 1000, () => 0),
      50,
    );
    assert.equal(
      backoffDelay(3, 100, 1000, () => 1),
      400,
    );
    assert.equal(
      backoffDelay(10, 100, 1000, () => 1),
      1000,
    );
  });

  it("deduplicates within the window only, by type/object/actor/field set", () => {
    let now = 0;
    const dedup = new Deduplicator(1000, () => now);
    const key = dedupKey(deniedEvent());
    assert.equal(dedup.isDuplicate(key), false);
    assert.equal(dedup.isDuplicate(key), true);
    const reordered = deniedEvent({ changes: [...(deniedEvent().changes ?? [])].reverse() });
    assert.equal(dedupKey(reordered), key, "field order does not matter");
    assert.notEqual(dedupKey(deniedEvent({ actor: { username: "bob", via: "admission" } })), key);
    // An admission alert asking for other values is another alert: a forged review cannot pre-empt it.
    const other = deniedEvent({
      changes: (deniedEvent().changes ?? []).map((c) =>
        c.path === "spec.replicas" ? { ...c, liveValue: 50 } : c,
      ),
    });
    assert.equal(deniedEvent().actor?.via, "admission");
    assert.notEqual(dedupKey(other), key);
    // A drift that flaps between values is one situation.
    const drift = (liveValue: number): AlertEvent =>
      deniedEvent({
        type: "drift-found",
        actor: { username: "kubectl-edit", via: "managedFields" },
        changes: [{ path: "spec.replicas", gitValue: 2, liveValue }],
      });
    assert.equal(dedupKey(drift(5)), dedupKey(drift(6)));
    now = 1001;
    assert.equal(dedup.isDuplicate(key), false);
  });

  it("bounds the dedup memory", () => {
    const dedup = new Deduplicator(60_000, () => 0, 10);
    for (let i = 0; i < 100; i++) dedup.isDuplicate(`k${i}`);
    assert.equal(dedup.isDuplicate("k99"), true);
    assert.equal(dedup.isDuplicate("k0"), false, "oldest keys were evicted");
  });

  it("refills the token bucket over time", () => {
    let now = 0;
    const bucket = new TokenBucket({ perMinute: 60, burst: 2 }, () => now);
    assert.ok(bucket.tryTake() && bucket.tryTake());
    assert.equal(bucket.tryTake(), false);
    assert.equal(bucket.msUntilToken(), 1000);
    now = 1000;
    assert.equal(bucket.tryTake(), true);
  });
});

describe("alert channel URLs", () => {
  const secrets: Record<string, string> = {
    "slack-url/url": "https://hooks.slack.com/services/T/B/XYZ\n",
    "hook/secret": "hmac",
    "empty/url": "  ",
  };
  const read = (ref: SecretKeyRef): Promise<string> => {
    const value = secrets[`${ref.secretName}/${ref.key}`];
    return value === undefined ? Promise.reject(new Error("not found")) : Promise.resolve(value);
  };

  it("takes url inline or from a Secret", async () => {
    assert.equal(
      await resolveChannelURL({ name: "a", type: "slack", url: "https://x.example/h" }, read),
      "https://x.example/h",
    );
    assert.equal(
      await resolveChannelURL(
        { name: "a", type: "slack", urlFrom: { secretName: "slack-url", key: "url" } },
        read,
      ),
      "https://hooks.slack.com/services/T/B/XYZ",
    );
    const [channel] = await resolveChannels(
      [
        {
          name: "h",
          type: "webhook",
          url: "https://h.example/",
          secretFrom: { secretName: "hook", key: "secret" },
        },
      ],
      read,
    );
    assert.deepEqual(channel, { name: "h", type: "webhook", url: "https://h.example/", secret: "hmac" });
  });

  it("rejects missing, doubled, empty or non-http URLs without echoing them", async () => {
    const bad = [
      { name: "none", type: "slack" as const },
      {
        name: "both",
        type: "slack" as const,
        url: "https://a/",
        urlFrom: { secretName: "slack-url", key: "url" },
      },
      { name: "empty", type: "slack" as const, urlFrom: { secretName: "empty", key: "url" } },
      { name: "missing", type: "slack" as const, urlFrom: { secretName: "nope", key: "url" } },
      { name: "ftp", type: "slack" as const, url: "ftp://user:TOPSECRET@host/x" },
    ];
    for (const spec of bad) {
      await assert.rejects(resolveChannelURL(spec, read), (err: Error) => {
        assert.ok(err.message.includes(spec.name));
        assert.ok(!err.message.includes("TOPSECRET"));
        return true;
      });
    }
  });

  it("validates channel configs at dispatcher creation", () => {
    assert.throws(() => validateChannels([{ name: "x", type: "slack", url: "not a url" }]), /x: url/);
    const dup = { name: "d", type: "teams" as const, url: "https://t.example/" };
    assert.throws(() => validateChannels([dup, dup]), /defined twice/);
  });
});
