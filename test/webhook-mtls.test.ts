/**
 * Only kube-apiserver's requests count (webhook.clientCA): the real control plane presents its
 * client certificate to gitgate's webhooks, so kubectl writes are still judged by gitgate; an
 * AdmissionReview posted straight to the port without that certificate, with one from another
 * CA, or (webhook.clientNames) with a wrong name is refused with 403 before the review; probes
 * and /metrics need no certificate.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import { parseConfig } from "../src/config/load.js";
import { createLogger } from "../src/log/logger.js";
import { isPlainObject, type KubeObject } from "../src/manifest/object.js";
import { createClientCA, createClientCert, type CertKey } from "../src/testenv/client-certs.js";
import { WEBHOOK_CLIENT_NAME } from "../src/testenv/controlplane.js";
import { examplesDir, readTree } from "../src/testenv/files.js";
import { pinnedTools } from "../src/testenv/tools.js";
import { assertDenied } from "./harness/denied.js";
import { admissionReview } from "../src/testenv/admission-client.js";
import { startEnv, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;
const lines: string[] = [];
const logger = createLogger(
  "info",
  new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }),
);
const logs = (): Array<{ msg: string; [k: string]: unknown }> =>
  lines.map((l) => JSON.parse(l) as { msg: string; [k: string]: unknown });

/** An AdmissionReview the review would allow (an object no GitApp manages). */
const REVIEW = JSON.stringify(
  admissionReview({
    uid: "mtls-1",
    userInfo: { username: "alice" },
    object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "unmanaged", namespace: "default" } },
  }),
);

type Answer = { status: number; body: string } | { tlsError: string };

/** One request on a fresh connection (no agent: a pooled socket would carry another certificate). */
function call(path: string, client?: CertKey, body?: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(
      `${env.gitgate.url}${path}`,
      {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "content-type": "application/json" },
        ca: env.gitgate.caPem,
        agent: false,
        ...(client ? { cert: client.cert, key: client.key } : {}),
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", (err) => resolve({ tlsError: err.message }));
    req.end(body);
  });
}

