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
import { assertDenied } from "./harness/denied.js";

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

/**
 * The positive signal that nothing else is on its way: a later, distinct denial of the api
 * Deployment (which every channel takes) arrives at each receiver as the next message. Channels
 * deliver in order, so a message still queued before it would have arrived first.
 */
async function marker(args: string[], who: string, field: string): Promise<void> {
  const before = [slack, teams, hook].map((r) => r.requests.length);
  const r = await env.kubectl(who, ["-n", "prod", ...args]);
  assertDenied(
    r,
    /scale/.test(args[0] ?? "") ? "scale.gitgate.io" : "validate.gitgate.io",
    /^Deployment prod\/api is managed by Git/,
  );
  await Promise.all([slack, teams, hook].map((rec, i) => rec.waitFor((before[i] ?? 0) + 1, 15_000)));
  for (const [i, rec] of [slack, teams, hook].entries()) {
    assert.equal(rec.requests.length, (before[i] ?? 0) + 1);
    assert.ok(rec.requests.at(-1)?.body.includes(field), `the marker names ${field}`);
  }
}

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
    assertDenied(
      r,
      "scale.gitgate.io",
      new RegExp(
        `^Deployment prod/api is managed by Git: spec\\.replicas is 2 in .* deploy/api\\.yaml@${commit.slice(0, 7)}, request has 7\\.`,
      ),
    );
    await Promise.all([slack.waitFor(1, 15_000), teams.waitFor(1, 15_000), hook.waitFor(1, 15_000)]);
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
    // One message each, not more: bob's later denial is the very next message everywhere.
    await marker(["scale", "deployment", "api", "--replicas=8"], "oncall", "bob");
    assert.ok(slack.requests[0]?.body.includes("alice") && !slack.requests[0]?.body.includes("bob"));
  });

  it("a Secret edit alerts without the Secret's value, in any payload or log line", async () => {
    const before = [slack, teams, hook].map((rec) => rec.requests.length);
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
    assertDenied(
      r,
      "validate.gitgate.io",
      /^Secret prod\/api-credentials is managed by Git: stringData\.password is <redacted> in .* deploy\/secret\.yaml@[0-9a-f]{7}, request has <redacted>\./,
    );
    await Promise.all([slack, teams, hook].map((rec, i) => rec.waitFor((before[i] ?? 0) + 1, 15_000)));
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
    assert.ok(slack.requests.at(-1)?.body.includes("api-credentials"));
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
    assertDenied(
      r,
      "scale.gitgate.io",
      /^Deployment routed\/routed is managed by Git: spec\.replicas is 2 in /,
    );
    await hook.waitFor(before.hook + 1, 15_000);
    const routed = hook.requests.at(-1)?.json as { type?: string; app?: { name?: string } };
    assert.equal(routed.type, "change-denied");
    assert.equal(routed.app?.name, "routed");
    // The other channels got nothing, though they take every event of apps without a choice: the
    // next message they get is a later denial of the api app, not the routed one.
    assert.equal(hook.requests.length, before.hook + 1);
    await marker(["set", "image", "deployment/api", "api=registry.example.com/api:9"], "user", "containers");
    assert.equal(slack.requests.length, before.slack + 1);
    assert.equal(teams.requests.length, before.teams + 1);
    for (const rec of [slack, teams]) assert.ok(!rec.requests.at(-1)?.body.includes("routed"));
  });
});
