/**
 * The dashboard (issue #17) in Debian's chromium driven by playwright-core, against the real
 * control plane and gitgate with its admission webhook: log in with a token, the app list, an
 * out-of-band change (denied by the gate; drift by an exempt user with self-heal off) showing up
 * without reload, RBAC filtering by SubjectAccessReview, 401 without a token, the CSP header.
 * GITGATE_SCREENSHOTS=1 writes docs/dashboard-*.png.
 */
import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { assertDenied } from "./harness/denied.js";
import { startEnv, waitSynced, type TestEnv } from "./harness/env.js";

const SECRET_VALUE = "s3cr3t-dashboard-value";
const SECRET_B64 = Buffer.from(SECRET_VALUE).toString("base64");
const configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: blue}
`;
const secret = `apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: ${SECRET_B64}}
`;
// No kubelet here: kube-controller-manager creates the ReplicaSet and its Pods, which stay Pending.
const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.invalid/web:1"}]}
`;
const screenshots = process.env.GITGATE_SCREENSHOTS === "1";

function chromiumPath(): string {
  const candidates = [process.env.GITGATE_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  const found = candidates.find((p): p is string => Boolean(p) && existsSync(p as string));
  if (!found) throw new Error("chromium not found: run scripts/install-testenv.sh (apt package chromium)");
  return found;
}

let env: TestEnv;
let browser: Browser;
let url: string;
let commit: string;

async function login(page: Page, token: string): Promise<void> {
  await page.goto(url);
  assert.equal(new URL(page.url()).pathname, "/login", "an anonymous visitor is sent to the login form");
  await page.fill("#token", token);
  await Promise.all([page.waitForURL(`${url}/`), page.click("button[type=submit]")]);
}

/** Milliseconds from the start of `change` (kubectl included) until `selector` is in the page, which must not reload meanwhile. */
async function appearsLive(page: Page, selector: string, change: () => Promise<void>): Promise<number> {
  await page.waitForSelector("body[data-live=connected]");
  await page.evaluate(() => ((globalThis as unknown as { sameDocument: boolean }).sameDocument = true));
  const start = Date.now();
  await change();
  await page.waitForSelector(selector, { timeout: 10_000 });
  const ms = Date.now() - start;
  const same = await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument);
  assert.equal(same, true, "updated without a reload");
  return ms;
}

/** An out-of-band change of shop/settings' color (Git says another): the developer's is refused. */
const patchColor = (identity: string, color: string): ReturnType<TestEnv["kubectl"]> =>
  env.kubectl(identity, [
    "-n",
    "shop",
    "patch",
    "configmap",
    "settings",
    "--type=merge",
    "-p",
    JSON.stringify({ data: { color } }),
  ]);

