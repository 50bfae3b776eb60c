import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import {
  MAX_PUSH_PATHS,
  parsePushEvent,
  pushedPaths,
  sameRepo,
  verifyGitHubSignature,
  verifyGitLabToken,
} from "./push.js";

const SHA = "3f2a9c0b1d2e3f405162738495a6b7c8d9e0f1a2";

void describe("verifyGitHubSignature", () => {
  const secret = "hook-secret";
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  const good = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  const cases: { name: string; secret: string; body: Buffer; header: string | undefined; want: boolean }[] = [
    { name: "valid", secret, body, header: good, want: true },
    {
      name: "valid, upper-case hex",
      secret,
      body,
      header: good.replace(/[a-f]/g, (c) => c.toUpperCase()).replace("SHA256", "sha256"),
      want: true,
    },
    { name: "missing header", secret, body, header: undefined, want: false },
    { name: "empty header", secret, body, header: "", want: false },
    { name: "wrong secret", secret: "other", body, header: good, want: false },
    {
      name: "body changed",
      secret,
      body: Buffer.from('{"ref":"refs/heads/evil"}'),
      header: good,
      want: false,
    },
    {
      name: "sha1 form",
      secret,
      body,
      header: `sha1=${createHmac("sha1", secret).update(body).digest("hex")}`,
      want: false,
    },
    { name: "truncated digest", secret, body, header: good.slice(0, -2), want: false },
    { name: "no prefix", secret, body, header: good.slice("sha256=".length), want: false },
    {
      name: "empty secret never verifies",
      secret: "",
      body,
      header: `sha256=${createHmac("sha256", "").update(body).digest("hex")}`,
      want: false,
    },
  ];
  for (const c of cases) {
    void it(c.name, () => assert.equal(verifyGitHubSignature(c.secret, c.body, c.header), c.want));
  }
});

void describe("verifyGitLabToken", () => {
  const cases: [string, string, string | undefined, boolean][] = [
    ["equal", "tok-123", "tok-123", true],
    ["different", "tok-123", "tok-124", false],
    ["prefix only", "tok-123", "tok", false],
    ["missing", "tok-123", undefined, false],
    ["empty header", "tok-123", "", false],
    ["empty secret", "", "", false],
  ];
  for (const [name, secret, header, want] of cases) {
    void it(name, () => assert.equal(verifyGitLabToken(secret, header), want));
  }
});

void describe("parsePushEvent", () => {
  void it("reads a GitHub push", () => {
    const body = {
      ref: "refs/heads/main",
      after: SHA,
      repository: {
        clone_url: "https://github.com/acme/deploy.git",
        html_url: "https://github.com/acme/deploy",
        ssh_url: "git@github.com:acme/deploy.git",
      },
    };
    assert.deepEqual(parsePushEvent({ "x-github-event": "push" }, body), {
      kind: "push",
      event: {
        provider: "github",
        repoURLs: [
          "https://github.com/acme/deploy.git",
          "https://github.com/acme/deploy",
          "git@github.com:acme/deploy.git",
        ],
        ref: "refs/heads/main",
        after: SHA,
      },
    });
  });

  void it("ignores a GitHub ping and other events", () => {
    assert.deepEqual(parsePushEvent({ "X-GitHub-Event": "ping" }, { zen: "hi" }), {
      kind: "ignored",
      reason: "GitHub event ping",
    });
    assert.equal(parsePushEvent({ "x-github-event": "pull_request" }, {}).kind, "ignored");
  });

  void it("reads GitLab push and tag push hooks", () => {
    const project = {
      git_http_url: "https://gitlab.example.com/team/deploy.git",
      web_url: "https://gitlab.example.com/team/deploy",
    };
    const push = parsePushEvent(
      { "x-gitlab-event": "Push Hook" },
      { object_kind: "push", ref: "refs/heads/prod", after: SHA, project },
    );
    assert.deepEqual(push, {
      kind: "push",
      event: {
        provider: "gitlab",
        repoURLs: [project.git_http_url, project.web_url],
        ref: "refs/heads/prod",
        after: SHA,
      },
    });
    const tag = parsePushEvent(
      { "x-gitlab-event": ["Tag Push Hook"] },
      { object_kind: "tag_push", ref: "refs/tags/v2", project },
    );
    assert.equal(tag.kind, "push");
    assert.equal(tag.kind === "push" ? tag.event.ref : undefined, "refs/tags/v2");
    const mr = parsePushEvent(
      { "x-gitlab-event": "Merge Request Hook" },
      { object_kind: "merge_request", project },
    );
    assert.deepEqual(mr, { kind: "ignored", reason: "GitLab event Merge Request Hook" });
  });

  void it("reads the generic form and drops an `after` that is not a SHA", () => {
    assert.deepEqual(parsePushEvent({}, { repoURL: "https://git.example.com/x.git", after: "not-a-sha" }), {
      kind: "push",
      event: { provider: "generic", repoURLs: ["https://git.example.com/x.git"] },
    });
  });

  void it("rejects bodies without a repository", () => {
    assert.equal(parsePushEvent({}, "text").kind, "invalid");
    assert.equal(parsePushEvent({}, [1]).kind, "invalid");
    assert.equal(parsePushEvent({}, { ref: "refs/heads/main" }).kind, "invalid");
    assert.equal(
      parsePushEvent({ "x-github-event": "push" }, { ref: "refs/heads/main", repository: {} }).kind,
      "invalid",
    );
    assert.equal(
      parsePushEvent({ "x-gitlab-event": "Push Hook" }, { object_kind: "push", project: { web_url: "" } })
        .kind,
      "invalid",
    );
  });
});

