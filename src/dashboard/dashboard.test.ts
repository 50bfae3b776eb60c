import { strict as assert } from "node:assert";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import type { GitApp } from "../api/gitapp.js";
import type { AlertEvent } from "../manifest/event.js";
import { ActivityRing, boundedEvent, teeAlerts } from "./activity.js";
import { bearerToken, reviewedUser, validTokenShape } from "./auth.js";
import { TtlCache } from "../bounded/ttl-cache.js";
import { esc, html } from "./html.js";
import { sameOrigin } from "./http.js";
import { listApps, summarize, type AppSummary, type StateReaders } from "./model.js";
import { cookieValue, sessionCookie, SessionStore } from "./sessions.js";
import { activityView, appsView } from "./views.js";

const event = (over: Partial<AlertEvent> = {}): AlertEvent => ({
  type: "change-denied",
  time: "2026-11-30T00:00:00Z",
  app: { namespace: "default", name: "shop" },
  object: { group: "", kind: "ConfigMap", namespace: "shop", name: "settings" },
  actor: { username: "alice", via: "admission" },
  changes: [{ path: "data.color", gitValue: "blue", liveValue: "red" }],
  action: "Denied the request.",
  ...over,
});

describe("dashboard: activity ring", () => {
  it("keeps the newest entries up to its capacity, newest first", () => {
    const ring = new ActivityRing(3);
    for (let i = 0; i < 5; i++) ring.push(event({ time: `t${i}` }));
    assert.deepEqual(
      ring.list().map((e) => [e.seq, e.event.time]),
      [
        [5, "t4"],
        [4, "t3"],
        [3, "t2"],
      ],
    );
  });

  it("keeps only gate activity, not sync or health news", () => {
    const ring = new ActivityRing(10);
    for (const type of ["sync-failed", "health-degraded", "sync-succeeded", "drift-reverted"] as const)
      ring.push(event({ type }));
    assert.deepEqual(
      ring.list().map((e) => e.event.type),
      ["drift-reverted"],
    );
  });

  const cases: Array<{ name: string; in: AlertEvent; check: (out: AlertEvent) => void }> = [
    {
      name: "Secret values are redacted even when the diff did not",
      in: event({
        object: { group: "", kind: "Secret", namespace: "shop", name: "creds" },
        changes: [
          { path: "data.password", gitValue: "czNjcmV0", liveValue: "b3RoZXI=" },
          { path: "metadata.labels.x", gitValue: "a", liveValue: "b" },
        ],
      }),
      check: (out) =>
        assert.deepEqual(
          out.changes?.map((c) => [c.gitValue, c.liveValue]),
          [
            ["<redacted>", "<redacted>"],
            ["a", "b"],
          ],
        ),
    },
    {
      name: "credential-looking text is redacted as alerts are",
      in: event({
        detail: "token: abcdefgh1234",
        changes: [{ path: "x", liveValue: "ghp_abcdefghijklmnopqrstuvwx" }],
      }),
      check: (out) => {
        assert.equal(out.detail, "token: <redacted>");
        assert.equal(out.changes?.[0]?.liveValue, "<redacted>");
      },
    },
    {
      name: "huge values and change lists are cut",
      in: event({
        changes: Array.from({ length: 50 }, (_, i) => ({ path: `p${i}`, liveValue: "x".repeat(10_000) })),
      }),
      check: (out) => {
        assert.equal(out.changes?.length, 20);
        assert.ok(String(out.changes?.[0]?.liveValue).length <= 513);
      },
    },
  ];
  for (const c of cases) it(c.name, () => c.check(boundedEvent(c.in)));

  it("the tee hands every event to the dispatcher too, and keeps its close", async () => {
    const got: string[] = [];
    let closed = false;
    const ring = new ActivityRing(5);
    const sink = teeAlerts(
      {
        emit: (e: AlertEvent) => void got.push(e.type),
        close: () => {
          closed = true;
          return Promise.resolve();
        },
      } as never,
      ring,
    );
    sink.emit(event({ type: "sync-failed" }));
    sink.emit(event());
    assert.deepEqual(got, ["sync-failed", "change-denied"]);
    assert.equal(ring.size, 1);
    await sink.close?.();
    assert.ok(closed);
  });
});

