/**
 * Only what kube-apiserver stored counts (#13): with mutual TLS off (the worst case: anyone who
 * reaches the webhook port can post an AdmissionReview, and gitgate reviews it), a forged review
 * opens no break-glass window, yields no record a user can then write, and silences no real alert.
 * Every forged review here is answered (status 200, a review ran), so the test cannot pass because
 * the request was turned away at the door.
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import type { JsonPatchOp } from "../src/admission/types.js";
import { LAST_CHANGE_ANNOTATION } from "../src/manifest/labels.js";
import { postReview } from "../src/testenv/admission-client.js";
import { startReceiver, type Receiver } from "./fixtures/alerts/receivers.js";
import { startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;
let hook: Receiver;
let commit: string;

const CONFIG = `apiVersion: v1
kind: ConfigMap
metadata: { name: web-config }
data: { LEVEL: info }
`;

interface ReviewAnswer {
  status: number;
  response: { allowed?: boolean; patch?: string; status?: { message?: string } };
}

/** An AdmissionReview for web-config as a client that is not kube-apiserver would post it. */
async function forged(
  path: "/validate" | "/mutate",
  user: { username: string; groups: string[] },
  [oldObject, object]: [unknown, unknown],
): Promise<ReviewAnswer> {
  const body = JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `forged-${Math.random()}`,
      kind: { group: "", version: "v1", kind: "ConfigMap" },
      resource: { group: "", version: "v1", resource: "configmaps" },
      name: "web-config",
      namespace: "shop",
      operation: "UPDATE",
      userInfo: user,
      object,
      oldObject,
      dryRun: false,
    },
  });
  const answer = await postReview(`${env.gitgate.url}${path}`, body, { ca: env.gitgate.caPem });
  const parsed = JSON.parse(answer.body) as { response: ReviewAnswer["response"] };
  return { status: answer.status, response: parsed.response };
}

async function liveConfig(): Promise<{
  metadata: { annotations?: Record<string, string> };
  data: Record<string, string>;
}> {
  const cm = await env.get("v1", "ConfigMap", "shop", "web-config");
  assert.ok(cm);
  return cm as unknown as {
    metadata: { annotations?: Record<string, string> };
    data: Record<string, string>;
  };
}

/** web-config as it is stored, and with these data and annotations on top: [oldObject, object]. */
async function edited(
  data: Record<string, string>,
  annotations: Record<string, string> = {},
): Promise<[unknown, unknown]> {
  const cm = await liveConfig();
  return [
    cm,
    {
      ...cm,
      metadata: { ...cm.metadata, annotations: { ...cm.metadata.annotations, ...annotations } },
      data: { ...cm.data, ...data },
    },
  ];
}

const DENIED = 'admission webhook "validate.gitgate.io" denied the request: ';

