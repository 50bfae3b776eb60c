// Failure classification of GitSource against real servers: every error a GitApp can stall or back
// off on, and that credentials never leak into its message.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startGitServer, type GitServer } from "../testenv/git-server.js";
import { createGitSource, type GitSourceOptions } from "./git-source.js";
import { closedPort, isGitError } from "./testing.js";
import { parseRepoURL } from "./url.js";

void describe("GitSource errors", () => {
  let server: GitServer;
  let scratch: string;
  let cacheN = 0;
  const source = (opts: Partial<GitSourceOptions> = {}): ReturnType<typeof createGitSource> =>
    createGitSource({ cacheRoot: join(scratch, `cache-${++cacheN}`), ...opts });

  before(async () => {
    server = await startGitServer();
    scratch = await mkdtemp(join(tmpdir(), "gitgate-source-errors-"));
    await server.createRepo("app", { "a.yaml": "a: 1\n" });
  });
  after(async () => {
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  void it("classifies unknown revisions, unknown short SHAs and unknown repos as terminal; resolves a known short SHA", async () => {
    const git = source();
    const repoURL = server.repoURL("app");
    await assert.rejects(
      git.resolve({ repoURL, revision: "no-such-branch" }),
      isGitError("terminal", "RevisionNotFound", (m) => {
        assert.ok(m.includes('"no-such-branch"') && m.includes(repoURL), m);
      }),
    );
    const full = await server.revParse("app", "main");
    assert.equal((await git.resolve({ repoURL, revision: full.slice(0, 7) })).commit, full);
    await assert.rejects(
      git.resolve({ repoURL, revision: "0123456" }),
      isGitError("terminal", "RevisionNotFound", (m) => assert.match(m, /no branch or tag .* contains/)),
    );
    await assert.rejects(
      git.resolve({ repoURL, revision: "v9.x" }),
      isGitError("terminal", "RevisionNotFound", (m) => assert.match(m, /no tag matches that semver range/)),
    );
    await assert.rejects(
      git.resolve({ repoURL, revision: "0123456789abcdef0123456789abcdef01234567" }),
      isGitError("terminal", "RevisionNotFound", (m) => assert.match(m, /no branch or tag .* contains/)),
    );
    await assert.rejects(
      git.resolve({ repoURL: server.repoURL("missing"), revision: "main" }),
      isGitError("terminal", "RepoNotFound"),
    );
    await assert.rejects(
      git.resolve({ repoURL: "ftp://github.com/a/b.git", revision: "main" }),
      isGitError("terminal", "UnsupportedURL"),
    );
  });

  // isomorphic-git inflates a whole pack to index it, so its fetch checks the pack first
  // (pack-guard.ts); git streams objects over core.bigFileThreshold (= maxFileBytes) to disk and
  // the checkout refuses the file from ls-tree's sizes, naming it.
  const tooLarge: Record<string, RegExp> = {
    "isomorphic-git": /holds a Git object of 33554432 bytes, more than the 1048576 /,
    git: /assets\/zeros\.bin is 33554432 bytes, more than the 1048576 /,
  };
  for (const fetcher of ["isomorphic-git", "git"] as const) {
    void it(`refuses a repository holding an object over maxFileBytes before anything inflates it whole (FileTooLarge, ${fetcher})`, async () => {
      // 32 MiB of zeros deflate to ~32 KiB: the shape of a blob bomb, far over a 1 MiB limit.
      const name = `bomb-${fetcher}`;
      await server.createRepo(name, { "app/ok.yaml": "a: 1\n", "assets/zeros.bin": Buffer.alloc(32 << 20) });
      const git = source({ maxFileBytes: 1 << 20, fetcher });
      const repoURL = server.repoURL(name);
      await assert.rejects(
        git.resolve({ repoURL, revision: "main" }),
        isGitError("terminal", "FileTooLarge", (m) => {
          assert.match(m, tooLarge[fetcher] as RegExp);
          assert.match(m, /render\.maxRepoFileBytes/);
        }),
      );
      // The default limit (64 MiB) fetches and checks it out.
      const fine = await source({ fetcher }).resolve({ repoURL, revision: "main" });
      assert.deepEqual((await readdir(join(fine.dir, "assets"))).sort(), ["zeros.bin"]);
    });
  }

  void it("stops a fetch past maxFetchBytes with RepoTooLarge, and fetches it under a larger limit", async () => {
    // Random bytes do not compress: the packfile is about as large as the file.
    await server.createRepo("big", { "data.bin": randomBytes(256 * 1024) });
    const repoURL = server.repoURL("big");
    await assert.rejects(
      source({ maxFetchBytes: 64 * 1024 }).resolve({ repoURL, revision: "main" }),
      isGitError("terminal", "RepoTooLarge", (m) =>
        assert.match(m, /sent more than 65536 bytes in one fetch \(sync\.maxFetchBytes\)/),
      ),
    );
    const fine = await source({ maxFetchBytes: 1024 * 1024 }).resolve({ repoURL, revision: "main" });
    assert.equal(fine.commit.length, 40);
  });

  void it("gives RepoUnreachable for a closed port and for a server that never answers", async () => {
    const port = await closedPort();
    await assert.rejects(
      source().resolve({ repoURL: `http://127.0.0.1:${port}/app.git`, revision: "main" }),
      isGitError("transient", "RepoUnreachable", (m) => assert.match(m, /ECONNREFUSED/)),
    );
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket.resume()));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/app.git`;
      const started = Date.now();
      await assert.rejects(
        source({ fetchTimeoutMs: 200 }).resolve({ repoURL: url, revision: "main" }),
        isGitError("transient", "RepoUnreachable", (m) => assert.match(m, /timed out/)),
      );
      assert.ok(Date.now() - started < 5000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

void describe("GitSource with credentials", () => {
  const auth = { username: "deployer", password: "pa55-Very-Secret" };
  let server: GitServer;
  let scratch: string;

  before(async () => {
    server = await startGitServer({ auth });
    scratch = await mkdtemp(join(tmpdir(), "gitgate-source-auth-"));
    await server.createRepo("private", { "a.yaml": "a: 1\n" });
  });
  after(async () => {
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  void it("fetches with username/password, token, or URL userinfo, keeping them out of the cache path", async () => {
    const cacheRoot = join(scratch, "ok");
    const git = createGitSource({ cacheRoot });
    const repoURL = server.repoURL("private");
    const main = await server.revParse("private", "main");
    assert.equal((await git.resolve({ repoURL, revision: "main", credentials: auth })).commit, main);
    const token = { username: auth.username, token: auth.password };
    assert.equal((await git.resolve({ repoURL, revision: "main", credentials: token })).commit, main);
    const withUserinfo = repoURL.replace("http://", `http://${auth.username}:${auth.password}@`);
    const viaURL = await git.resolve({ repoURL: withUserinfo, revision: "main" });
    assert.equal(viaURL.commit, main);
    assert.ok(!viaURL.dir.includes(auth.password));
    const caches = await readdir(cacheRoot);
    assert.equal(caches.length, 1, "one cache for all three forms");
    assert.ok(caches[0]?.startsWith(`${parseRepoURL(repoURL).key}-`));
    assert.ok(!caches[0]?.includes(auth.password));
    // That cache is not served to a request without the credentials, not even for a known SHA.
    await assert.rejects(
      git.resolve({ repoURL, revision: main }),
      isGitError("terminal", "AuthenticationFailed", () => undefined),
    );
  });

  void it("gives AuthenticationFailed without leaking the password", async () => {
    const git = createGitSource({ cacheRoot: join(scratch, "bad") });
    const repoURL = server.repoURL("private");
    const wrong = { username: auth.username, password: "wrong-Password-123" };
    await assert.rejects(
      git.resolve({ repoURL, revision: "main", credentials: wrong }),
      isGitError("terminal", "AuthenticationFailed", (m) => {
        assert.ok(!m.includes(wrong.password) && !m.includes(auth.password), m);
        assert.match(m, /HTTP 401/);
        assert.match(m, /credentials were rejected/);
      }),
    );
    const inURL = repoURL.replace("http://", "http://deployer:wrong-Password-123@");
    await assert.rejects(
      git.resolve({ repoURL: inURL, revision: "main" }),
      isGitError("terminal", "AuthenticationFailed", (m) => assert.ok(!m.includes("wrong-Password-123"), m)),
    );
    await assert.rejects(
      git.resolve({ repoURL, revision: "main" }),
      isGitError("terminal", "AuthenticationFailed", (m) => assert.match(m, /needs credentials/)),
    );
  });
});
