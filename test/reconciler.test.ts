/**
 * The reconciler against a real control plane and a real Git server: plain, Kustomize and Helm
 * apps sync; pushes, prunes, pinned tags, self-heal and broken inputs behave as users expect.
 */
import { strict as assert } from "node:assert";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import type { KubeObject } from "../src/manifest/object.js";
import type { GitApp } from "../src/api/gitapp.js";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";
import { examplesDir, readTree } from "../src/testenv/files.js";
import { call } from "../src/testenv/admission-client.js";

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
): ReturnType<typeof call> {
  return call(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, ca, body });
}

async function kubectlOut(bin: string, args: string[]): Promise<string> {
  const { execFile } = await import("node:child_process");
  return new Promise((resolve, reject) =>
    execFile(bin, args, (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(stdout),
    ),
  );
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** An object as kube-apiserver returned it, without the bookkeeping kubectl apply adds. */
function comparable(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  delete copy.metadata.managedFields;
  delete copy.metadata.annotations?.[LAST_APPLIED];
  // A Deployment counts an annotation change (kubectl's, above) as a new generation.
  delete copy.metadata.generation;
  return copy;
}

/**
 * Every object the tool printed exists live, and the live object is exactly what kube-apiserver
 * itself makes of the tool's output: `kubectl apply --dry-run=server` of that output over the live
 * objects (kubectl's strategic merge, the API server's defaulting) returns them unchanged but for
 * kubectl's own bookkeeping. The oracle is kubectl and the API server, not gitgate's defaults
 * table or diff. (A server-side-apply dry run cannot be the oracle on 1.20: it rejects Service ports
 * without a protocol, which is why gitgate fills such defaults in.)
 */
async function assertLiveMatches(yamlText: string, namespace: string): Promise<void> {
  const docs = yaml.loadAll(yamlText).filter((d): d is KubeObject => typeof d === "object" && d !== null);
  assert.ok(docs.length >= 2);
  const dry = await env.kubectl(
    "admin",
    ["apply", "--dry-run=server", "-n", namespace, "-o", "json", "-f", "-"],
    yamlText,
  );
  assert.equal(dry.code, 0, dry.stderr);
  const parsed = JSON.parse(dry.stdout) as KubeObject & { items?: KubeObject[] };
  const merged = parsed.items ?? [parsed];
  assert.equal(merged.length, docs.length);
  for (const after of merged) {
    const { kind, metadata } = after;
    const live = await env.get(after.apiVersion, kind, metadata.namespace, metadata.name ?? "");
    assert.ok(live, `${kind} ${metadata.name ?? ""} is live`);
    assert.equal(live.metadata.labels?.["gitgate.io/app"] !== undefined, true, `${kind} is gitgate's`);
    assert.deepEqual(
      comparable(after),
      comparable(live),
      `${kind} ${metadata.name ?? ""}: applying the tool's output would change the live object`,
    );
  }
}

/**
 * Waits until `count` syncs of a GitApp have finished after `since` (each moves lastSyncTime; the
 * app's 1 s interval drives them). Returns the GitApp as the last one left it.
 */
async function syncsAfter(name: string, since: Date, count: number): Promise<GitApp> {
  let mark = since.toISOString();
  let app: GitApp | undefined;
  for (let i = 0; i < count; i++) {
    const after = mark;
    app = await waitFor(`sync ${i + 1} of ${name} after ${after}`, async () => {
      const got = await env.getGitApp(name);
      return (got?.status?.lastSyncTime ?? "") > after ? got : undefined;
    });
    mark = app.status?.lastSyncTime ?? mark;
  }
  assert.ok(app);
  return app;
}

describe("reconciler", () => {
  before(async () => {
    // statusHeartbeat 0s: each sync moves lastSyncTime, which syncsAfter counts.
    env = await startEnv({
      webhook: true,
      config: (c) => {
        c.hooks.githubSecret = "push-secret";
        c.sync.statusHeartbeat = "0s";
      },
    });
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
    // Server-side apply: kube-apiserver records gitgate's field manager with operation Apply.
    assert.deepEqual(
      live.metadata.managedFields?.filter((m) => m.manager === "gitgate").map((m) => m.operation),
      ["Apply"],
    );
    // Git's files themselves, applied by kube-apiserver as a dry run, change nothing live.
    const files = await readTree(EXAMPLES, "apps");
    const gitFiles = Object.entries(files)
      .filter(([path]) => path.startsWith("apps/guestbook/") && path.endsWith(".yaml"))
      .map(([, text]) => text);
    assert.equal(gitFiles.length, 3, "deployment, service and config files");
    await assertLiveMatches(gitFiles.join("\n---\n"), "guestbook");
    // Events are written off the reconcile's path (sync/events.ts): they follow the status shortly.
    await waitFor("a Synced Event for guestbook", async () => {
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
      return /Synced/.test(events.stdout);
    });
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

  it("reports no drift on any fixture after a resync: API-server defaults and controllers' fields are not drift", async () => {
    // The deployment controller has written its revision annotation and status by now.
    await waitFor("deployment revisions", async () =>
      (
        await Promise.all(
          [
            ["guestbook", "guestbook-ui"],
            ["podinfo", "prod-podinfo"],
            ["echo", "echo-echo"],
          ].map(([ns, name]) => env.get(DEPLOY, "Deployment", ns, name ?? "")),
        )
      ).every((d) => d?.metadata.annotations?.["deployment.kubernetes.io/revision"]),
    );
    for (const name of ["guestbook", "podinfo", "echo"]) {
      const before = (await env.getGitApp(name))?.metadata.generation ?? 0;
      const app = await env.getGitApp(name);
      assert.ok(app);
      // A spec change forces a full reconcile (diff against live, managedFields included).
      await env.applyGitApp(name, { ...app.spec, sync: { ...app.spec.sync, interval: "59m" } });
      const resynced = await waitFor(`${name} resynced`, async () => {
        const a = await env.getGitApp(name);
        return (a?.status?.observedGeneration ?? 0) > before && condition(a, "Synced")?.status === "True"
          ? a
          : undefined;
      });
      assert.deepEqual(
        resynced.status?.drift ?? [],
        [],
        `${name}: ${JSON.stringify(resynced.status?.drift)}`,
      );
      assert.notEqual(condition(resynced, "Drifted")?.status, "True", name);
    }
    assert.deepEqual(
      env.alerts
        .filter((a) => a.type === "drift-found" || a.type === "drift-reverted")
        .map((a) => a.app.name),
      [],
    );
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
    assert.equal(res.status, 202, res.body);
    assert.equal(res.body, '{"accepted":true}', "the reply names no GitApp");
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
    // The positive signal: two syncs of the pinned app that both started after main moved.
    const app = await syncsAfter("pinned", new Date(), 2);
    assert.equal(app.status?.revision, tagged);
    assert.equal(app.status?.lastAttemptedRevision, tagged);
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
    // The status is written before the alert is published: wait (bounded) for the alert too.
    const alert = await waitFor("the drift-reverted alert", () =>
      env.alerts.find((a) => a.type === "drift-reverted" && a.object?.name === "guestbook-config"),
    ).catch(() => undefined);
    assert.equal(
      alert?.actor?.username,
      "admin",
      JSON.stringify(
        env.alerts.filter((a) => a.type.startsWith("drift")).map((a) => [a.object, a.actor, a.changes]),
      ),
    );
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
    // Two more syncs had their chance to revert it (the positive signal), and left it, still drifted.
    const later = await syncsAfter("pinned", new Date(), 2);
    assert.equal(condition(later, "Drifted")?.reason, "DriftDetected");
    assert.equal(await replicas("pinned", "guestbook-ui"), 9, "not reverted");
    assert.ok(env.alerts.some((a) => a.type === "drift-found" && a.app.name === "pinned"));
  });
});