async function reviewsAnswered(): Promise<number> {
  const metrics = await env.gitgate.registry.getMetricsAsJSON();
  const requests = metrics.find((m) => m.name === "gitgate_admission_requests_total") as
    { values: Array<{ value: number }> } | undefined;
  return (requests?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

/**
 * Posts REVIEW to /validate as `client` and asserts gitgate refused it before the review: 403 with
 * the reason (or, where allowed, a failed handshake), no AdmissionReview in the answer, no review
 * counted, and the refusal logged.
 */
async function assertRefused(client: CertKey | undefined, reason: RegExp): Promise<void> {
  const counted = await reviewsAnswered();
  const logged = lines.length;
  const answer = await call("/validate", client, REVIEW);
  assert.ok("status" in answer, `expected gitgate's 403, got a failed handshake: ${JSON.stringify(answer)}`);
  assert.equal(answer.status, 403, answer.body);
  const body = JSON.parse(answer.body) as { error?: string; response?: unknown; kind?: string };
  assert.equal(body.response, undefined, "no review answer");
  assert.equal(body.kind, undefined, "not an AdmissionReview");
  assert.match(body.error ?? "", reason);
  assert.equal(await reviewsAnswered(), counted, "the review never ran");
  const refusal = logs()
    .slice(logged)
    .find((l) => l.msg === "admission request rejected");
  assert.equal(refusal?.status, 403, lines.slice(logged).join(""));
  assert.match(String(refusal?.error), reason);
}

describe("webhook mTLS: only kube-apiserver's requests count", () => {
  before(async () => {
    env = await startEnv({ webhook: true, logger });
    const { commit } = await env.git.createRepo("deploy", await readTree(examplesDir(), "apps"));
    await env.applyGitApp("guestbook", {
      source: { repoURL: env.git.repoURL("deploy"), revision: "main", path: "apps/guestbook" },
      destination: { namespace: "guestbook" },
      sync: { interval: "1h", createNamespace: true },
      enforcement: { mode: "enforce" },
    });
    await waitSynced(env, "guestbook", commit);
  });
  after(async () => env?.stop());

  it("says once at start that client certificates are required, and logs no key material", () => {
    const said = logs().filter((l) => l.msg.startsWith("webhook client certificates"));
    assert.equal(said.length, 1, lines.join(""));
    assert.equal(said[0]?.file, env.cp.webhookClient.caPath);
    assert.equal(said[0]?.names, "any");
    assert.ok(!lines.some((l) => /BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/.test(l)), "no PEM in the log");
  });

  it("kube-apiserver's writes are still judged by gitgate: kubectl scale and set image are denied naming Git", async () => {
    const scale = await env.kubectl("user", [
      "-n",
      "guestbook",
      "scale",
      "deployment",
      "guestbook-ui",
      "--replicas=5",
    ]);
    assertDenied(
      scale,
      "scale.gitgate.io",
      /^Deployment guestbook\/guestbook-ui is managed by Git: spec\.replicas is 1 in /,
    );
    const image = await env.kubectl("user", [
      "-n",
      "guestbook",
      "set",
      "image",
      "deployment/guestbook-ui",
      "guestbook-ui=nginx:latest",
    ]);
    assertDenied(
      image,
      "validate.gitgate.io",
      /is managed by Git: spec\.template\.spec\.containers\[name=guestbook-ui\]\.image/,
    );
  });

  it("kube-apiserver's client certificate, posted directly, gets a review answer", async () => {
    const answer = await call("/validate", env.cp.webhookClient, REVIEW);
    assert.ok("status" in answer, JSON.stringify(answer));
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "mtls-1", allowed: true },
    });
  });

  it("refuses a direct POST without a client certificate with 403, before the review", async () => {
    await assertRefused(undefined, /^client refused \(no-certificate\): no client certificate presented$/);
    // /mutate too, and a review that would be denied gets the same refusal (nothing is decided).
    const mutate = await call("/mutate", undefined, REVIEW);
    assert.ok("status" in mutate && mutate.status === 403, JSON.stringify(mutate));
  });

  it("refuses a certificate from another CA, even one carrying kube-apiserver's name", async () => {
    const otherCA = createClientCA("not-the-cluster-ca");
    await assertRefused(
      createClientCert(otherCA, WEBHOOK_CLIENT_NAME),
      /^client refused \(untrusted\): client certificate not signed by webhook\.clientCA \(/,
    );
  });

  it("serves /healthz, /readyz and /metrics without a client certificate", async () => {
    for (const path of ["/healthz", "/readyz"]) {
      const answer = await call(path);
      assert.deepEqual(answer, { status: 200, body: "ok" }, path);
    }
    const metrics = await call("/metrics");
    assert.ok("status" in metrics && metrics.status === 200, JSON.stringify(metrics).slice(0, 200));
    assert.match(metrics.body, /gitgate_admission_requests_total/);
  });

  it("with webhook.clientNames: the right CA with a wrong name gets 403; kube-apiserver's name is judged", async () => {
    await env.restart({
      webhook: true,
      logger,
      config: (c) => void (c.webhook.clientNames = [WEBHOOK_CLIENT_NAME]),
    });
    await assertRefused(
      createClientCert(env.cp.webhookClient.ca, "someone-else", ["someone-else.example.com"]),
      /^client refused \(name\): client certificate names \["someone-else","someone-else\.example\.com"\] are not in webhook\.clientNames$/,
    );
    const scale = await env.kubectl("user", [
      "-n",
      "guestbook",
      "scale",
      "deployment",
      "guestbook-ui",
      "--replicas=5",
    ]);
    assertDenied(scale, "scale.gitgate.io", /^Deployment guestbook\/guestbook-ui is managed by Git/);
  });

  it("a clientNames list without kube-apiserver's name refuses kube-apiserver too (it presents that certificate)", async () => {
    await env.restart({
      webhook: true,
      logger,
      config: (c) => void (c.webhook.clientNames = ["someone-else"]),
    });
    const logged = lines.length;
    const scale = await env.kubectl("user", [
      "-n",
      "guestbook",
      "scale",
      "deployment",
      "guestbook-ui",
      "--replicas=5",
    ]);
    assert.notEqual(scale.code, 0, scale.stdout);
    // failurePolicy Fail: kube-apiserver could not get an answer, so the write fails.
    assert.match(scale.stderr, /failed calling webhook "scale\.gitgate\.io"/);
    const refusal = logs()
      .slice(logged)
      .find((l) => l.msg === "admission request rejected");
    assert.match(
      String(refusal?.error),
      new RegExp(`^client refused \\(name\\): client certificate names \\["${WEBHOOK_CLIENT_NAME}"\\]`),
    );
    const deployment = await env.get("apps/v1", "Deployment", "guestbook", "guestbook-ui");
    assert.equal((deployment?.spec as { replicas?: number }).replicas, 1);
  });
});

