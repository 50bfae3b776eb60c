/**
 * Charts behind TLS and authentication, end to end: a real OCI registry (Debian's docker-registry,
 * TLS from a test CA, bcrypt htpasswd auth, the chart pushed with `helm registry login` + `helm
 * push`) and a Helm repository over HTTPS with basic auth. The credentials Secret's username,
 * password and ca.crt make them sync; without credentials the condition names the registry and says
 * authentication failed; a wrong CA is an untrusted-certificate condition; the password appears in
 * neither gitgate's logs nor any GitApp's status. Chart downloads go through HTTPS_PROXY (a real
 * CONNECT proxy) and NO_PROXY bypasses it, as Git fetches do.
 */
import { strict as assert } from "node:assert";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createCA, type PemPair } from "../src/certs/certs.js";
import { createLogger } from "../src/log/logger.js";
import {
  startChartRepo,
  startOciRegistry,
  type ChartRepo,
  type ChartSpec,
  type OciRegistry,
} from "../src/testenv/chart-repo.js";
import { startConnectProxy, type ConnectProxy } from "../src/testenv/connect-proxy.js";
import { applySecret, condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;
let ca: PemPair;
let registry: OciRegistry;
let repo: ChartRepo;
let proxy: ConnectProxy;
const logLines: string[] = [];
const auth = { username: "chart-reader", password: "oci-Pa55-word-7f3k" };
const PROXY_VARS = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];
const savedEnv = Object.fromEntries(PROXY_VARS.map((k) => [k, process.env[k]]));

const chart = (version: string): ChartSpec => ({
  name: "hello",
  version,
  files: {
    "templates/cm.yaml":
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  version: {{ .Chart.Version | quote }}\n",
  },
});

const secret = (name: string, data: Record<string, string>): Promise<void> => applySecret(env, name, data);

function chartApp(
  name: string,
  repoURL: string,
  credentialsSecret: string,
  revision = "1.0.0",
): Promise<void> {
  return env.applyGitApp(name, {
    source: { repoURL, chart: "hello", revision, credentialsSecret },
    destination: { namespace: name },
    sync: { interval: "2s", createNamespace: true },
  });
}

async function failure(name: string): Promise<{ reason: string; message: string }> {
  const c = await waitFor(
    `${name} fails`,
    async () => {
      const synced = condition(await env.getGitApp(name), "Synced");
      return synced?.status === "False" ? synced : undefined;
    },
    45_000,
  );
  return { reason: c.reason ?? "", message: c.message ?? "" };
}

/** Syncs and reports how long it took (the fetch and the apply), for the record. */
async function timedSync(
  name: string,
  repoURL: string,
  secretName: string,
  revision?: string,
): Promise<void> {
  const t0 = Date.now();
  await chartApp(name, repoURL, secretName, revision);
  await waitSynced(env, name, "1.0.0", "default", 45_000);
  console.log(`${name}: synced ${Date.now() - t0} ms after the GitApp was applied`);
}

async function restartWithEnv(vars: Record<string, string>): Promise<void> {
  for (const k of PROXY_VARS) delete process.env[k];
  Object.assign(process.env, vars);
  await env.restart();
}

