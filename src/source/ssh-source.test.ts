/** GitSource over a real sshd with git-shell (src/testenv/sshd.ts): the SSH Remote end to end. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startGitServer, type GitServer } from "../testenv/git-server.js";
import { startSshServer, type SshServer } from "../testenv/sshd.js";
import { createGitSource } from "./git-source.js";
import { isGitError } from "./testing.js";
import { parseRepoURL } from "./url.js";

void describe("GitSource over SSH (real sshd)", () => {
  let git: GitServer;
  let sshd: SshServer;
  let scratch: string;
  let n = 0;
  const cache = (): string => join(scratch, `cache-${++n}`);
  const url = (name: string): string => `ssh://root@${sshd.host}:${sshd.port}${git.repoPath(name)}`;
  const creds = (): { sshPrivateKey: string; knownHosts: string } => ({
    sshPrivateKey: sshd.clientKey.privateKey,
    knownHosts: sshd.knownHosts(),
  });

  before(async () => {
    [git, sshd] = await Promise.all([startGitServer(), startSshServer()]);
    scratch = await mkdtemp(join(tmpdir(), "gitgate-ssh-source-test-"));
  });
  after(async () => {
    await Promise.all([sshd.stop(), git.stop()]);
    await rm(scratch, { recursive: true, force: true });
  });

  void it("resolves an annotated tag in a semver range, and a short SHA of an older commit (fetching history)", async () => {
    const first = (await git.createRepo("tags", { "a.yaml": "v: 1\n" })).commit;
    await git.commit("tags", { "a.yaml": "v: 2\n" }, "two");
    const tagged = await git.tag("tags", "v1.0.1", "main", { annotated: true });
    await git.commit("tags", { "a.yaml": "v: 3\n" }, "three");
    const source = createGitSource({ cacheRoot: cache() });
    const range = await source.resolve({ repoURL: url("tags"), revision: "v1.0.x", credentials: creds() });
    assert.deepEqual({ commit: range.commit, ref: range.ref }, { commit: tagged, ref: "refs/tags/v1.0.1" });
    assert.equal(await readFile(join(range.dir, "a.yaml"), "utf8"), "v: 2\n");
    const short = await source.resolve({
      repoURL: url("tags"),
      revision: first.slice(0, 9),
      credentials: creds(),
    });
    assert.equal(short.commit, first);
    assert.equal(await readFile(join(short.dir, "a.yaml"), "utf8"), "v: 1\n");
  });

  void it("kills a fetch past sync.maxFetchBytes (RepoTooLarge) and keeps nothing it wrote", async () => {
    await git.createRepo("big", { "blob.bin": randomBytes(512 * 1024) });
    const cacheRoot = cache();
    const source = createGitSource({ cacheRoot, maxFetchBytes: 64 * 1024 });
    const repoURL = url("big");
    await assert.rejects(
      source.resolve({ repoURL, revision: "main", credentials: creds() }),
      isGitError("terminal", "RepoTooLarge", (m) => assert.match(m, /sync\.maxFetchBytes/)),
    );
    const dirs = existsSync(cacheRoot) ? await readdir(cacheRoot) : [];
    for (const d of dirs)
      assert.equal(existsSync(join(cacheRoot, d, "repo.git")), false, "object store dropped");
    assert.ok(dirs.every((d) => d.startsWith(parseRepoURL(repoURL).key)));
  });
});
