import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { GitgateError } from "../errors.js";
import { classifyGitError } from "./classify.js";
import { KeyedMutex } from "./mutex.js";
import { authHeaders, candidateRefs, headFromRefs, withDeadline } from "./remote.js";
import { parseRepoURL } from "./url.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

function basic(header: Record<string, string>): string {
  const value = header.Authorization ?? "";
  return Buffer.from(value.replace(/^Basic /, ""), "base64").toString();
}

void describe("authHeaders", () => {
  void it("sends a token as the password of x-access-token, or of the given user", () => {
    assert.equal(basic(authHeaders({ token: "ghp_x" })), "x-access-token:ghp_x");
    assert.equal(basic(authHeaders({ username: "oauth2", token: "glpat" })), "oauth2:glpat");
  });
  void it("sends username and password", () => {
    assert.equal(basic(authHeaders({ username: "u", password: "p:w" })), "u:p:w");
  });
  void it("sends nothing without credentials", () => {
    assert.deepEqual(authHeaders(undefined), {});
    assert.deepEqual(authHeaders({}), {});
  });
});

void describe("revision lookup", () => {
  void it("tries branches before tags; refs/ and HEAD are exact", () => {
    assert.deepEqual(candidateRefs("main"), ["refs/heads/main", "refs/tags/main"]);
    assert.deepEqual(candidateRefs("refs/tags/v1"), ["refs/tags/v1"]);
    assert.deepEqual(candidateRefs("HEAD"), ["HEAD"]);
    assert.deepEqual(candidateRefs(""), ["HEAD"]);
  });
  void it("peels annotated tags, follows HEAD, and wants an exact name", () => {
    const refs = [
      { ref: "HEAD", oid: A, target: "refs/heads/main" },
      { ref: "refs/heads/main", oid: A },
      { ref: "refs/heads/main-old", oid: B },
      { ref: "refs/tags/v1", oid: B, peeled: A },
    ];
    assert.deepEqual(headFromRefs(refs, "HEAD"), { ref: "refs/heads/main", commit: A });
    assert.deepEqual(headFromRefs(refs, "refs/tags/v1"), { ref: "refs/tags/v1", commit: A });
    assert.deepEqual(headFromRefs(refs, "refs/heads/main-old"), { ref: "refs/heads/main-old", commit: B });
    assert.equal(headFromRefs(refs, "refs/heads/mai"), undefined);
  });
});

void describe("parseRepoURL", () => {
  void it("strips userinfo into credentials and keeps it out of url and key", () => {
    const withCreds = parseRepoURL("https://bob:hunter2@Git.Example.com/team/deploy.git/");
    const without = parseRepoURL("https://git.example.com/team/deploy.git");
    assert.equal(withCreds.url, "https://git.example.com/team/deploy.git");
    assert.deepEqual(withCreds.credentials, { username: "bob", password: "hunter2" });
    assert.equal(withCreds.key, without.key);
    assert.match(without.key, /^[0-9a-f]{32}$/);
    assert.notEqual(parseRepoURL("https://git.example.com/team/other.git").key, without.key);
  });
  void it("rejects URLs that are neither http(s) nor SSH, and SSH parts that could read as options, as terminal UnsupportedURL", () => {
    for (const raw of [
      "file:///tmp/repo",
      "/tmp/repo",
      "git://github.com/a/b.git",
      "ext::sh -c touch% /tmp/pwned",
      "ssh://-oProxyCommand=touch%20x@github.com/a.git",
      "ssh://git@-oProxyCommand=x/a.git",
      "-oProxyCommand=x@host:a.git",
      "git@host:-u.git",
      "ssh://git:secret@github.com/a/b.git",
      "ssh://git@github.com",
      "git@github.com:a/b\nc.git",
      `ssh://git@github.com/${"a".repeat(3000)}`,
    ]) {
      assert.throws(
        () => parseRepoURL(raw),
        (err: unknown) =>
          err instanceof GitgateError && err.class === "terminal" && err.reason === "UnsupportedURL",
        raw,
      );
    }
  });
});

void describe("parseRepoURL for SSH", () => {
  const cases: [
    string,
    string,
    { user: string; host: string; port?: number; path: string; scpLike: boolean },
  ][] = [
    [
      "git@github.com:org/repo.git",
      "git@github.com:org/repo.git",
      { user: "git", host: "github.com", path: "org/repo.git", scpLike: true },
    ],
    [
      "git@GitLab.Example.com:/srv/repo.git/",
      "git@gitlab.example.com:/srv/repo.git",
      { user: "git", host: "gitlab.example.com", path: "/srv/repo.git", scpLike: true },
    ],
    [
      "root@[::1]:repo.git",
      "root@[::1]:repo.git",
      { user: "root", host: "::1", path: "repo.git", scpLike: true },
    ],
    [
      "ssh://git@github.com/org/repo.git",
      "ssh://git@github.com/org/repo.git",
      { user: "git", host: "github.com", path: "/org/repo.git", scpLike: false },
    ],
    [
      "ssh://git@127.0.0.1:2222/srv/r.git",
      "ssh://git@127.0.0.1:2222/srv/r.git",
      { user: "git", host: "127.0.0.1", port: 2222, path: "/srv/r.git", scpLike: false },
    ],
    [
      "ssh://host.example/r.git",
      "ssh://git@host.example/r.git",
      { user: "git", host: "host.example", path: "/r.git", scpLike: false },
    ],
    [
      "ssh://git@host.example:22/r.git",
      "ssh://git@host.example/r.git",
      { user: "git", host: "host.example", port: 22, path: "/r.git", scpLike: false },
    ],
  ];
  for (const [raw, url, ssh] of cases) {
    void it(raw, () => {
      const parsed = parseRepoURL(raw);
      assert.equal(parsed.url, url);
      assert.deepEqual(
        { ...parsed.ssh },
        Object.fromEntries(Object.entries(ssh).filter(([, v]) => v !== undefined)),
      );
      assert.equal(parsed.credentials, undefined);
    });
  }
});