describe("dashboard: tokens, sessions, origins", () => {
  const bearer: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined],
    ["Bearer abc.def", "abc.def"],
    ["bearer   abc", "abc"],
    ["Basic abc", undefined],
    ["Bearer a b", undefined],
    ["Bearer ", undefined],
    [`Bearer ${"a".repeat(9000)}`, undefined],
    ["Bearer tok\u00e9n", undefined],
  ];
  for (const [header, want] of bearer)
    it(`bearerToken(${JSON.stringify(header?.slice(0, 20))})`, () => assert.equal(bearerToken(header), want));

  it("token shape", () => {
    assert.ok(validTokenShape("abc"));
    assert.ok(!validTokenShape(""));
    assert.ok(!validTokenShape("a\nb"));
  });

  it("reads a TokenReview's user only when authenticated", () => {
    assert.equal(reviewedUser({ status: { authenticated: false, user: { username: "x" } } }), undefined);
    assert.equal(reviewedUser({ status: { authenticated: true, user: {} } }), undefined);
    assert.deepEqual(
      reviewedUser({
        status: {
          authenticated: true,
          user: { username: "dave", uid: "7", groups: ["a", 3], extra: { k: ["v"] } },
        },
      }),
      { username: "dave", uid: "7", groups: ["a"], extra: { k: ["v"] } },
    );
  });

  it("sessions: opaque ids, bounded, expiring, ended", () => {
    let now = 0;
    const store = new SessionStore(2, 1000, () => now);
    const a = store.create("token-a");
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!a.includes("token-a"));
    assert.equal(store.token(a), "token-a");
    const b = store.create("token-b");
    store.create("token-c"); // evicts a
    assert.equal(store.token(a), undefined);
    assert.equal(store.token(b), "token-b");
    store.end(b);
    assert.equal(store.token(b), undefined);
    const d = store.create("token-d");
    now = 1001;
    assert.equal(store.token(d), undefined);
    assert.equal(store.token("../../etc"), undefined);
  });

  it("cookies: parsed by name; the session cookie is HttpOnly, SameSite=Strict, Secure on request", () => {
    assert.equal(cookieValue("a=1; gitgate_session=xyz; b=2", "gitgate_session"), "xyz");
    assert.equal(cookieValue("x".repeat(9000), "x"), undefined);
    assert.equal(cookieValue(undefined, "x"), undefined);
    assert.equal(
      sessionCookie("id", false),
      "gitgate_session=id; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800",
    );
    assert.match(sessionCookie("id", true), /; Secure$/);
  });

  it("ttl cache drops the oldest when full", () => {
    const cache = new TtlCache<number>(2, 1000, () => 0);
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("c", 3);
    assert.deepEqual([cache.get("a"), cache.get("b"), cache.get("c"), cache.size], [undefined, 2, 3, 2]);
  });

  const origins: Array<[Record<string, string>, boolean]> = [
    [{ host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080" }, true],
    [{ host: "127.0.0.1:8080", origin: "http://evil.example" }, false],
    [{ host: "127.0.0.1:8080", origin: "null" }, false],
    [{ host: "127.0.0.1:8080" }, false],
    [{ host: "127.0.0.1:8080", origin: "null", "sec-fetch-site": "same-origin" }, true],
    [{ host: "127.0.0.1:8080", "sec-fetch-site": "cross-site" }, false],
    [{ host: "127.0.0.1:8080", origin: "not a url" }, false],
  ];
  for (const [headers, want] of origins)
    it(`sameOrigin(${JSON.stringify(headers)}) = ${want}`, () =>
      assert.equal(sameOrigin({ headers } as unknown as IncomingMessage), want));
});