describe("chart: webhook.clientCA from an existing Secret or ConfigMap", () => {
  const chart = new URL("../chart", import.meta.url).pathname;
  let helmHome: string;
  let helmBin: string;
  before(async () => {
    helmHome = await mkdtemp(join(tmpdir(), "gitgate-mtls-helm-"));
    helmBin = (await pinnedTools()).helm ?? "helm";
  });
  after(async () => rm(helmHome, { recursive: true, force: true }));

  const template = (set: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) =>
      execFile(
        helmBin,
        [
          "template",
          "gitgate",
          chart,
          "-n",
          "gitgate-system",
          "--no-hooks",
          // No image is published: a render must name one (chart/README.md).
          "--set",
          "image.repository=registry.example.com/gitgate",
          ...set.flatMap((v) => ["--set", v]),
        ],
        {
          env: {
            PATH: process.env.PATH,
            HOME: helmHome,
            HELM_CACHE_HOME: join(helmHome, "c"),
            HELM_CONFIG_HOME: join(helmHome, "g"),
            HELM_DATA_HOME: join(helmHome, "d"),
          },
          maxBuffer: 16 << 20,
        },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
  const objects = (text: string): KubeObject[] =>
    yaml.loadAll(text).filter((d): d is KubeObject => isPlainObject(d) && typeof d.kind === "string");
  const podOf = (
    docs: KubeObject[],
  ): {
    containers: Array<{ volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
    volumes: Array<Record<string, unknown> & { name: string }>;
  } => (docs.find((o) => o.kind === "Deployment")?.spec as { template: { spec: never } }).template.spec;
  const configOf = (docs: KubeObject[]): ReturnType<typeof parseConfig> =>
    parseConfig(
      yaml.load(
        (docs.find((o) => o.kind === "ConfigMap")?.data as Record<string, string>)["config.yaml"] ?? "",
      ),
      "chart ConfigMap",
    );

  it("mounts the Secret's bundle (no subPath, so it can change) and points webhook.clientCA and clientNames at it", async () => {
    const r = await template([
      "webhook.clientCA.secretName=apiserver-webhook-client-ca",
      `webhook.clientNames={${WEBHOOK_CLIENT_NAME}}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const docs = objects(r.stdout);
    const config = configOf(docs);
    assert.equal(config.webhook.clientCA, "/etc/gitgate-client-ca/ca.crt");
    assert.deepEqual(config.webhook.clientNames, [WEBHOOK_CLIENT_NAME]);
    const pod = podOf(docs);
    assert.deepEqual(
      pod.containers[0]?.volumeMounts.find((m) => m.name === "client-ca"),
      { name: "client-ca", mountPath: "/etc/gitgate-client-ca", readOnly: true },
    );
    assert.deepEqual(
      pod.volumes.find((v) => v.name === "client-ca"),
      {
        name: "client-ca",
        secret: { secretName: "apiserver-webhook-client-ca", items: [{ key: "ca.crt", path: "ca.crt" }] },
      },
    );
  });

  it("takes a ConfigMap and another key; without either, no client CA, no volume", async () => {
    const r = await template([
      "webhook.clientCA.configMapName=apiserver-ca",
      "webhook.clientCA.key=bundle.pem",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const docs = objects(r.stdout);
    assert.equal(configOf(docs).webhook.clientCA, "/etc/gitgate-client-ca/bundle.pem");
    assert.equal(configOf(docs).webhook.clientNames, undefined);
    assert.deepEqual(
      podOf(docs).volumes.find((v) => v.name === "client-ca"),
      {
        name: "client-ca",
        configMap: { name: "apiserver-ca", items: [{ key: "bundle.pem", path: "bundle.pem" }] },
      },
    );
    const plain = objects((await template([])).stdout);
    assert.equal(configOf(plain).webhook.clientCA, undefined);
    assert.equal(
      podOf(plain).volumes.find((v) => v.name === "client-ca"),
      undefined,
    );
  });

  it("refuses clientNames without a CA, and a Secret and a ConfigMap both", async () => {
    const names = await template(["webhook.clientNames={x}"]);
    assert.notEqual(names.code, 0);
    assert.match(
      names.stderr,
      /webhook\.clientNames needs webhook\.clientCA\.secretName or webhook\.clientCA\.configMapName/,
    );
    const both = await template(["webhook.clientCA.secretName=a", "webhook.clientCA.configMapName=b"]);
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /webhook\.clientCA: set secretName or configMapName, not both/);
  });
});
