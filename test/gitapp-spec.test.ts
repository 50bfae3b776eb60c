/**
 * README's GitApp fields end to end, through the real kube-apiserver, Git server and kubectl:
 * `credentialsSecret` (username/password from a Secret, against a Git server that demands them) and
 * `enforcement.ignoreDifferences` (the admission gate and self-heal both leave the field alone).
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../src/api/gitapp.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";
import { assertDenied } from "./harness/denied.js";

let env: TestEnv;
let privateGit: GitServer;

const USERNAME = "deployer";
const PASSWORD = "CANARY-git-password-5521";

const configMap = (name: string, value: string): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata: {value: "${value}"}\n`;

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.0
`;

/** Triggers a sync of `name` and waits for one that finished after the trigger (lastSyncTime moves). */
async function syncAfterTrigger(name: string, repoURL: string): Promise<GitApp> {
  const before = (await env.getGitApp(name))?.status?.lastSyncTime ?? "";
  env.gitgate.controller.triggerRepo(repoURL);
  return waitFor(`a sync of ${name} after the trigger`, async () => {
    const app = await env.getGitApp(name);
    return (app?.status?.lastSyncTime ?? "") > before ? app : undefined;
  });
}

describe("GitApp spec fields end to end", () => {
  before(async () => {
    [env, privateGit] = await Promise.all([
      startEnv({ webhook: true, config: (c) => (c.sync.statusHeartbeat = "0s") }), // each sync moves lastSyncTime
      startGitServer({ auth: { username: USERNAME, password: PASSWORD } }),
    ]);
  });
  after(async () => {
    await env?.stop();
    await privateGit?.stop();
  });

  it("credentialsSecret: a private repository syncs with the Secret's username and password, and not without", async () => {
    const { commit } = await privateGit.createRepo("private", { "app/cm.yaml": configMap("private", "42") });
    const repoURL = privateGit.repoURL("private");
    // Without credentials: the Git server's 401, said in the condition; nothing is applied.
    await env.applyGitApp("no-creds", {
      source: { repoURL, revision: "main", path: "app" },
      destination: { namespace: "no-creds" },
      sync: { interval: "1h", createNamespace: true },
    });
    const refused = await waitFor("no-creds fails", async () => {
      const app = await env.getGitApp("no-creds");
      return condition(app, "Synced")?.status === "False" ? app : undefined;
    });
    assert.deepEqual(
      { reason: condition(refused, "Synced")?.reason, message: condition(refused, "Synced")?.message },
      {
        reason: "AuthenticationFailed",
        message: `fetch failed: authentication to ${repoURL} failed (HTTP 401): the repository needs credentials; set spec.source.credentialsSecret`,
      },
    );
    // A wrong password in the Secret is rejected too, saying so.
    const secret = (name: string, password: string): Promise<void> =>
      env.admin
        .apply(
          {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name, namespace: "default" },
            stringData: { username: USERNAME, password },
          },
          { fieldManager: "test", force: true },
        )
        .then(() => undefined);
    await secret("wrong-creds", "guessed");
    await env.applyGitApp("wrong-creds", {
      source: { repoURL, revision: "main", path: "app", credentialsSecret: "wrong-creds" },
      destination: { namespace: "wrong-creds" },
      sync: { interval: "1h", createNamespace: true },
    });
    const wrong = await waitFor("wrong-creds fails", async () => {
      const app = await env.getGitApp("wrong-creds");
      return condition(app, "Synced")?.status === "False" ? app : undefined;
    });
    assert.equal(condition(wrong, "Synced")?.reason, "AuthenticationFailed");
    assert.match(
      condition(wrong, "Synced")?.message ?? "",
      /the credentials were rejected; check the credentials secret/,
    );

    await secret("repo-creds", PASSWORD);
    await env.applyGitApp("private", {
      source: { repoURL, revision: "main", path: "app", credentialsSecret: "repo-creds" },
      destination: { namespace: "private" },
      sync: { interval: "1h", createNamespace: true },
    });
    const app = await waitSynced(env, "private", commit);
    assert.deepEqual(
      app.status?.inventory?.map((i) => `${i.kind}/${i.name}`),
      ["ConfigMap/private"],
    );
    const live = await env.get("v1", "ConfigMap", "private", "private");
    assert.deepEqual(live?.data, { value: "42" });
    assert.equal(await env.get("v1", "ConfigMap", "no-creds", "private"), undefined);
    assert.equal(await env.get("v1", "ConfigMap", "wrong-creds", "private"), undefined);
    // The Git server saw both the refusals and the authenticated fetch.
    assert.ok(privateGit.requests.some((r) => r.status === 401));
    assert.ok(privateGit.requests.some((r) => r.status === 200 && r.query.includes("git-upload-pack")));
    // The password is nowhere in what gitgate writes about the apps.
    for (const name of ["no-creds", "wrong-creds", "private"])
      assert.ok(!JSON.stringify(await env.getGitApp(name)).includes(PASSWORD), name);
  });

  it("ignoreDifferences: a scale of the ignored field is admitted and not reverted; other fields stay guarded", async () => {
    const { commit } = await env.git.createRepo("ignored", { "app/web.yaml": deployment });
    const repoURL = env.git.repoURL("ignored");
    await env.applyGitApp("ignored", {
      source: { repoURL, revision: "main", path: "app" },
      destination: { namespace: "ignored" },
      sync: { interval: "1h", createNamespace: true, selfHeal: true },
      enforcement: {
        mode: "enforce",
        ignoreDifferences: [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] }],
      },
    });
    await waitSynced(env, "ignored", commit);
    const scale = await env.kubectl("user", ["-n", "ignored", "scale", "deployment", "web", "--replicas=5"]);
    assert.equal(scale.code, 0, scale.stderr);
    assert.doesNotMatch(scale.stderr, /Warning|managed by Git/);
    // A sync after the scale had its chance to revert it, and did not; no drift is reported.
    const app = await syncAfterTrigger("ignored", repoURL);
    assert.equal(condition(app, "Synced")?.status, "True");
    assert.equal(condition(app, "Drifted")?.status, "False", JSON.stringify(app.status?.conditions));
    assert.deepEqual(app.status?.drift ?? [], []);
    const live = await env.get("apps/v1", "Deployment", "ignored", "web");
    assert.equal((live?.spec as { replicas?: number }).replicas, 5);
    assert.ok(!env.alerts.some((a) => a.object?.name === "web" && a.app.name === "ignored"), "no alert");
    // The image is not ignored: still denied, naming the field.
    const image = await env.kubectl("user", [
      "-n",
      "ignored",
      "set",
      "image",
      "deployment/web",
      "web=registry.example.com/web:2.0",
    ]);
    assertDenied(
      image,
      "validate.gitgate.io",
      /^Deployment ignored\/web is managed by Git: spec\.template\.spec\.containers\[name=web\]\.image is registry\.example\.com\/web:1\.0 in .* app\/web\.yaml@[0-9a-f]{7}, request has registry\.example\.com\/web:2\.0\./,
    );
  });

  it("revision: a full commit SHA holds the app at that commit; mode off: out-of-band edits pass without a word", async () => {
    const { commit: first } = await env.git.createRepo("by-sha", { "app/cm.yaml": configMap("by-sha", "1") });
    const second = await env.git.commit("by-sha", { "app/cm.yaml": configMap("by-sha", "2") }, "two");
    const repoURL = env.git.repoURL("by-sha");
    await env.applyGitApp("by-sha", {
      source: { repoURL, revision: first, path: "app" },
      destination: { namespace: "by-sha" },
      sync: { interval: "1h", createNamespace: true, selfHeal: false },
      enforcement: { mode: "off" },
    });
    await waitSynced(env, "by-sha", first);
    const app = await syncAfterTrigger("by-sha", repoURL);
    assert.equal(app.status?.revision, first, `not ${second}`);
    assert.deepEqual((await env.get("v1", "ConfigMap", "by-sha", "by-sha"))?.data, { value: "1" });
    const before = env.alerts.length;
    const edit = await env.kubectl("user", [
      "-n",
      "by-sha",
      "patch",
      "configmap",
      "by-sha",
      "--type=merge",
      "-p",
      '{"data":{"value":"9"}}',
    ]);
    assert.equal(edit.code, 0, edit.stderr);
    assert.equal(edit.stderr, "");
    assert.deepEqual((await env.get("v1", "ConfigMap", "by-sha", "by-sha"))?.data, { value: "9" });
    const live = await env.get("v1", "ConfigMap", "by-sha", "by-sha");
    assert.equal(
      live?.metadata.annotations?.["gitgate.io/last-out-of-band-change"],
      undefined,
      "not recorded",
    );
    assert.deepEqual(
      env.alerts.slice(before).filter((a) => a.type.startsWith("change-")),
      [],
      "no admission alert",
    );
  });

  it("webhook.failurePolicy Ignore: while gitgate is down, writes to managed objects go through", async () => {
    await env.restart({ webhook: true, config: (c) => (c.webhook.failurePolicy = "Ignore") });
    const policies = async (): Promise<Record<string, string>> => {
      const validating = await env.admin.get({
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        name: "gitgate-validate",
      });
      return Object.fromEntries(
        (validating?.webhooks as Array<{ name: string; failurePolicy: string }>).map((w) => [
          w.name,
          w.failurePolicy,
        ]),
      );
    };
    assert.deepEqual(await policies(), {
      "validate.gitgate.io": "Ignore",
      "scale.gitgate.io": "Ignore",
      "namespaces.gitgate.io": "Ignore",
    });
    await env.gitgate.stop();
    const scale = await env.kubectl("user", [
      "-n",
      "ignored",
      "set",
      "image",
      "deployment/web",
      "web=registry.example.com/web:3.0",
    ]);
    assert.equal(scale.code, 0, scale.stderr);
    await env.restart({ webhook: true });
    assert.equal((await policies())["validate.gitgate.io"], "Fail");
  });
});
