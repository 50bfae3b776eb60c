/**
 * Git over HTTPS from a server whose certificate a private CA signed (the real smart-HTTP server of
 * src/testenv behind node's TLS): the Secret's ca.crt makes it work, its absence fails clearly,
 * insecureSkipTLSVerify works and is warned about; HTTPS_PROXY sends the fetches through a real
 * CONNECT proxy and NO_PROXY bypasses it. Revisions: a semver tag range resolves to the highest
 * matching tag and moves when a newer one is pushed; a short SHA resolves to the full SHA in status.
 */
import { strict as assert } from "node:assert";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../src/api/gitapp.js";
import { createCA, createServingCert } from "../src/certs/certs.js";
import { createLogger } from "../src/log/logger.js";
import { startConnectProxy, type ConnectProxy } from "../src/testenv/connect-proxy.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { applySecret, condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;
let https: GitServer;
let proxy: ConnectProxy;
const logLines: string[] = [];
const PROXY_VARS = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"];
const savedEnv = Object.fromEntries(PROXY_VARS.map((k) => [k, process.env[k]]));

const cm = (name: string, value: string): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

const secret = (name: string, data: Record<string, string>): Promise<void> => applySecret(env, name, data);

async function liveValue(ns: string, name: string): Promise<string | undefined> {
  const obj = await env.get("v1", "ConfigMap", ns, name);
  return (obj?.data as Record<string, string> | undefined)?.value;
}

function app(name: string, source: Partial<GitApp["spec"]["source"]>): Promise<void> {
  return env.applyGitApp(name, {
    source: { repoURL: https.repoURL("app"), revision: "main", path: "app", ...source },
    destination: { namespace: name },
    sync: { interval: "2s", createNamespace: true },
  });
}

/** Proxy variables as given (others unset), then gitgate restarted so it reads them. */
async function restartWithEnv(vars: Record<string, string>): Promise<void> {
  for (const k of PROXY_VARS) delete process.env[k];
  Object.assign(process.env, vars);
  await env.restart();
}

