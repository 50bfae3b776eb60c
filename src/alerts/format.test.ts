import { createHmac } from "node:crypto";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertValid, payloadValidators } from "../../test/fixtures/alerts/receivers.js";
import { CANARY, SHA, deniedEvent, secretEvent, syncFailedEvent } from "../../test/fixtures/alerts/events.js";
import type { AlertEvent, AlertEventType } from "../manifest/event.js";
import { slackPayload } from "./slack.js";
import {
  HeldBack,
  slackSummaryPayload,
  summaryText,
  teamsSummaryPayload,
  webhookSummaryPayload,
} from "./summary.js";
import { teamsPayload } from "./teams.js";
import { TITLES, describeActor, renderValue, sourceLinks } from "./text.js";
import { signBody, verifySignature, webhookPayload } from "./webhook.js";

const ctx = { clusterName: "prod-eu-1" };
const validators = payloadValidators();
const allTypes = Object.keys(TITLES) as AlertEventType[];

function all(event: AlertEvent): string[] {
  return [slackPayload(event, ctx), teamsPayload(event, ctx), webhookPayload(event, ctx)].map((p) =>
    JSON.stringify(p),
  );
}

describe("alert formatters", () => {
  it("produce schema-valid Slack and Teams payloads for every event type", () => {
    for (const type of allTypes) {
      for (const event of [
        deniedEvent({ type }),
        { ...syncFailedEvent(), type },
        { ...secretEvent(), type },
      ]) {
        assertValid(validators.slack, slackPayload(event, ctx));
        assertValid(validators.teams, teamsPayload(event, ctx));
      }
    }
  });

  it("say cluster, app, object, who, fields with both values, file, commit link and action", () => {
    const event = deniedEvent();
    const url = `https://github.com/acme/deploy/blob/${SHA}/apps/guestbook/deployment.yaml`;
    for (const text of all(event)) {
      for (const needle of [
        "prod-eu-1",
        "gitgate-system/guestbook",
        "guestbook-ui",
        "alice",
        "spec.replicas",
      ]) {
        assert.ok(text.includes(needle), `${needle} missing`);
      }
      assert.ok(text.includes("nginx:latest") && text.includes("nginx:1.25"));
      assert.ok(text.includes(url), "link to the file at the commit");
      assert.ok(text.includes("Denied the request."));
    }
    const slack = slackPayload(event, ctx);
    assert.equal(slack.blocks[0]?.type, "header");
    assert.match(JSON.stringify(slack.blocks[0]), /:no_entry: Out-of-band change denied/);
    assert.match(JSON.stringify(slack), /3f2a9c1/);
    assert.match(JSON.stringify(slack), /groups: devs/);
    assert.doesNotMatch(JSON.stringify(slack), /system:authenticated/);
    const card = teamsPayload(event, ctx).attachments[0]?.content;
    assert.equal(card?.actions?.[0]?.url, url);
    const doc = webhookPayload(event, ctx);
    assert.equal(doc.version, "gitgate.io/v1");
    assert.equal(doc.cluster, "prod-eu-1");
    assert.deepEqual(doc.changes?.[0], { path: "spec.replicas", gitValue: 2, liveValue: 5 });
  });

  it("name the registered cluster an event happened on, instead of gitgate's own", () => {
    const event = { ...deniedEvent(), cluster: "staging" };
    for (const text of all(event)) {
      assert.ok(text.includes("staging"), "the event's cluster");
      assert.ok(!text.includes("prod-eu-1"), "not gitgate's own cluster");
    }
    assert.equal(webhookPayload(event, ctx).cluster, "staging");
  });

  it("links GitLab hosts with /-/blob/ and leaves other hosts unlinked", () => {
    const gitlab = deniedEvent({
      source: { repoURL: "https://gitlab.example.com/g/p.git", file: "a/b c.yaml", commit: SHA },
    });
    assert.equal(sourceLinks(gitlab).url, `https://gitlab.example.com/g/p/-/blob/${SHA}/a/b%20c.yaml`);
    assert.equal(sourceLinks(syncFailedEvent()).url, undefined);
    assert.equal(sourceLinks(syncFailedEvent()).shortSha, SHA.slice(0, 7));
  });

  it("renders compact JSON and truncates long values", () => {
    assert.equal(renderValue({ a: [1, "x"] }), '{"a":[1,"x"]}');
    assert.equal(renderValue(undefined), "(absent)");
    const long = renderValue("x".repeat(1000));
    assert.ok(long.length <= 200 && long.endsWith("…"));
    assert.equal(
      describeActor({ username: "kube-controller", via: "managedFields" }),
      "field manager kube-controller",
    );
  });

  it("never shows Secret values, credentials in detail, or repo userinfo", () => {
    const event = secretEvent();
    for (const text of all(event)) assert.ok(!text.includes(CANARY), text);
    const slack = JSON.stringify(slackPayload(event, ctx));
    assert.match(slack, /data\.password/);
    assert.match(slack, /field manager kubectl-edit/);
    assertValid(validators.slack, slackPayload(event, ctx));
  });

  it("escape Slack markup and stay within limits for huge diffs", () => {
    const changes = Array.from({ length: 300 }, (_, i) => ({
      path: `spec.items[${i}].${"deep.".repeat(30)}x`,
      gitValue: { big: "<&>".repeat(400) },
      liveValue: "```".repeat(100),
    }));
    const event = deniedEvent({ changes, detail: "<!channel> & ".repeat(500), action: "<@U123> denied" });
    const slack = slackPayload(event, ctx);
    assertValid(validators.slack, slack);
    assert.ok(slack.blocks.length <= 50);
    assert.doesNotMatch(JSON.stringify(slack), /<!channel>|<@U123>/);
    assert.match(JSON.stringify(slack), /more field\(s\) not shown/);
    const teams = teamsPayload(event, ctx);
    assertValid(validators.teams, teams);
    assert.ok(JSON.stringify(teams).length < 28_000, "Teams card under its size limit");
  });

  it("signs webhook bodies with HMAC-SHA256", () => {
    const body = JSON.stringify(webhookPayload(deniedEvent(), ctx));
    const signature = signBody(body, "s3cret");
    // The oracle: GitHub's documented scheme computed here (sha256=<hex HMAC-SHA256 of the UTF-8
    // body>), not gitgate's verifier.
    const hex = createHmac("sha256", Buffer.from("s3cret")).update(Buffer.from(body, "utf8")).digest("hex");
    assert.equal(signature, `sha256=${hex}`);
    assert.ok(verifySignature(body, "s3cret", signature));
    assert.ok(!verifySignature(body, "s3cret", `sha256=${"0".repeat(64)}`));
    assert.ok(!verifySignature(`${body} `, "s3cret", signature));
  });

  it("summarise held-back alerts in every format", () => {
    const held = new HeldBack();
    for (let i = 0; i < 3; i++) held.add(deniedEvent());
    held.add(syncFailedEvent());
    const summary = held.take();
    assert.ok(summary);
    assert.equal(held.take(), undefined);
    const text = summaryText(summary);
    assert.match(text, /^4 more alerts held back/);
    assert.match(text, /3× change-denied on Deployment guestbook\/guestbook-ui by alice/);
    assertValid(validators.slack, slackSummaryPayload(summary, ctx));
    assertValid(validators.teams, teamsSummaryPayload(summary, ctx));
    assert.equal(webhookSummaryPayload(summary, ctx).type, "alerts-held-back");
  });
});