describe("charts behind TLS and authentication (OCI registry and Helm repository)", () => {
  before(async () => {
    for (const k of PROXY_VARS) delete process.env[k];
    const logs = new PassThrough();
    logs.on("data", (chunk: Buffer) => logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean)));
    env = await startEnv({ logger: createLogger("debug", logs) });
    const helm = env.tools.helm ?? "";
    ca = createCA("gitgate test registry CA", 1);
    [registry, repo, proxy] = await Promise.all([
      startOciRegistry({ helm, auth, tlsCA: ca }),
      startChartRepo({ helm, auth, tlsCA: ca }),
      startConnectProxy(),
    ]);
    await Promise.all([registry.publish(chart("1.0.0")), repo.publish(chart("1.0.0"))]);
    const other = createCA("some other CA", 1);
    await secret("creds", { ...auth, "ca.crt": ca.cert });
    await secret("ca-only", { "ca.crt": ca.cert });
    await secret("wrong-ca", { ...auth, "ca.crt": other.cert });
  });
  after(async () => {
    await env?.stop();
    await Promise.all([registry?.stop(), repo?.stop(), proxy?.stop()]);
    for (const [k, v] of Object.entries(savedEnv))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });

  it("OCI over TLS with htpasswd auth: syncs with the Secret's username, password and ca.crt", async () => {
    assert.match(registry.url, /^oci:\/\/127\.0\.0\.1:\d+\/charts$/);
    await timedSync("oci-ok", registry.url, "creds");
    const cm = await env.get("v1", "ConfigMap", "oci-ok", "hello");
    assert.equal((cm?.data as Record<string, string> | undefined)?.version, "1.0.0");
  });

  it("OCI without credentials: a condition naming the registry and saying authentication failed", async () => {
    await chartApp("oci-no-creds", registry.url, "ca-only");
    const f = await failure("oci-no-creds");
    const host = registry.url.replace(/^oci:\/\//, "").replace(/\/charts$/, "");
    assert.equal(f.reason, "AuthenticationFailed");
    assert.ok(f.message.includes(`https://${host}/charts/hello`), f.message);
    assert.match(f.message, /HTTP 401: authentication failed: it needs credentials/);
  });

  it("OCI with a wrong CA: an untrusted-certificate condition, not a plain-HTTP retry", async () => {
    await chartApp("oci-wrong-ca", registry.url, "wrong-ca");
    const f = await failure("oci-wrong-ca");
    assert.equal(f.reason, "CertificateUntrusted");
    assert.match(f.message, /the TLS certificate is not trusted \([A-Z_]+\): put the CA that signed it/);
    assert.ok(f.message.includes(registry.url.replace(/^oci:\/\//, "https://")), f.message);
  });

  it("Helm repository over HTTPS with basic auth: syncs with the Secret, fails clearly without", async () => {
    await timedSync("repo-ok", repo.url, "creds");
    await chartApp("repo-no-creds", repo.url, "ca-only");
    await chartApp("repo-wrong-ca", repo.url, "wrong-ca");
    const noCreds = await failure("repo-no-creds");
    assert.equal(noCreds.reason, "AuthenticationFailed");
    assert.ok(
      noCreds.message.includes(`index.yaml of ${repo.url}: HTTP 401: authentication failed`),
      noCreds.message,
    );
    const wrongCa = await failure("repo-wrong-ca");
    assert.equal(wrongCa.reason, "CertificateUntrusted");
    assert.ok(wrongCa.message.includes(repo.url), wrongCa.message);
  });

  it("chart fetches tunnel through HTTPS_PROXY; NO_PROXY bypasses it", async () => {
    const registryHost = registry.url.replace(/^oci:\/\//, "").replace(/\/charts$/, "");
    const repoHost = new URL(repo.url).host;
    await restartWithEnv({ HTTPS_PROXY: proxy.url });
    proxy.reset();
    // A range: the tag list and index.yaml are read on every sync (an exact version could be cached).
    await timedSync("oci-via-proxy", registry.url, "creds", "^1");
    await timedSync("repo-via-proxy", repo.url, "creds", "^1");
    assert.ok(proxy.tunnels.includes(registryHost), `tunnel to ${registryHost}: ${proxy.tunnels.join(", ")}`);
    assert.ok(proxy.tunnels.includes(repoHost), `tunnel to ${repoHost}: ${proxy.tunnels.join(", ")}`);

    await restartWithEnv({ HTTPS_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1" });
    proxy.reset();
    await timedSync("oci-no-proxy", registry.url, "creds", "^1");
    await timedSync("repo-no-proxy", repo.url, "creds", "^1");
    assert.deepEqual(proxy.tunnels, [], "NO_PROXY: no tunnel");
    await restartWithEnv({});
  });

  it("the password is in neither gitgate's logs nor any GitApp's status", async () => {
    const basic = Buffer.from(`${auth.username}:${auth.password}`).toString("base64");
    assert.ok(logLines.length > 0, "logs captured");
    for (const line of logLines) {
      assert.ok(!line.includes(auth.password), `password in a log line: ${line.slice(0, 200)}`);
      assert.ok(!line.includes(basic), `basic auth header in a log line: ${line.slice(0, 200)}`);
    }
    const names = ["oci-ok", "oci-no-creds", "oci-wrong-ca", "repo-ok", "repo-no-creds", "repo-wrong-ca"];
    const apps = await Promise.all(
      [...names, "oci-via-proxy", "repo-via-proxy"].map((n) => env.getGitApp(n)),
    );
    assert.ok(
      apps.every((a) => a?.status),
      "every GitApp has a status",
    );
    const statuses = JSON.stringify(apps.map((a) => a?.status));
    assert.ok(!statuses.includes(auth.password) && !statuses.includes(basic), "no secret in any status");
  });
});
