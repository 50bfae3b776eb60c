import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startGitServer, type GitServer } from "../testenv/git-server.js";
import { createGitSource, type GitSourceOptions } from "./git-source.js";
import { parseRepoURL } from "./url.js";

async function packCount(cacheRoot: string, repoURL: string): Promise<number> {
  const dir = join(cacheRoot, parseRepoURL(repoURL).key, "repo.git", "objects", "pack");
  return (await readdir(dir)).filter((n) => n.endsWith(".pack")).length;
}

void describe("GitSource over a real smart-HTTP server", () => {
  let server: GitServer;
  let scratch: string;
  let cacheN = 0;
  const newCache = (): string => join(scratch, `cache-${++cacheN}`);
  const source = (opts: Partial<GitSourceOptions> = {}): ReturnType<typeof createGitSource> =>
    createGitSource({ cacheRoot: newCache(), ...opts });

  before(async () => {
    server = await startGitServer();
    scratch = await mkdtemp(join(tmpdir(), "gitgate-source-test-"));
    await server.createRepo("app", {
      "deploy/cm.yaml": "kind: ConfigMap\ndata: {v: one}\n",
      "deploy/escape": { symlink: "../../../etc/passwd" },
    });
  });
  after(async () => {
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  void it("resolves a branch to a worktree with its files and symlinks; polls without change do not fetch", async () => {
    const cacheRoot = newCache();
    const git = createGitSource({ cacheRoot });
    const repoURL = server.repoURL("app");
    const main = await server.revParse("app", "main");
    const checkout = await git.resolve({ repoURL, revision: "main" });
    assert.deepEqual(
      { commit: checkout.commit, ref: checkout.ref },
      { commit: main, ref: "refs/heads/main" },
    );
    assert.equal(checkout.dir, join(cacheRoot, parseRepoURL(repoURL).key, "worktrees", main));
    assert.equal(
      await readFile(join(checkout.dir, "deploy/cm.yaml"), "utf8"),
      "kind: ConfigMap\ndata: {v: one}\n",
    );
    assert.ok((await lstat(join(checkout.dir, "deploy/escape"))).isSymbolicLink());
    assert.equal(await readlink(join(checkout.dir, "deploy/escape")), "../../../etc/passwd");
    assert.equal(existsSync(join(checkout.dir, ".git")), false);

    const packs = await packCount(cacheRoot, repoURL);
    const served = server.requests.length;
    const again = await git.resolve({ repoURL, revision: "main" });
    assert.deepEqual(again, checkout);
    assert.equal(await packCount(cacheRoot, repoURL), packs, "no new packfile");
    // One ls-refs round trip (GET info/refs + POST upload-pack), no fetch.
    assert.equal(server.requests.length - served, 2);
    assert.deepEqual(await git.headOf({ repoURL, revision: "main" }), {
      ref: "refs/heads/main",
      commit: main,
    });
  });

  void it("sees a new commit after a push; tags stay where they were", async () => {
    const git = source();
    const repoURL = server.repoURL("app");
    const first = await server.revParse("app", "main");
    await server.tag("app", "v1");
    await server.tag("app", "v1-annotated", "main", { annotated: true });
    const before = await git.resolve({ repoURL, revision: "main" });
    assert.equal(before.commit, first);

    const second = await server.commit(
      "app",
      { "deploy/cm.yaml": "kind: ConfigMap\ndata: {v: two}\n" },
      "bump",
    );
    const afterPush = await git.resolve({ repoURL, revision: "main" });
    assert.equal(afterPush.commit, second);
    assert.equal(
      await readFile(join(afterPush.dir, "deploy/cm.yaml"), "utf8"),
      "kind: ConfigMap\ndata: {v: two}\n",
    );
    assert.equal(
      await readFile(join(before.dir, "deploy/cm.yaml"), "utf8"),
      "kind: ConfigMap\ndata: {v: one}\n",
    );

    const tag = await git.resolve({ repoURL, revision: "v1" });
    assert.deepEqual({ commit: tag.commit, ref: tag.ref }, { commit: first, ref: "refs/tags/v1" });
    const annotated = await git.resolve({ repoURL, revision: "refs/tags/v1-annotated" });
    assert.equal(annotated.commit, first, "annotated tag peeled to its commit");
    assert.equal(annotated.dir, before.dir, "same commit, same worktree");
  });

  void it("resolves a full SHA that no ref points at, from an empty cache (deepens the shallow fetch)", async () => {
    const { commit: c1 } = await server.createRepo("history", { "f.txt": "1\n" });
    const c2 = await server.commit("history", { "f.txt": "2\n" }, "two");
    const c3 = await server.commit("history", { "f.txt": "3\n" }, "three");
    const git = source();
    const repoURL = server.repoURL("history");
    for (const [sha, content] of [
      [c2, "2\n"],
      [c1, "1\n"],
      [c3, "3\n"],
    ] as const) {
      const checkout = await git.resolve({ repoURL, revision: sha });
      assert.deepEqual({ commit: checkout.commit, ref: checkout.ref }, { commit: sha, ref: sha });
      assert.equal(await readFile(join(checkout.dir, "f.txt"), "utf8"), content);
    }
    const served = server.requests.length;
    const again = await git.resolve({ repoURL, revision: c2.toUpperCase() });
    assert.equal(again.commit, c2, "upper-case SHAs name the same commit");
    assert.equal(server.requests.length, served, "a checked-out SHA needs no network at all");
  });

  void it("serves concurrent resolves of one repo from one cache", async () => {
    const git = source();
    const repoURL = server.repoURL("app");
    const [a, b, c] = await Promise.all([
      git.resolve({ repoURL, revision: "main" }),
      git.resolve({ repoURL, revision: "main" }),
      git.resolve({ repoURL, revision: "v1" }),
    ]);
    assert.equal(a.commit, await server.revParse("app", "main"));
    assert.deepEqual(b, a);
    assert.equal(c.commit, await server.revParse("app", "v1"));
    assert.notEqual(c.dir, a.dir);
    assert.match(await readFile(join(c.dir, "deploy/cm.yaml"), "utf8"), /v: one/);
  });

  void it("keeps a bounded number of worktrees per repo", async () => {
    const cacheRoot = newCache();
    const git = createGitSource({ cacheRoot, keepWorktrees: 2, worktreeGraceMs: 0 });
    const repoURL = server.repoURL("history");
    const shas = [
      await server.revParse("history", "main~2"),
      await server.revParse("history", "main~1"),
      await server.revParse("history", "main"),
    ];
    for (const sha of shas) await git.resolve({ repoURL, revision: sha });
    const kept = await readdir(join(cacheRoot, parseRepoURL(repoURL).key, "worktrees"));
    assert.deepEqual(kept.sort(), shas.slice(1).sort());
  });

  void it("shares one ref lookup among GitApps asking the same, until a push to the repository", async () => {
    await server.createRepo("shared", { "a/cm.yaml": "kind: ConfigMap\ndata: {v: one}\n" });
    const repoURL = server.repoURL("shared");
    const git = source({ refLookupWindowMs: 60_000 });
    // Ref lookups only: the git binary's fetch (protocol v2) starts with an ls-refs of its own.
    const lsRefs = (since: number): number =>
      server.requests.slice(since).filter((r) => r.command === "ls-refs" && !r.userAgent?.startsWith("git/"))
        .length;
    const first = await server.revParse("shared", "main");

    let since = server.requests.length;
    const checkouts = await Promise.all(
      Array.from({ length: 20 }, () => git.resolve({ repoURL, revision: "main" })),
    );
    assert.deepEqual(new Set(checkouts.map((c) => c.commit)), new Set([first]));
    assert.equal(lsRefs(since), 1, "20 resolves at once: one ls-refs");

    since = server.requests.length;
    assert.equal((await git.headOf({ repoURL, revision: "main" })).commit, first);
    assert.equal(server.requests.length, since, "within the window: no request");

    // Another identity, another revision: never served another's answer.
    await git.headOf({ repoURL, revision: "main", credentials: { username: "u", password: "p" } });
    await git.headOf({ repoURL, revision: "refs/heads/main" });
    assert.equal(lsRefs(since), 2);

    const second = await server.commit("shared", { "a/cm.yaml": "kind: ConfigMap\ndata: {v: two}\n" }, "two");
    assert.equal((await git.headOf({ repoURL, revision: "main" })).commit, first, "shared, not asked");
    git.repoPushed(`${repoURL.replace(/\.git$/, "")}/`); // the push payload's web URL
    since = server.requests.length;
    const pushed = await Promise.all(
      Array.from({ length: 20 }, () => git.resolve({ repoURL, revision: "main" })),
    );
    assert.deepEqual(
      new Set(pushed.map((c) => c.commit)),
      new Set([second]),
      "after the push: the pushed commit",
    );
    assert.equal(lsRefs(since), 1, "one ls-refs for the 20 after the push");
  });
});