describe("Git over HTTPS with a private CA, proxies, and revisions", () => {
  let ca: string;
  let main: string;

  before(async () => {
    for (const k of PROXY_VARS) delete process.env[k];
    const logs = new PassThrough();
    logs.on("data", (chunk: Buffer) => logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean)));
    env = await startEnv({ logger: createLogger("warn", logs) });
    const authority = createCA("gitgate-test-git-ca", 1);
    ca = authority.cert;
    https = await startGitServer({ tls: createServingCert(authority, ["localhost"], ["127.0.0.1"], 1) });
    proxy = await startConnectProxy();
    main = (await https.createRepo("app", { "app/cm.yaml": cm("tls", "1") })).commit;
    await secret("ca-only", { "ca.crt": ca });
  });
  after(async () => {
    await env?.stop();
    await https?.stop();
    await proxy?.stop();
    for (const [k, v] of Object.entries(savedEnv))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });

  it("syncs over HTTPS with the Secret's ca.crt, and fails clearly without it", async () => {
    assert.match(https.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    await app("with-ca", { credentialsSecret: "ca-only" });
    await waitSynced(env, "with-ca", main, "default", 45_000);
    assert.equal(await liveValue("with-ca", "tls"), "1");

    await app("without-ca", {});
    const failed = await waitFor("without-ca fails", async () => {
      const a = await env.getGitApp("without-ca");
      return condition(a, "Synced")?.status === "False" ? a : undefined;
    });
    const synced = condition(failed, "Synced");
    assert.deepEqual(
      { reason: synced?.reason, message: synced?.message },
      {
        reason: "CertificateUntrusted",
        message:
          `fetch failed: the TLS certificate of ${https.repoURL("app")} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): ` +
          `put the CA that signed it in the credentials secret's "ca.crt" key`,
      },
    );
    assert.equal(failed.status?.revision, undefined);
  });

  it("insecureSkipTLSVerify fetches without the CA and warns on every fetch", async () => {
    await app("insecure", { insecureSkipTLSVerify: true });
    await waitSynced(env, "insecure", main, "default", 45_000);
    const warnings = (): number => logLines.filter((l) => l.includes("insecureSkipTLSVerify")).length;
    const first = warnings();
    assert.ok(first >= 1, "warned");
    assert.match(logLines.find((l) => l.includes("insecureSkipTLSVerify")) ?? "", /"level":40/);
    await waitFor("another warning on the next fetch", () => warnings() > first, 20_000);
  });

  it("HTTPS_PROXY sends fetches through the CONNECT proxy; NO_PROXY bypasses it", async () => {
    const target = new URL(https.url).host;
    await restartWithEnv({ HTTPS_PROXY: proxy.url });
    proxy.reset();
    const next = await https.commit("app", { "app/cm.yaml": cm("tls", "2") }, "two");
    await app("via-proxy", { credentialsSecret: "ca-only" });
    await waitSynced(env, "via-proxy", next, "default", 45_000);
    assert.ok(proxy.tunnels.includes(target), `a tunnel to ${target} (tunnels: ${proxy.tunnels.join(", ")})`);

    await restartWithEnv({ HTTPS_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1" });
    proxy.reset();
    const third = await https.commit("app", { "app/cm.yaml": cm("tls", "3") }, "three");
    await app("no-proxy", { credentialsSecret: "ca-only" });
    await waitSynced(env, "no-proxy", third, "default", 45_000);
    await waitSynced(env, "via-proxy", third, "default", 45_000);
    assert.deepEqual(proxy.tunnels, [], "NO_PROXY: no tunnel");
    await restartWithEnv({});
  });

  it("a semver tag range resolves to the highest matching tag and moves when a newer tag is pushed", async () => {
    const repo = "tagged";
    await https.createRepo(repo, { "app/cm.yaml": cm("ver", "1.0.0") });
    const tagAt = async (version: string, annotated = false): Promise<string> => {
      const c = await https.commit(repo, { "app/cm.yaml": cm("ver", version) }, version);
      await https.tag(repo, `v${version}`, "main", { annotated });
      return c;
    };
    await tagAt("1.0.0");
    await tagAt("1.2.0");
    const v125 = await tagAt("1.2.5", true);
    const v200 = await tagAt("2.0.0");
    await tagAt("1.3.0-rc.1");
    const rangeApp = (name: string, revision: string): Promise<void> =>
      env.applyGitApp(name, {
        source: { repoURL: https.repoURL(repo), revision, path: "app", credentialsSecret: "ca-only" },
        destination: { namespace: name },
        sync: { interval: "2s", createNamespace: true },
      });
    await rangeApp("range-patch", "v1.2.x");
    await rangeApp("range-major", ">=1.0 <2");
    await waitSynced(env, "range-patch", v125, "default", 45_000);
    assert.equal(await liveValue("range-patch", "ver"), "1.2.5");
    await waitSynced(env, "range-major", v125, "default", 45_000);
    assert.notEqual(v125, v200);

    const v127 = await tagAt("1.2.7");
    await waitSynced(env, "range-patch", v127, "default", 45_000);
    assert.equal(await liveValue("range-patch", "ver"), "1.2.7");
    await waitSynced(env, "range-major", v127, "default", 45_000);
  });

  it("a short SHA resolves to the full SHA in status", async () => {
    const short = main.slice(0, 8);
    await https.commit("app", { "app/cm.yaml": cm("tls", "later") }, "later");
    await app("short-sha", { credentialsSecret: "ca-only", revision: short });
    const synced = await waitSynced(env, "short-sha", main, "default", 45_000);
    assert.equal(synced.status?.revision, main);
    assert.match(synced.status?.revision ?? "", /^[0-9a-f]{40}$/);
    assert.equal(await liveValue("short-sha", "tls"), "1");
  });
});