describe("dashboard: views", () => {
  it("escapes everything interpolated", () => {
    assert.equal(esc(`<script>"'&`), "&lt;script&gt;&quot;&#39;&amp;");
    assert.equal(html`<p>${"<b>"}</p>`.text, "<p>&lt;b&gt;</p>");
    const page = activityView([
      { seq: 1, event: event({ actor: { username: "<img src=x onerror=alert(1)>", via: "admission" } }) },
    ]).text;
    assert.ok(!page.includes("<img"), page);
  });

  const app = (ns: string, name: string, status: GitApp["status"] = {}): GitApp => ({
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { namespace: ns, name },
    spec: { source: { repoURL: "http://git/x" }, destination: {} },
    status,
  });

  it("summarizes sync, health, drift, short revision and the message", () => {
    const s = summarize(
      app("default", "shop", {
        revision: "0123456789abcdef",
        health: "Degraded",
        lastSyncTime: "2026-11-30T00:00:00Z",
        drift: [{ object: "x", fields: ["a"] }],
        conditions: [
          { type: "Synced", status: "True", reason: "Synced", message: "synced", lastTransitionTime: "" },
          {
            type: "Ready",
            status: "False",
            reason: "Degraded",
            message: "Degraded: pod",
            lastTransitionTime: "",
          },
        ],
      }),
      (sha) =>
        sha === "0123456789abcdef" ? { subject: "Raise the limit", author: "Ada", time: "" } : undefined,
    );
    assert.deepEqual(s, {
      namespace: "default",
      name: "shop",
      cluster: "",
      sync: "Synced",
      health: "Degraded",
      drifted: 1,
      revision: "0123456",
      subject: "Raise the limit",
      author: "Ada",
      lastSync: "2026-11-30T00:00:00Z",
      message: "Degraded: pod",
    });
  });

  it("lists only visible namespaces, filtered and sorted", () => {
    const readers: StateReaders = {
      apps: () => [app("b", "z"), app("a", "y"), app("c", "x"), app("a", "w")],
      desired: () => [],
      live: () => undefined,
    };
    const names = (ns?: string): string[] =>
      listApps(readers, new Set(["a", "b"]), ns).map((a) => `${a.namespace}/${a.name}`);
    assert.deepEqual(names(), ["a/w", "a/y", "b/z"]);
    assert.deepEqual(names("b"), ["b/z"]);
    assert.deepEqual(names("c"), []);
    assert.match(appsView([], []).text, /No apps you may see/);
  });

  it("a Cluster column and a Clusters table only once a cluster is registered", () => {
    const row = (name: string, cluster: string): AppSummary => ({
      namespace: "default",
      name,
      cluster,
      sync: "Synced",
      health: "Healthy",
      drifted: 0,
      revision: "abc1234",
      subject: "",
      author: "",
      lastSync: "",
      message: "",
    });
    const single = appsView([row("web", "")], ["default"]).text;
    assert.doesNotMatch(single, /<th>Cluster<\/th>|id="clusters"/);
    const fleet = appsView([row("web", ""), row("web-dev", "dev")], ["default"], undefined, [
      { name: "dev", reachable: false },
      { name: "prod<script>", reachable: true, serverVersion: "v1.20.2" },
    ]).text;
    assert.match(fleet, /<th>Cluster<\/th>/);
    assert.match(fleet, /<td class="cluster">in-cluster<\/td>/);
    assert.match(fleet, /<td class="cluster">dev<\/td>/);
    assert.match(
      fleet,
      /<tr data-cluster="dev">\s*<td>dev<\/td>\s*<td><span class="badge unreachable">Unreachable/,
    );
    assert.match(fleet, /prod&lt;script&gt;/, "names are escaped");
    assert.doesNotMatch(fleet, /prod<script>/);
  });
});
