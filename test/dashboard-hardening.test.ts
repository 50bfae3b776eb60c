/**
 * The dashboard's own hardening (issue #17), against the real control plane and gitgate: HTTPS on
 * its port from configured PEM files (plain HTTP refused there), at most N live streams per user
 * (429, other users unaffected), and failed logins limited per client address (429 with
 * Retry-After, and kube-apiserver's own request counter shows no TokenReview while limited).
 */
import { strict as assert } from "node:assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createCA, createServingCert } from "../src/certs/certs.js";
import { startEnv, type TestEnv } from "./harness/env.js";

let env: TestEnv;
let dir: string;
let ca: string;
let url: URL;
const open: IncomingMessage[] = [];

interface Reply {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
  res: IncomingMessage;
}

/** One HTTPS request trusting only the test CA; a stream's body is not awaited. */
function get(path: string, token?: string, stream = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, url),
      { ca, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 10_000 },
      (res) => {
        if (stream && res.statusCode === 200) {
          open.push(res);
          return resolve({ status: 200, headers: res.headers, body: "", res });
        }
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c.slice(0, 10_000)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, res }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${path}`)));
    req.on("error", reject);
    req.end();
  });
}

/** kube-apiserver's count of TokenReviews created (its /metrics, read as admin). */
async function tokenReviews(): Promise<number> {
  const res = await env.kubectl("admin", ["get", "--raw", "/metrics"]);
  assert.equal(res.code, 0, res.stderr);
  const text = res.stdout;
  let sum = 0;
  for (const line of text.split("\n"))
    if (
      line.startsWith("apiserver_request_total{") &&
      line.includes('resource="tokenreviews"') &&
      line.includes('verb="POST"')
    )
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  return sum;
}

describe("dashboard hardening", () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gitgate-dash-tls-"));
    const authority = createCA("dashboard test CA", 1);
    const serving = createServingCert(authority, ["localhost"], ["127.0.0.1"], 1);
    ca = authority.cert;
    await writeFile(join(dir, "tls.crt"), serving.cert);
    await writeFile(join(dir, "tls.key"), serving.key, { mode: 0o600 });
    env = await startEnv({
      dashboard: true,
      extraIdentities: [{ id: "viewer", username: "dave", groups: [] }],
      config: (c) => {
        c.dashboard.tls = { certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") };
        c.dashboard.streamsPerUser = 2;
        c.dashboard.failedLoginsPerMinute = 3;
      },
    });
    url = new URL(env.gitgate.dashboardUrl ?? "");
  });
  after(async () => {
    for (const res of open) res.destroy();
    await env?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves HTTPS on its own port with the configured certificate, and no plain HTTP there", async () => {
    assert.equal(url.protocol, "https:");
    const res = await get("/api/apps");
    assert.equal(res.status, 401);
    assert.match(res.body, /a valid bearer token is required/);
    const ok = await get("/api/apps", env.cp.tokens.user);
    assert.equal(ok.status, 200);
    // Plain HTTP to the TLS port: no HTTP answer (the TLS server drops what is not a handshake).
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: "/api/apps", timeout: 5000 }, (r) =>
        resolve(`answered ${r.statusCode ?? 0}`),
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err) => resolve(`refused: ${err.message}`));
      req.end();
    });
    assert.match(plain, /^refused/, plain);
  });

  it("refuses a user's live stream past the limit with 429; another user still gets one", async () => {
    const token = env.cp.tokens.user ?? "";
    const first = await get("/events", token, true);
    const second = await get("/events", token, true);
    assert.deepEqual([first.status, second.status], [200, 200]);
    assert.match(String(first.headers["content-type"]), /text\/event-stream/);
    const third = await get("/events", token, true);
    assert.equal(third.status, 429);
    assert.match(third.body, /too many live streams for alice: at most 2 at a time/);
    const dave = await get("/events", env.cp.tokens.viewer, true);
    assert.equal(dave.status, 200, "the limit is per user");
    // A closed stream frees its slot.
    first.res.destroy();
    const deadline = Date.now() + 5000;
    let again = await get("/events", token, true);
    while (again.status === 429 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      again = await get("/events", token, true);
    }
    assert.equal(again.status, 200);
  });

  it("limits failed logins per client address (429, Retry-After) without asking kube-apiserver", async () => {
    // A token reviewed before stays usable: its answer is cached.
    assert.equal((await get("/api/apps", env.cp.tokens.user)).status, 200);
    for (let i = 0; i < 3; i++) {
      const wrong = await get("/api/apps", `wrong-token-${i}-${Date.now()}`);
      assert.equal(wrong.status, 401, `failure ${i + 1}`);
    }
    const before = await tokenReviews();
    for (let i = 0; i < 5; i++) {
      const limited = await get("/api/apps", `another-wrong-token-${i}-${Date.now()}`);
      assert.equal(limited.status, 429);
      assert.match(limited.body, /too many failed logins from this address: try again in \d+ s/);
      assert.ok(Number(limited.headers["retry-after"]) >= 1, String(limited.headers["retry-after"]));
    }
    assert.equal(await tokenReviews(), before, "no TokenReview while the address is limited");
    assert.ok(before > 0, "the counter is read");
    assert.equal((await get("/api/apps", env.cp.tokens.user)).status, 200, "a cached user still gets in");
  });
});
