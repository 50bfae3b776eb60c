/**
 * GitApps whose source is a Helm chart: from a Helm repository (HTTPS with a private CA and basic
 * auth, both from the credentials Secret) and from an OCI registry (Debian's docker-registry, charts
 * published with `helm push`). The same chart syncs from both; a semver range moves to a newly
 * published version; the admission gate names `<repo> <chart>@<version>` where it names a Git file
 * (and the value files in Git with their commit, for a chart with spec.valuesFrom).
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import { createCA, type PemPair } from "../src/certs/certs.js";
import {
  startChartRepo,
  startOciRegistry,
  type ChartRepo,
  type ChartSpec,
  type OciRegistry,
} from "../src/testenv/chart-repo.js";
import { publicRepoURL } from "../src/manifest/normalize.js";
import { assertDenied } from "./harness/denied.js";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;
let ca: PemPair;
let repo: ChartRepo;
let registry: OciRegistry;
const auth = { username: "reader", password: "chart-pass-123" };

const chart = (version: string): ChartSpec => ({
  name: "hello",
  version,
  files: {
    "values.yaml": "greeting: hi\n",
    "templates/cm.yaml": [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata:",
      "  name: hello",
      "data:",
      "  version: {{ .Chart.Version | quote }}",
      "  greeting: {{ .Values.greeting | quote }}",
      "  release: {{ .Release.Name | quote }}",
      "",
    ].join("\n"),
  },
});

async function configMap(ns: string): Promise<Record<string, string> | undefined> {
  return (await env.get("v1", "ConfigMap", ns, "hello"))?.data as Record<string, string> | undefined;
}

describe("Helm charts from a Helm repository and an OCI registry", () => {
  before(async () => {
    env = await startEnv({ webhook: true });
    const helm = env.tools.helm ?? "";
    ca = createCA("gitgate test chart CA", 1);
    [repo, registry] = await Promise.all([
      startChartRepo({ helm, auth, tlsCA: ca }),
      startOciRegistry({ helm }),
    ]);
    await Promise.all([repo.publish(chart("1.0.0")), registry.publish(chart("1.0.0"))]);
    const b64 = (s: string): string => Buffer.from(s).toString("base64");
    await env.admin.create(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "chart-creds", namespace: "default" },
        data: { username: b64(auth.username), password: b64(auth.password), "ca.crt": b64(ca.cert) },
      },
      { fieldManager: "test" },
    );
  });
  after(async () => {
    await env?.stop();
    await Promise.all([repo?.stop(), registry?.stop()]);
  });

  it("syncs a chart from the Helm repository (credentials and CA from the Secret), values applied", async () => {
    await env.applyGitApp("from-repo", {
      source: {
        repoURL: repo.url,
        chart: "hello",
        revision: "1.0.0",
        credentialsSecret: "chart-creds",
        helm: { values: { greeting: "from-the-gitapp" } },
      },
      destination: { namespace: "charts-repo" },
      sync: { interval: "1h", createNamespace: true },
    });
    const app = await waitSynced(env, "from-repo", "1.0.0");
    assert.deepEqual(app.status?.source, { chart: "hello", version: "1.0.0" });
    assert.deepEqual(await configMap("charts-repo"), {
      version: "1.0.0",
      greeting: "from-the-gitapp",
      release: "from-repo",
    });
    assert.ok(repo.requests.some((r) => r.path === "/charts/hello-1.0.0.tgz" && r.status === 200));
  });

  it("syncs the same chart from the OCI registry", async () => {
    await env.applyGitApp("from-oci", {
      source: { repoURL: registry.url, chart: "hello", revision: "1.0.0" },
      destination: { namespace: "charts-oci" },
      sync: { interval: "1h", createNamespace: true },
    });
    const app = await waitSynced(env, "from-oci", "1.0.0");
    assert.equal(app.status?.revision, "1.0.0");
    assert.deepEqual(await configMap("charts-oci"), {
      version: "1.0.0",
      greeting: "hi",
      release: "from-oci",
    });
  });

  it("a semver range moves when a newer chart is published (Helm repository and OCI)", async () => {
    const ranged = (name: string, repoURL: string, ns: string, creds?: string): Promise<void> =>
      env.applyGitApp(name, {
        source: { repoURL, chart: "hello", revision: "^1.0", ...(creds ? { credentialsSecret: creds } : {}) },
        destination: { namespace: ns },
        sync: { interval: "1s", createNamespace: true },
      });
    await ranged("ranged-repo", repo.url, "ranged-repo", "chart-creds");
    await ranged("ranged-oci", registry.url, "ranged-oci");
    await waitSynced(env, "ranged-repo", "1.0.0");
    await waitSynced(env, "ranged-oci", "1.0.0");
    // A new major is outside the range; the new minor inside it is picked up by the next poll.
    await Promise.all([repo.publish(chart("2.0.0")), registry.publish(chart("2.0.0"))]);
    await Promise.all([repo.publish(chart("1.2.0")), registry.publish(chart("1.2.0"))]);
    for (const name of ["ranged-repo", "ranged-oci"]) {
      const app = await waitSynced(env, name, "1.2.0");
      assert.deepEqual(app.status?.source, { chart: "hello", version: "1.2.0" });
      await waitFor(`${name}'s ConfigMap at 1.2.0`, async () => (await configMap(name))?.version === "1.2.0");
    }
  });

  it("value files from a Git source of the same GitApp ($values/, spec.valuesFrom) follow its commits", async () => {
    const first = await env.git.createRepo("values", { "prod/values.yaml": "greeting: from-git\n" });
    await env.applyGitApp("with-values", {
      source: {
        repoURL: registry.url,
        chart: "hello",
        revision: "1.0.0",
        helm: { valueFiles: ["values.yaml", "$values/prod/values.yaml"] },
      },
      valuesFrom: { repoURL: env.git.repoURL("values"), revision: "main" },
      destination: { namespace: "with-values" },
      sync: { interval: "1s", createNamespace: true },
    });
    const app = await waitSynced(env, "with-values", "1.0.0");
    assert.deepEqual(app.status?.source, { chart: "hello", version: "1.0.0", valuesRevision: first.commit });
    assert.equal((await configMap("with-values"))?.greeting, "from-git");
    const second = await env.git.commit(
      "values",
      { "prod/values.yaml": "greeting: changed-in-git\n" },
      "new greeting",
    );
    await waitFor("the new values commit applied", async () => {
      const now = await env.getGitApp("with-values");
      return (
        now?.status?.source?.valuesRevision === second &&
        (await configMap("with-values"))?.greeting === "changed-in-git"
      );
    });
    // A value file may not leave the values checkout.
    await env.applyGitApp("values-escape", {
      source: {
        repoURL: registry.url,
        chart: "hello",
        revision: "1.0.0",
        helm: { valueFiles: ["$values/../../etc/passwd"] },
      },
      valuesFrom: { repoURL: env.git.repoURL("values") },
      destination: { namespace: "values-escape" },
      sync: { interval: "1h", createNamespace: true },
    });
    const failed = await waitFor("values-escape refused", async () => {
      const synced = condition(await env.getGitApp("values-escape"), "Synced");
      return synced?.status === "False" ? synced : undefined;
    });
    assert.equal(failed.reason, "PathEscapesRepo");
    assert.match(failed.message, /Helm value file \.\.\/\.\.\/etc\/passwd is outside the repository/);
    assert.equal(await configMap("values-escape"), undefined);
  });

  it("the admission gate's denial names <repo> <chart>@<version>", async () => {
    const r = await env.kubectl("user", [
      "-n",
      "charts-repo",
      "patch",
      "configmap",
      "hello",
      "--type=merge",
      "-p",
      JSON.stringify({ data: { greeting: "changed-by-hand" } }),
    ]);
    assertDenied(
      r,
      "validate.gitgate.io",
      /^ConfigMap charts-repo\/hello is managed by Git: data\.greeting is /,
    );
    assert.ok(
      r.stderr.includes(
        `data.greeting is from-the-gitapp in ${repo.url} hello@1.0.0, request has changed-by-hand`,
      ),
      r.stderr,
    );
    assert.equal((await configMap("charts-repo"))?.greeting, "from-the-gitapp");
    const oci = await env.kubectl("user", ["-n", "charts-oci", "delete", "configmap", "hello"]);
    assertDenied(oci, "validate.gitgate.io", /ConfigMap charts-oci\/hello is managed by Git/);
    assert.ok(oci.stderr.includes(`(${registry.url} hello@1.0.0): deleting it is not allowed`), oci.stderr);
    // A chart whose value files come from Git: the denial also names them, at the values commit.
    const valuesCommit = (await env.getGitApp("with-values"))?.status?.source?.valuesRevision ?? "";
    assert.match(valuesCommit, /^[0-9a-f]{40}$/);
    const withValues = await env.kubectl("user", [
      "-n",
      "with-values",
      "patch",
      "configmap",
      "hello",
      "--type=merge",
      "-p",
      JSON.stringify({ data: { greeting: "by-hand" } }),
    ]);
    assertDenied(withValues, "validate.gitgate.io", /^ConfigMap with-values\/hello is managed by Git: /);
    const where = `${registry.url} hello@1.0.0 with values ${publicRepoURL(env.git.repoURL("values"))} prod/values.yaml@${valuesCommit.slice(0, 7)}`;
    assert.ok(
      withValues.stderr.includes(`data.greeting is changed-in-git in ${where}, request has by-hand`),
      withValues.stderr,
    );
  });
});