void describe("classifyGitError", () => {
  const ctx = { repo: "https://git.example.com/x.git", revision: "main", hasCredentials: true };
  const httpError = (statusCode: number): Error =>
    Object.assign(new Error(`HTTP Error: ${statusCode} response Authorization: Basic c2VjcmV0`), {
      code: "HttpError",
      data: { statusCode },
    });
  const cases: [string, unknown, string, string][] = [
    ["401", httpError(401), "terminal", "AuthenticationFailed"],
    ["403", httpError(403), "terminal", "AuthenticationFailed"],
    ["404", httpError(404), "terminal", "RepoNotFound"],
    ["503", httpError(503), "transient", "RepoUnreachable"],
    ["400", httpError(400), "terminal", "FetchFailed"],
    [
      "refused",
      Object.assign(new Error("connect"), { code: "ECONNREFUSED" }),
      "transient",
      "RepoUnreachable",
    ],
    ["dns", Object.assign(new Error("getaddrinfo"), { code: "ENOTFOUND" }), "transient", "RepoUnreachable"],
    [
      "nested",
      new Error("x", { cause: Object.assign(new Error("y"), { code: "ECONNRESET" }) }),
      "transient",
      "RepoUnreachable",
    ],
    ["disk", Object.assign(new Error("full"), { code: "ENOSPC" }), "transient", "GitCacheError"],
    ["not git", Object.assign(new Error("html"), { code: "SmartHttpError" }), "terminal", "RepoNotFound"],
    ["unknown", new Error("boom"), "transient", "FetchFailed"],
    // A ref that vanished between lookup and fetch, or an object missing locally: the next poll decides.
    ["missing object", Object.assign(new Error("nf"), { code: "NotFoundError" }), "transient", "FetchFailed"],
  ];
  for (const [name, err, cls, reason] of cases) {
    void it(name, () => {
      const got = classifyGitError(err, ctx);
      assert.equal(got.class, cls);
      assert.equal(got.reason, reason);
      assert.ok(got.message.includes(ctx.repo), got.message);
      assert.doesNotMatch(got.message, /c2VjcmV0|Authorization/, "library text stays out of the message");
    });
  }
});

void describe("withDeadline", () => {
  void it("aborts the operation's HTTP requests and throws the timeout error", async () => {
    // A server that accepts connections and never answers.
    let closedByClient = false;
    const silent = createServer((socket) => socket.resume().on("close", () => (closedByClient = true)));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      await assert.rejects(
        withDeadline(
          150,
          () => new Error("too slow"),
          (client) => client.request({ url: `http://127.0.0.1:${port}/x` }),
        ),
        /too slow/,
      );
      // The connection closes soon after the abort; wait for it (bounded) rather than for a fixed time.
      for (let i = 0; i < 200 && !closedByClient; i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(closedByClient, "the aborted request closed its connection");
    } finally {
      silent.close();
    }
  });
  void it("passes results and errors through", async () => {
    assert.equal(
      await withDeadline(
        1000,
        () => new Error("x"),
        () => Promise.resolve(42),
      ),
      42,
    );
    await assert.rejects(
      withDeadline(
        1000,
        () => new Error("x"),
        () => Promise.reject(new Error("own")),
      ),
      /own/,
    );
  });
});

void describe("KeyedMutex", () => {
  void it("serialises one key, runs different keys in parallel, and forgets idle keys", async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const step = (key: string, id: string, ms: number): Promise<void> =>
      mutex.run(key, async () => {
        events.push(`start ${id}`);
        await new Promise((r) => setTimeout(r, ms));
        events.push(`end ${id}`);
      });
    await Promise.all([step("a", "a1", 30), step("a", "a2", 1), step("b", "b1", 5)]);
    assert.ok(events.indexOf("end a1") < events.indexOf("start a2"), events.join(","));
    assert.ok(events.indexOf("start b1") < events.indexOf("end a1"), events.join(","));
    assert.equal(mutex.size, 0);
  });
  void it("releases the lock when the holder throws", async () => {
    const mutex = new KeyedMutex();
    await assert.rejects(
      mutex.run("k", () => Promise.reject(new Error("x"))),
      /x/,
    );
    assert.equal(await mutex.run("k", () => Promise.resolve("next")), "next");
  });
});