describe("dashboard in a real browser", () => {
  before(async () => {
    env = await startEnv({
      webhook: true,
      dashboard: true,
      extraIdentities: [{ id: "viewer", username: "dave", groups: [] }],
      config: (c) => (c.tenancy = { platformNamespaces: ["default", "team-a"] }),
    });
    url = env.gitgate.dashboardUrl ?? "";
    assert.ok(url.startsWith("http://127.0.0.1:"), url);
    commit = (
      await env.git.createRepo("dash", {
        "shop/settings.yaml": configMap,
        "shop/creds.yaml": secret,
        "blog/settings.yaml": configMap,
        "web/deploy.yaml": deployment,
      })
    ).commit;
    const repoURL = env.git.repoURL("dash");
    await env.admin.apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" } },
      { fieldManager: "test", force: true },
    );
    await env.applyGitApp("shop", {
      source: { repoURL, revision: "main", path: "shop" },
      destination: { namespace: "shop" },
      sync: { interval: "1h", createNamespace: true, selfHeal: false },
    });
    await env.applyGitApp(
      "blog",
      {
        source: { repoURL, revision: "main", path: "blog" },
        destination: { namespace: "blog" },
        sync: { interval: "1h", createNamespace: true },
      },
      "team-a",
    );
    await env.applyGitApp("web", {
      source: { repoURL, revision: "main", path: "web" },
      destination: { namespace: "web" },
      sync: { interval: "1h", createNamespace: true },
    });
    await Promise.all([
      waitSynced(env, "shop", commit),
      waitSynced(env, "blog", commit, "team-a"),
      waitSynced(env, "web", commit),
    ]);
    // dave may get GitApps in team-a only.
    await env.kubectl("admin", [
      "-n",
      "team-a",
      "create",
      "role",
      "apps-reader",
      "--verb=get,list",
      "--resource=gitapps.gitgate.io",
    ]);
    await env.kubectl("admin", [
      "-n",
      "team-a",
      "create",
      "rolebinding",
      "dave-apps",
      "--role=apps-reader",
      "--user=dave",
    ]);
    browser = await chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox"] });
  });
  after(async () => {
    await browser?.close();
    await env?.stop();
  });

  it("logs in with a token and lists the apps with their revisions, under a strict CSP", async () => {
    const page = await browser.newPage();
    const first = await page.goto(`${url}/login`);
    const csp = first?.headers()["content-security-policy"] ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/, "no inline script");
    await login(page, env.cp.tokens.user ?? "");
    const cookie = (await page.context().cookies()).find((c) => c.name === "gitgate_session");
    assert.ok(cookie?.httpOnly && cookie.sameSite === "Strict", JSON.stringify(cookie));
    assert.ok(!cookie.value.includes(env.cp.tokens.user ?? "-"), "the cookie is not the token");
    const rows = await page.$$eval("#apps tbody tr", (trs) =>
      trs.map((tr) => (tr as unknown as { dataset: { app: string } }).dataset.app),
    );
    assert.deepEqual(rows, ["default/shop", "default/web", "team-a/blog"]);
    const rev = await page.textContent('#apps tr[data-app="default/shop"] .rev');
    assert.equal(rev?.trim(), commit.slice(0, 7));
    // Subject and author of the synced commit (the test Git server's "initial commit" by "Gitgate Test").
    const line = await page.textContent('#apps tr[data-app="default/shop"] .commit');
    assert.match(line ?? "", /initial commit — Gitgate Test/);
    assert.match((await page.textContent("header .user")) ?? "", /alice/);
    if (screenshots) await page.screenshot({ path: "docs/dashboard-apps.png", fullPage: true });
    await page.close();
  });

  it("shows an app's objects as a tree: Deployment → ReplicaSet → Pods, each with health and sync", async () => {
    const page = await browser.newPage();
    await login(page, env.cp.tokens.user ?? "");
    const deploy = "apps/Deployment/web/web";
    // kube-controller-manager creates the ReplicaSet, then its Pods: look until both Pods are there.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.goto(`${url}/apps/default/web`);
      if ((await page.$$("#objects tr.owned.depth-2")).length >= 2) break;
      assert.ok(Date.now() < deadline, await page.content());
      await new Promise((r) => setTimeout(r, 500));
    }
    const rows = await page.$$eval("#objects tbody tr[data-object]", (trs) =>
      trs.map((tr) => {
        const t = tr as unknown as {
          dataset: Record<string, string>;
          className: string;
          cells: Array<{ textContent: string }>;
        };
        return {
          key: t.dataset.object ?? "",
          owner: t.dataset.owner ?? "",
          depth: /depth-(\d)/.exec(t.className)?.[1] ?? "0",
          kind: t.cells[0]?.textContent.trim() ?? "",
          health: t.cells[2]?.textContent.trim() ?? "",
          sync: t.cells[3]?.textContent.trim() ?? "",
        };
      }),
    );
    // The Git object at the top, then what it owns, depth first, each with health and sync.
    assert.equal(rows.length, 4, JSON.stringify(rows));
    const [top, rs, ...pods] = rows;
    assert.deepEqual([top?.key, top?.depth, top?.sync], [deploy, "0", "Synced"]);
    assert.match(top?.health ?? "", /Progressing/);
    assert.deepEqual([rs?.kind, rs?.depth, rs?.owner, rs?.sync], ["ReplicaSet", "1", deploy, "Owned"]);
    assert.match(rs?.key ?? "", /^apps\/ReplicaSet\/web\/web-[a-z0-9]+$/);
    for (const pod of pods) {
      assert.deepEqual([pod.kind, pod.depth, pod.owner, pod.sync], ["Pod", "2", rs?.key, "Owned"]);
      assert.match(pod.health, /Progressing/, "a Pending Pod (no node here) is Progressing");
    }
    if (screenshots) await page.screenshot({ path: "docs/dashboard-tree.png", fullPage: true });
    await page.close();
    // A user who may not see the app gets neither it nor its Pods.
    const other = await fetch(`${url}/api/apps/default/web`, {
      headers: { authorization: `Bearer ${env.cp.tokens.viewer}` },
    });
    assert.equal(other.status, 404);
  });

  it("shows a denied kubectl change in the activity timeline within 2 s, without reload", async () => {
    const page = await browser.newPage();
    await login(page, env.cp.tokens.user ?? "");
    await page.goto(`${url}/activity`);
    const ms = await appearsLive(page, "#activity tr.change-denied", async () => {
      const r = await patchColor("user", "red");
      assertDenied(r, "validate.gitgate.io", /ConfigMap shop\/settings is managed by Git: data\.color/);
    });
    process.stdout.write(`# denial shown in the timeline ${ms} ms after kubectl started\n`);
    assert.ok(ms < 2000, `${ms} ms`);
    // One denied kubectl change is one row (the validating webhook's answer is the only alert).
    await new Promise((r) => setTimeout(r, 1000));
    const api = await fetch(`${url}/api/activity`, {
      headers: { authorization: `Bearer ${env.cp.tokens.user}` },
    });
    const denied = ((await api.json()) as Array<{ event: { type: string } }>).filter(
      (e) => e.event.type === "change-denied",
    );
    assert.equal(denied.length, 1, JSON.stringify(denied, null, 1));
    assert.equal((await page.$$("#activity tr.change-denied")).length, 1);
    const row = (await page.textContent("#activity tr.change-denied")) ?? "";
    assert.match(row, /alice/);
    assert.match(row, /ConfigMap shop\/settings/);
    assert.match(row, /data\.color/);
    assert.match(row, /blue/);
    assert.match(row, /red/);
    await page.close();
  });

  it("shows drift by an exempt user (self-heal off) in the timeline and the object's diff, Secrets redacted", async () => {
    const page = await browser.newPage();
    await login(page, env.cp.tokens.user ?? "");
    await page.goto(`${url}/activity`);
    const ms = await appearsLive(page, "#activity tr.drift-found", async () => {
      const r = await patchColor("platform", "green");
      assert.equal(r.code, 0, r.stderr);
    });
    process.stdout.write(`# drift shown in the timeline ${ms} ms after kubectl started\n`);
    assert.ok(ms < 2000, `${ms} ms`);
    assert.match((await page.textContent("#activity tr.drift-found")) ?? "", /green/);

    await page.goto(`${url}/apps/default/shop`);
    const diffMs = await appearsLive(
      page,
      '#objects tr[data-object="/Secret/shop/creds"] + tr.diffrow',
      async () => {
        const r = await env.kubectl("platform", [
          "-n",
          "shop",
          "patch",
          "secret",
          "creds",
          "--type=merge",
          "-p",
          '{"stringData":{"password":"changed-by-carol"}}',
        ]);
        assert.equal(r.code, 0, r.stderr);
      },
    );
    process.stdout.write(`# Secret drift shown in the app's diff ${diffMs} ms after kubectl started\n`);
    assert.ok(diffMs < 2000, `${diffMs} ms`);
    const content = await page.content();
    assert.match(content, /data\.color/);
    assert.match(content, /&lt;redacted&gt;|<redacted>/);
    for (const leak of [
      SECRET_VALUE,
      SECRET_B64,
      "changed-by-carol",
      Buffer.from("changed-by-carol").toString("base64"),
    ])
      assert.ok(!content.includes(leak), `a Secret value is shown: ${leak}`);
    assert.match(content, /shop\/settings\.yaml/);
    assert.match((await page.textContent("main p .commit")) ?? "", /initial commit — Gitgate Test/);
    assert.ok(content.includes(commit.slice(0, 7)));
    if (screenshots) {
      await page.screenshot({ path: "docs/dashboard-app.png", fullPage: true });
      await page.goto(`${url}/activity`);
      await page.emulateMedia({ colorScheme: "dark" });
      await page.screenshot({ path: "docs/dashboard-activity-dark.png", fullPage: true });
    }
    await page.close();
  });

  it("keeps the activity in Events on the GitApp (counted, no Secret values) and shows it again after a restart", async () => {
    // The same denied change again (past the retry filter's 2 s): the same Event, count 2.
    await new Promise((r) => setTimeout(r, 2100));
    const again = await patchColor("user", "red");
    assertDenied(again, "validate.gitgate.io", /data\.color/);
    type Ev = {
      reason: string;
      count: number;
      message: string;
      involvedObject: { kind: string; name: string };
    };
    let events: Ev[] = [];
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await env.kubectl("admin", [
        "-n",
        "default",
        "get",
        "events",
        "-l",
        "gitgate.io/activity=true",
        "-o",
        "json",
      ]);
      assert.equal(r.code, 0, r.stderr);
      events = (JSON.parse(r.stdout) as { items: Ev[] }).items;
      if (events.some((e) => e.reason === "ChangeDenied" && e.count === 2)) break;
      assert.ok(Date.now() < deadline, JSON.stringify(events, null, 1));
      await new Promise((r) => setTimeout(r, 250));
    }
    const denial = events.filter((e) => e.reason === "ChangeDenied");
    assert.equal(denial.length, 1, "one Event for one change, however often it was tried");
    assert.deepEqual([denial[0]?.involvedObject.kind, denial[0]?.involvedObject.name], ["GitApp", "shop"]);
    assert.match(denial[0]?.message ?? "", /alice on ConfigMap shop\/settings: data\.color/);
    assert.ok(events.some((e) => e.reason === "DriftFound"));
    const all = JSON.stringify(events);
    for (const leak of [
      SECRET_VALUE,
      SECRET_B64,
      "changed-by-carol",
      Buffer.from("changed-by-carol").toString("base64"),
    ])
      assert.ok(!all.includes(leak), `a Secret value is in an Event: ${leak}`);

    await env.restart();
    url = env.gitgate.dashboardUrl ?? "";
    const page = await browser.newPage();
    await login(page, env.cp.tokens.user ?? "");
    await page.goto(`${url}/activity`);
    const rows = await page.$$("#activity tr.change-denied");
    assert.equal(rows.length, 1, "the denial, read back from its Event");
    assert.match(
      (await rows[0]?.textContent()) ?? "",
      /×2[\s\S]*alice[\s\S]*ConfigMap shop\/settings[\s\S]*data\.color/,
    );
    assert.ok((await page.$$("#activity tr.drift-found")).length >= 1);
    assert.ok(!(await page.content()).includes("changed-by-carol"));
    await page.close();
  });

  it("shows a user without RBAC on a namespace none of its apps", async () => {
    const page = await browser.newPage();
    await login(page, env.cp.tokens.viewer ?? "");
    const rows = await page.$$eval("#apps tbody tr", (trs) =>
      trs.map((tr) => (tr as unknown as { dataset: { app?: string } }).dataset.app),
    );
    assert.deepEqual(rows, ["team-a/blog"]);
    await page.goto(`${url}/activity`);
    assert.equal((await page.$$("#activity tr[data-seq]")).length, 0, "shop's activity is not dave's to see");
    const detail = await page.goto(`${url}/apps/default/shop`);
    assert.equal(detail?.status(), 404);
    await page.close();
    const api = await fetch(`${url}/api/apps`, {
      headers: { authorization: `Bearer ${env.cp.tokens.viewer}` },
    });
    assert.equal(api.status, 200);
    assert.deepEqual(
      ((await api.json()) as Array<{ name: string }>).map((a) => a.name),
      ["blog"],
    );
  });

  it("logs in once with a one-time link (gitgate dev's), never twice", async () => {
    const link = env.gitgate.dashboardLoginLink?.(env.cp.tokens.user ?? "") ?? "";
    assert.ok(!link.includes(env.cp.tokens.user ?? "-"), "the link holds a code, not the token");
    const page = await browser.newPage();
    await page.goto(link);
    assert.equal(page.url(), `${url}/`);
    assert.match((await page.textContent("header .user")) ?? "", /alice/);
    await page.close();
    const again = await fetch(link, { redirect: "manual" });
    assert.equal(again.status, 401);
    assert.equal(again.headers.get("set-cookie"), null);
  });

  it("answers an API call without a token 401, refuses a wrong token and a cross-origin login", async () => {
    for (const path of ["/api/apps", "/api/activity", "/api/apps/default/shop", "/events"]) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 401, path);
      assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    }
    const wrong = await fetch(`${url}/api/apps`, {
      headers: { authorization: "Bearer not-a-real-token-12345" },
    });
    assert.equal(wrong.status, 401);
    const page = await browser.newPage();
    await page.goto(`${url}/login`);
    await page.fill("#token", "not-a-real-token-12345");
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.click("button[type=submit]"),
    ]);
    assert.equal(res.status(), 401);
    assert.match((await page.textContent(".error")) ?? "", /refused by the Kubernetes API/);
    assert.equal((await page.context().cookies()).length, 0, "no session for a refused token");
    await page.close();
    const csrf = await fetch(`${url}/login`, {
      method: "POST",
      headers: { origin: "http://evil.example", "content-type": "application/x-www-form-urlencoded" },
      body: `token=${env.cp.tokens.user}`,
      redirect: "manual",
    });
    assert.equal(csrf.status, 403);
    assert.equal(csrf.headers.get("set-cookie"), null);
  });
});
