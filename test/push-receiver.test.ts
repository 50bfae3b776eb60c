/**
 * The push receiver on a real control plane and Git server (#13): an unsigned push is refused and
 * queues nothing; signed pushes sync at once, but never one GitApp more often than
 * sync.minInterval (a push during the interval is honoured when it ends, not dropped). A push to the
 * Git repository a chart's value files come from (`spec.valuesFrom`) syncs that GitApp too.
 */
import { strict as assert } from "node:assert";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { call } from "../src/testenv/admission-client.js";
import { startOciRegistry, type OciRegistry } from "../src/testenv/chart-repo.js";
import { startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

const SECRET = "push-secret";
const MIN_INTERVAL_S = 15;
let env: TestEnv;
let repoURL: string;
let registry: OciRegistry | undefined;

const config = (level: string): string => `apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { LEVEL: "${level}" }
`;

async function push(
  commit: string,
  signed = true,
  cloneURL = repoURL,
): Promise<{ status: number; text: string }> {
  const body = JSON.stringify({ ref: "refs/heads/main", after: commit, repository: { clone_url: cloneURL } });
  const headers: Record<string, string> = { "content-type": "application/json", "x-github-event": "push" };
  if (signed)
    headers["x-hub-signature-256"] = `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
  const answer = await call(`${env.gitgate.url}/hooks/git`, {
    method: "POST",
    headers,
    ca: env.gitgate.caPem ?? "",
    body,
  });
  return { status: answer.status, text: answer.body };
}

async function level(): Promise<string | undefined> {
  const cm = await env.get("v1", "ConfigMap", "pushed", "settings");
  return (cm?.data as Record<string, string> | undefined)?.LEVEL;
}

describe("push receiver", () => {
  before(async () => {
    env = await startEnv({
      webhook: true,
      config: (c) => {
        c.hooks.githubSecret = SECRET;
        c.sync.minInterval = `${MIN_INTERVAL_S}s`;
      },
    });
    const { commit } = await env.git.createRepo("deploy", { "app/settings.yaml": config("info") });
    repoURL = env.git.repoURL("deploy");
    await env.applyGitApp("pushed", {
      source: { repoURL, revision: "main", path: "app" },
      destination: { namespace: "pushed" },
      sync: { interval: "1h", createNamespace: true }, // only pushes move it here
    });
    await waitSynced(env, "pushed", commit);
  });
  after(async () => {
    await env?.stop();
    await registry?.stop();
  });

  it("refuses an unsigned push, and it syncs nothing", async () => {
    const commit = await env.git.commit("deploy", { "app/settings.yaml": config("unsigned") }, "unsigned");
    const refused = await push(commit, false);
    assert.equal(refused.status, 401, refused.text);
    assert.doesNotMatch(refused.text, /pushed/, "the reply names no GitApp");
    // The positive signal that a sync would have happened by now: a signed push of the same commit
    // is what moves the app (the first sync after it is at that commit, never before it was sent).
    const sentAt = Date.now();
    const accepted = await push(commit);
    assert.deepEqual([accepted.status, accepted.text], [202, '{"accepted":true}']);
    const app = await waitSynced(env, "pushed", commit, "default", 60_000);
    assert.ok(Date.parse(app.status?.lastSyncTime ?? "") >= sentAt - 1000);
    assert.equal(await level(), "unsigned");
  });

  it(`honours sync.minInterval per GitApp: two pushes ${MIN_INTERVAL_S} s apart at least`, async () => {
    const first = await env.git.commit("deploy", { "app/settings.yaml": config("one") }, "one");
    const t0 = Date.now();
    assert.equal((await push(first)).status, 202);
    const one = await waitSynced(env, "pushed", first, "default", 60_000);
    const second = await env.git.commit("deploy", { "app/settings.yaml": config("two") }, "two");
    assert.equal((await push(second)).status, 202);
    const two = await waitSynced(env, "pushed", second, "default", 90_000);
    // Lower bounds only (a busy machine may be slower, never faster): the second push's sync started
    // at least minInterval after the one before it, which started after t0.
    const gap = Date.parse(two.status?.lastSyncTime ?? "") - t0;
    console.log(
      `push pacing: first sync at +${Date.parse(one.status?.lastSyncTime ?? "") - t0} ms, second at +${gap} ms`,
    );
    assert.ok(gap >= MIN_INTERVAL_S * 1000 - 1000, `second sync ${gap} ms after the first push`);
    assert.equal(await level(), "two", "the push during the interval was honoured, not dropped");
  });

  it("a push to the Git repository of a chart's valuesFrom syncs that GitApp", async () => {
    registry = await startOciRegistry({ helm: env.tools.helm ?? "" });
    await registry.publish({
      name: "hello",
      version: "1.0.0",
      files: {
        "templates/cm.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
      },
    });
    await env.git.createRepo("values", { "prod.yaml": "greeting: first\n" });
    await env.applyGitApp("chart-values", {
      source: {
        repoURL: registry.url,
        chart: "hello",
        revision: "1.0.0",
        helm: { valueFiles: ["$values/prod.yaml"] },
      },
      valuesFrom: { repoURL: env.git.repoURL("values"), revision: "main" },
      destination: { namespace: "chart-values" },
      sync: { interval: "1h", createNamespace: true }, // only a push moves it
    });
    await waitSynced(env, "chart-values", "1.0.0");
    const greeting = async (): Promise<string | undefined> =>
      (
        (await env.get("v1", "ConfigMap", "chart-values", "hello"))?.data as
          Record<string, string> | undefined
      )?.greeting;
    assert.equal(await greeting(), "first");
    const second = await env.git.commit("values", { "prod.yaml": "greeting: pushed\n" }, "pushed");
    const t0 = Date.now();
    const accepted = await push(second, true, env.git.repoURL("values"));
    assert.deepEqual([accepted.status, accepted.text], [202, '{"accepted":true}']);
    await waitFor(
      "the values commit applied after the push",
      async () =>
        (await env.getGitApp("chart-values"))?.status?.source?.valuesRevision === second &&
        (await greeting()) === "pushed",
      (MIN_INTERVAL_S + 45) * 1000,
    );
    console.log(`values push: applied ${Date.now() - t0} ms after the push`);
  });
});
