/**
 * The reconciler against a real control plane and a real Git server: plain, Kustomize and Helm
 * apps sync; pushes, prunes, pinned tags, self-heal and broken inputs behave as users expect.
 */
import { strict as assert } from "node:assert";
import { createHmac } from "node:crypto";
import { request } from "node:https";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import { diffDeclared } from "../src/diff/index.js";
import { withApplyDefaults } from "../src/manifest/defaults.js";
import type { KubeObject } from "../src/manifest/object.js";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";
import { examplesDir, readTree } from "../src/testenv/files.js";

const EXAMPLES = examplesDir();

const DEPLOY = "apps/v1";
let env: TestEnv;
let repoURL: string;
let first: string;

async function replicas(ns: string, name: string): Promise<number | undefined> {
  const d = await env.get(DEPLOY, "Deployment", ns, name);
  return (d?.spec as { replicas?: number } | undefined)?.replicas;
}

function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  ca: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", headers: { "content-type": "application/json", ...headers }, ca },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function kubectlOut(bin: string, args: string[]): Promise<string> {
  const { execFile } = await import("node:child_process");
  return new Promise((resolve, reject) =>
    execFile(bin, args, (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(stdout),
    ),
  );
}

/** Every object the tool printed exists live and equals it on every field the tool declared. */
async function assertLiveMatches(yamlText: string, namespace: string): Promise<void> {
  const docs = yaml.loadAll(yamlText).filter((d): d is KubeObject => typeof d === "object" && d !== null);
  assert.ok(docs.length >= 2);
  for (const doc of docs) {
    doc.metadata.namespace ??= namespace;
    const live = await env.get(doc.apiVersion, doc.kind, doc.metadata.namespace, doc.metadata.name ?? "");
    assert.ok(live, `${doc.kind} ${doc.metadata.name ?? ""} is live`);
    assert.deepEqual(
      diffDeclared(withApplyDefaults(doc), live, []),
      [],
      `${doc.kind} ${doc.metadata.name ?? ""} equals the tool's output`,
    );
  }
}