void describe("pushedPaths", () => {
  const many = Array.from({ length: MAX_PUSH_PATHS + 1 }, (_, i) => `f/${i}`);
  const cases: Array<{ what: string; body: Record<string, unknown>; want: string[] | undefined }> = [
    {
      what: "GitHub/Gitea/GitLab commits: added, modified and removed, once each",
      body: {
        commits: [
          { added: ["apps/a/new.yaml"], modified: ["apps/b/cm.yaml"], removed: [] },
          { added: [], modified: ["apps/b/cm.yaml"], removed: ["apps/c/old.yaml"] },
        ],
      },
      want: ["apps/a/new.yaml", "apps/b/cm.yaml", "apps/c/old.yaml"],
    },
    { what: "generic: paths", body: { repoURL: "x", paths: ["apps/a/cm.yaml"] }, want: ["apps/a/cm.yaml"] },
    { what: "no list", body: { ref: "refs/heads/main" }, want: undefined },
    { what: "empty lists", body: { commits: [{ added: [], modified: [] }] }, want: undefined },
    {
      what: "entries that are not paths are skipped",
      body: { commits: [null, "x", { added: [1, "", "a", { p: 1 }, "x".repeat(5_000)], modified: "a" }] },
      want: ["a"],
    },
    { what: "more than MAX_PUSH_PATHS: ignored", body: { paths: many }, want: undefined },
    {
      what: "a huge list: ignored before it is read",
      body: { paths: Array(MAX_PUSH_PATHS * 3).fill("a") },
      want: undefined,
    },
  ];
  for (const c of cases) void it(c.what, () => assert.deepEqual(pushedPaths(c.body), c.want));

  void it("parsePushEvent carries them", () => {
    const body = {
      repository: { clone_url: "https://github.com/acme/deploy.git" },
      commits: [{ added: [], modified: ["apps/a/cm.yaml"], removed: [] }],
    };
    const parsed = parsePushEvent({ "x-github-event": "push" }, body);
    assert.equal(parsed.kind, "push");
    assert.deepEqual(parsed.kind === "push" ? parsed.event.paths : undefined, ["apps/a/cm.yaml"]);
  });
});

void describe("sameRepo", () => {
  const cases: [string, string, boolean][] = [
    ["https://github.com/acme/deploy.git", "https://github.com/acme/deploy", true],
    ["https://GitHub.com/Acme/Deploy/", "https://github.com/acme/deploy.git", true],
    ["https://user:pass@github.com/acme/deploy.git", "https://github.com/acme/deploy", true],
    ["git@github.com:acme/deploy.git", "https://github.com/acme/deploy", true],
    ["ssh://git@github.com:22/acme/deploy.git", "https://github.com/acme/deploy", true],
    ["http://github.com/acme/deploy", "https://github.com:443/acme/deploy", true],
    ["https://github.com/acme/deploy", "https://github.com/acme/deploy-old", false],
    ["https://github.com/acme/deploy", "https://gitlab.com/acme/deploy", false],
    ["https://github.com/acme/deploy", "https://github.com/other/deploy", false],
    ["http://127.0.0.1:8080/x.git", "http://127.0.0.1:9090/x.git", false],
    ["http://127.0.0.1:8080/x.git", "http://127.0.0.1:8080/x", true],
    ["https://gitlab.example.com/group/sub/repo.git", "https://gitlab.example.com/group/sub/repo", true],
    ["not a url", "not a url", false],
    ["https://github.com/", "https://github.com", false],
  ];
  for (const [a, b, want] of cases) {
    void it(`${a} ~ ${b} → ${want}`, () => {
      assert.equal(sameRepo(a, b), want);
      assert.equal(sameRepo(b, a), want, "symmetric");
    });
  }
});
