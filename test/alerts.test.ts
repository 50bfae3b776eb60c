/**
 * Alerts end to end: a kubectl change denied by the real kube-apiserver reaches local Slack, Teams
 * and webhook receivers in their documented formats, and Secret values never leave gitgate.
 */
import { strict as assert } from "node:assert";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { capturedLogger } from "./fixtures/alerts/harness.js";
import { assertValid, payloadValidators, startReceiver, type Receiver } from "./fixtures/alerts/receivers.js";
import { startEnv, waitSynced, type TestEnv } from "./harness/env.js";

const CANARY_GIT = "CANARY-git-s3cr3t-7731";
const CANARY_REQUEST = "CANARY-request-s3cr3t-9942";

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example.com/api:1.4.2
`;
const secret = `apiVersion: v1
kind: Secret
metadata:
  name: api-credentials
type: Opaque
stringData:
  password: ${CANARY_GIT}
`;

let env: TestEnv;
let slack: Receiver;
let teams: Receiver;
let hook: Receiver;
let commit: string;
const log = capturedLogger();

describe("drift alerts", () => {
  before(async () => {
    [slack, teams, hook] = await Promise.all([startReceiver(), startReceiver(), startReceiver()]);
    env = await startEnv({
      webhook: true,
      realAlerts: true,
      logger: log.logger,
      config: (c) => {
        c.alerts.channels = [
          { name: "slack", type: "slack", url: slack.url },
          { name: "teams", type: "teams", url: teams.url },
          { name: "hook", type: "webhook", url: hook.url, secret: "hmac-key" },
        ];
      },
    });
    commit = (
      await env.git.createRepo("svc", { "deploy/api.yaml": deployment, "deploy/secret.yaml": secret })
    ).commit;
    await env.applyGitApp("api", {
      source: { repoURL: env.git.repoURL("svc"), revision: "main", path: "deploy" },
      destination: { namespace: "prod" },
      sync: { interval: "1h", createNamespace: true },
    });
    await waitSynced(env, "api", commit);
  });
  after(async () => {
    await env?.stop();
    await Promise.all([slack, teams, hook].map((r) => r?.close()));
  });

  it("a denied kubectl change gives one Slack and one Teams message naming user, field, values, file and commit", async () => {
    const r = await env.kubectl("user", ["-n", "prod", "scale", "deployment", "api", "--replicas=7"]);
    assert.notEqual(r.code, 0);
    await Promise.all([slack.waitFor(1, 15_000), teams.waitFor(1, 15_000), hook.waitFor(1, 15_000)]);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(slack.requests.length, 1);
    assert.equal(teams.requests.length, 1);
    const validators = payloadValidators();
    assertValid(validators.slack, slack.requests[0]?.json);
    assertValid(validators.teams, teams.requests[0]?.json);
    for (const body of [slack.requests[0]?.body ?? "", teams.requests[0]?.body ?? ""]) {
      for (const needle of [
        "alice",
        "spec.replicas",
        "deploy/api.yaml",
        commit.slice(0, 7),
        "Deployment",
        "prod/api",
      ]) {
        assert.ok(body.includes(needle), `payload names ${needle}: ${body.slice(0, 300)}`);
      }
      assert.match(body, /\b2\b/);
      assert.match(body, /\b7\b/);
    }
    const signed = hook.requests[0];
    const expected = `sha256=${createHmac("sha256", "hmac-key")
      .update(signed?.body ?? "")
      .digest("hex")}`;
    assert.equal(signed?.headers["x-gitgate-signature-256"], expected);
    assert.equal((signed?.json as { type?: string }).type, "change-denied");
  });

  it("a Secret edit alerts without the Secret's value, in any payload or log line", async () => {
    const r = await env.kubectl("user", [
      "-n",
      "prod",
      "patch",
      "secret",
      "api-credentials",
      "--type=merge",
      "-p",
      JSON.stringify({ stringData: { password: CANARY_REQUEST } }),
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Secret prod\/api-credentials is managed by Git/);
    await Promise.all([slack.waitFor(2, 15_000), teams.waitFor(2, 15_000), hook.waitFor(2, 15_000)]);
    const everything = [
      r.stderr,
      ...[slack, teams, hook].flatMap((rec) => rec.requests.map((q) => q.body)),
      ...log.lines,
    ].join("\n");
    for (const canary of [
      CANARY_GIT,
      CANARY_REQUEST,
      Buffer.from(CANARY_GIT).toString("base64"),
      Buffer.from(CANARY_REQUEST).toString("base64"),
    ]) {
      assert.ok(!everything.includes(canary), `canary ${canary} leaked`);
    }
    assert.ok(slack.requests[1]?.body.includes("api-credentials"));
    assert.ok(log.lines.length > 0, "logs were captured");
  });

  it("a GitApp's spec.alerts.channels picks its channels", async () => {
    const { commit: second } = await env.git.createRepo("routed", {
      "deploy/api.yaml": deployment.replace(/name: api\b/g, "name: routed"),
    });
    await env.applyGitApp("routed", {
      source: { repoURL: env.git.repoURL("routed"), revision: "main", path: "deploy" },
      destination: { namespace: "routed" },
      sync: { interval: "1h", createNamespace: true },
      alerts: { channels: ["hook"] },
    });
    await waitSynced(env, "routed", second);
    const before = { slack: slack.requests.length, teams: teams.requests.length, hook: hook.requests.length };
    const r = await env.kubectl("user", ["-n", "routed", "scale", "deployment", "routed", "--replicas=7"]);
    assert.notEqual(r.code, 0);
    await hook.waitFor(before.hook + 1, 15_000);
    const routed = hook.requests.at(-1)?.json as { type?: string; app?: { name?: string } };
    assert.equal(routed.type, "change-denied");
    assert.equal(routed.app?.name, "routed");
    // The other channels got nothing, though they take every event of apps without a choice.
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal(slack.requests.length, before.slack);
    assert.equal(teams.requests.length, before.teams);
  });
});