describe("reconciler", () => {
  before(async () => {
    env = await startEnv({ webhook: true, config: (c) => (c.hooks.githubSecret = "push-secret") });
    first = (await env.git.createRepo("deploy", await readTree(EXAMPLES, "apps"))).commit;
    repoURL = env.git.repoURL("deploy");
  });
  after(async () => env?.stop());

  it("syncs a plain directory: live objects equal Git on declared fields, status has commit and inventory", async () => {
    await env.applyGitApp("guestbook", {
      source: { repoURL, revision: "main", path: "apps/guestbook" },
      destination: { namespace: "guestbook" },
      sync: { interval: "1h", createNamespace: true },
    });
    const app = await waitSynced(env, "guestbook", first);
    assert.equal(app.status?.revision, first);
    assert.deepEqual(app.status?.inventory?.map((i) => `${i.kind}/${i.name}`).sort(), [
      "ConfigMap/guestbook-config",
      "ConfigMap/guestbook-feature-flags",
      "Deployment/guestbook-ui",
      "Service/guestbook-ui",
    ]);
    const live = await env.get(DEPLOY, "Deployment", "guestbook", "guestbook-ui");
    assert.ok(live);
    assert.equal(live.metadata.labels?.["gitgate.io/app"], "default.guestbook");
    assert.equal(live.metadata.annotations?.["gitgate.io/file"], "apps/guestbook/deployment.yaml");
    assert.equal(live.metadata.annotations?.["gitgate.io/commit"], first);
    const desired = env.gitgate.controller.index.get("apps/Deployment/guestbook/guestbook-ui")?.object;
    assert.ok(desired);
    assert.deepEqual(diffDeclared(desired, live, []), []);
    const events = await env.kubectl("admin", [
      "get",
      "events",
      "-n",
      "default",
      "--field-selector",
      "involvedObject.name=guestbook",
      "-o",
      "jsonpath={.items[*].reason}",
    ]);
    assert.match(events.stdout, /Synced/);
  });

  it("syncs a Kustomize overlay equal to `kubectl kustomize` on declared fields", async () => {
    await env.applyGitApp("podinfo", {
      source: { repoURL, revision: "main", path: "apps/podinfo/overlays/prod" },
      destination: { namespace: "podinfo" },
      sync: { interval: "1h", createNamespace: true },
    });
    await waitSynced(env, "podinfo", first);
    const built = await kubectlOut(env.tools.kubectl, ["kustomize", `${EXAMPLES}podinfo/overlays/prod`]);
    await assertLiveMatches(built, "podinfo");
    const live = await env.get(DEPLOY, "Deployment", "podinfo", "prod-podinfo");
    assert.equal((live?.spec as { replicas: number }).replicas, 3, "patch applied");
    assert.equal(live?.metadata.labels?.env, "prod");
  });

  it("syncs a Helm chart with a values file, equal to `helm template`", async () => {
    await env.applyGitApp("echo", {
      source: {
        repoURL,
        revision: "main",
        path: "apps/echo-chart",
        helm: { valueFiles: ["values-prod.yaml"] },
      },
      destination: { namespace: "echo" },
      sync: { interval: "1h", createNamespace: true },
    });
    await waitSynced(env, "echo", first);
    const built = await kubectlOut(env.tools.helm, [
      "template",
      "echo",
      `${EXAMPLES}echo-chart`,
      "--namespace",
      "echo",
      "-f",
      `${EXAMPLES}echo-chart/values-prod.yaml`,
    ]);
    await assertLiveMatches(built, "echo");
    const live = await env.get(DEPLOY, "Deployment", "echo", "echo-echo");
    const spec = live?.spec as {
      replicas: number;
      template: { spec: { containers: Array<{ args: string[] }> } };
    };
    assert.equal(spec.replicas, 2, "release name defaults to the GitApp name; values file applied");
    assert.deepEqual(spec.template.spec.containers[0]?.args, [
      "-text=hello from production",
      "-listen=:5678",
    ]);
  });

  it("applies a pushed replica change at once via the push receiver, and prunes a removed file", async () => {
    const changed =
      (await readTree(EXAMPLES, "apps"))["apps/guestbook/deployment.yaml"]?.replace(
        "replicas: 1",
        "replicas: 4",
      ) ?? "";
    const commit = await env.git.commit(
      "deploy",
      { "apps/guestbook/deployment.yaml": changed, "apps/guestbook/service.yaml": null },
      "scale up, drop the service",
    );
    const body = JSON.stringify({
      ref: "refs/heads/main",
      after: commit,
      repository: { clone_url: repoURL },
    });
    const sig = `sha256=${createHmac("sha256", "push-secret").update(body).digest("hex")}`;
    const bad = await post(
      `${env.gitgate.url}/hooks/git`,
      body,
      { "x-github-event": "push", "x-hub-signature-256": "sha256=00" },
      env.gitgate.caPem ?? "",
    );
    assert.equal(bad.status, 401);
    const started = Date.now();
    const res = await post(
      `${env.gitgate.url}/hooks/git`,
      body,
      { "x-github-event": "push", "x-hub-signature-256": sig },
      env.gitgate.caPem ?? "",
    );
    assert.equal(res.status, 202, res.text);
    assert.equal(res.text, '{"accepted":true}', "the reply names no GitApp");
    await waitFor("replicas 4", async () => (await replicas("guestbook", "guestbook-ui")) === 4, 10_000);
    console.log(`push → applied in ${Date.now() - started} ms`);
    await waitFor(
      "Service pruned",
      async () => !(await env.get("v1", "Service", "guestbook", "guestbook-ui")),
      10_000,
    );
    const app = await waitSynced(env, "guestbook", commit);
    assert.equal(app.status?.inventory?.length, 3);
  });

  it("does not move a revision pinned to a tag when main moves", async () => {
    const tagged = await env.git.tag("deploy", "v1.0.0");
    await env.applyGitApp("pinned", {
      source: { repoURL, revision: "v1.0.0", path: "apps/guestbook" },
      destination: { namespace: "pinned" },
      sync: { interval: "1s", createNamespace: true },
    });
    await waitSynced(env, "pinned", tagged);
    const moved = await env.git.commit(
      "deploy",
      {
        "apps/guestbook/deployment.yaml":
          (await readTree(EXAMPLES, "apps"))["apps/guestbook/deployment.yaml"]?.replace(
            "replicas: 1",
            "replicas: 7",
          ) ?? "",
      },
      "main moves",
    );
    env.gitgate.controller.triggerRepo(repoURL);
    await waitSynced(env, "guestbook", moved);
    await new Promise((r) => setTimeout(r, 2500)); // two intervals of the pinned app
    const app = await env.getGitApp("pinned");
    assert.equal(app?.status?.revision, tagged);
    assert.equal(await replicas("pinned", "guestbook-ui"), 4);
  });

  it("reverts an out-of-band kubectl change (selfHeal) and says which object and field drifted", async () => {
    const r = await env.kubectl("admin", [
      "-n",
      "guestbook",
      "patch",
      "configmap",
      "guestbook-config",
      "--type=merge",
      "-p",
      '{"data":{"TITLE":"hacked"}}',
    ]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor("TITLE reverted", async () => {
      const cm = await env.get("v1", "ConfigMap", "guestbook", "guestbook-config");
      return (cm?.data as Record<string, string> | undefined)?.TITLE === "Guestbook";
    });
    const app = await waitFor("Drifted condition", async () => {
      const a = await env.getGitApp("guestbook");
      return condition(a, "Drifted")?.reason === "DriftReverted" ? a : undefined;
    });
    const drifted = condition(app, "Drifted");
    assert.match(drifted?.message ?? "", /ConfigMap guestbook\/guestbook-config: data\.TITLE/);
    // The user, from the record gitgate's mutating webhook left on the object, not the field manager.
    assert.match(drifted?.message ?? "", /changed by admin\b/);
    const alert = env.alerts.find((a) => a.type === "drift-reverted");
    assert.equal(alert?.actor?.username, "admin");
    assert.deepEqual(
      alert?.changes?.map((c) => [c.path, c.gitValue, c.liveValue]),
      [["data.TITLE", "Guestbook", "hacked"]],
    );
  });

  it("with selfHeal off only reports drift", async () => {
    await env.applyGitApp("pinned", {
      source: { repoURL, revision: "v1.0.0", path: "apps/guestbook" },
      destination: { namespace: "pinned" },
      sync: { interval: "1s", createNamespace: true, selfHeal: false },
    });
    await waitFor(
      "spec observed",
      async () => (await env.getGitApp("pinned"))?.status?.observedGeneration === 2,
    );
    const r = await env.kubectl("admin", [
      "-n",
      "pinned",
      "scale",
      "deployment",
      "guestbook-ui",
      "--replicas=9",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const app = await waitFor("Drifted=True", async () => {
      const a = await env.getGitApp("pinned");
      return condition(a, "Drifted")?.status === "True" ? a : undefined;
    });
    assert.match(condition(app, "Drifted")?.message ?? "", /Deployment pinned\/guestbook-ui: spec\.replicas/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await replicas("pinned", "guestbook-ui"), 9, "not reverted");
    assert.ok(env.alerts.some((a) => a.type === "drift-found" && a.app.name === "pinned"));
  });
});