describe("forged admission reviews (no client certificate required)", () => {
  before(async () => {
    hook = await startReceiver();
    env = await startEnv({
      webhook: true,
      realAlerts: true,
      config: (c) => {
        delete c.webhook.clientCA; // the worst case this file is about
        c.alerts.channels = [{ name: "hook", type: "webhook", url: hook.url, secret: "hmac-key" }];
      },
    });
    commit = (await env.git.createRepo("deploy", { "shop/config.yaml": CONFIG })).commit;
    await env.applyGitApp("shop", {
      source: { repoURL: env.git.repoURL("deploy"), revision: "main", path: "shop" },
      destination: { namespace: "shop" },
      sync: { interval: "1h", createNamespace: true, selfHeal: true },
      enforcement: { mode: "enforce" },
    });
    await waitSynced(env, "shop", commit);
  });
  after(async () => {
    await env?.stop();
    await hook?.close();
  });

  it("a forged break-glass review opens no window: self-heal still reverts", async () => {
    const answer = await forged(
      "/validate",
      { username: "bob", groups: ["sre-oncall"] },
      await edited({ LEVEL: "debug" }, { "gitgate.io/break-glass-reason": "INC-1 forged" }),
    );
    assert.deepEqual([answer.status, answer.response.allowed], [200, true], "the review ran and admitted it");
    // carol is exempt: her change is admitted and opens no window of its own.
    const r = await env.kubectl("platform", [
      "-n",
      "shop",
      "patch",
      "configmap",
      "web-config",
      "--type=merge",
      "-p",
      '{"data":{"LEVEL":"debug"}}',
    ]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor("self-heal reverts LEVEL", async () => (await liveConfig()).data.LEVEL === "info");
    const app = await env.getGitApp("shop");
    assert.notEqual(app?.status?.conditions?.find((c) => c.type === "Drifted")?.reason, "BreakGlass");
  });

  it("a record signed through a forged /mutate call is refused when a user writes it", async () => {
    const alice = { username: "alice", groups: ["sre-oncall"] }; // alice is not on call: the review lies
    const answer = await forged(
      "/mutate",
      alice,
      await edited({ LEVEL: "debug" }, { "gitgate.io/break-glass-reason": "INC-2 forged" }),
    );
    assert.equal(answer.status, 200);
    assert.ok(answer.response.patch, "the forged review got gitgate's record back");
    const ops = JSON.parse(Buffer.from(answer.response.patch, "base64").toString()) as JsonPatchOp[];
    const record = ops
      .map((op) =>
        typeof op.value === "string"
          ? op.value
          : (op.value as Record<string, string>)?.[LAST_CHANGE_ANNOTATION],
      )
      .find(Boolean);
    assert.match(record ?? "", /"breakGlass":\{"until":/, "it carries a signed grant");

    const write = await env.kubectl("user", [
      "-n",
      "shop",
      "annotate",
      "configmap",
      "web-config",
      "--overwrite",
      "gitgate.io/break-glass-reason=INC-2 forged",
      `${LAST_CHANGE_ANNOTATION}=${record}`,
    ]);
    assert.notEqual(write.code, 0);
    const at = write.stderr.indexOf(DENIED);
    assert.ok(at >= 0, write.stderr);
    assert.match(
      write.stderr.slice(at + DENIED.length),
      /^gitgate\.io\/last-out-of-band-change is gitgate's record of out-of-band changes and is written only by gitgate's mutating webhook: this request's record is refused, alice is not in a break-glass group/,
    );
    // The record on the object is still carol's from the first test: no grant, nothing of alice's.
    const stored = (await liveConfig()).metadata.annotations?.[LAST_CHANGE_ANNOTATION] ?? "";
    assert.match(stored, /^\{"user":"carol"/);
    assert.doesNotMatch(stored, /breakGlass|alice/);
  });

  it("a forged denial does not silence the real one that follows", async () => {
    const alertsFor = (value: string): unknown[] =>
      hook.requests.filter((q) => {
        const e = q.json as {
          type?: string;
          actor?: { username?: string };
          changes?: Array<{ path: string; liveValue?: unknown }>;
        };
        return (
          e.type === "change-denied" &&
          e.actor?.username === "alice" &&
          e.changes?.some((c) => c.path === "data.LEVEL" && c.liveValue === value)
        );
      });
    const answer = await forged(
      "/validate",
      { username: "alice", groups: [] },
      await edited({ LEVEL: "forged" }),
    );
    assert.deepEqual([answer.status, answer.response.allowed], [200, false]);
    await waitFor("the forged denial's alert", () => alertsFor("forged").length === 1);
    const r = await env.kubectl("user", [
      "-n",
      "shop",
      "patch",
      "configmap",
      "web-config",
      "--type=merge",
      "-p",
      '{"data":{"LEVEL":"debug"}}',
    ]);
    assert.ok(r.stderr.includes(DENIED), r.stderr);
    await waitFor("the real denial's alert, within the dedup window", () => alertsFor("debug").length === 1);
  });
});
