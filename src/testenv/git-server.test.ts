import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import * as fs from "node:fs";
import { mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import git from "isomorphic-git";
import http from "isomorphic-git/http/node";
import { startGitServer, type GitServer } from "./git-server.js";

const run = promisify(execFile);

function pkt(line: string): string {
  return (line.length + 4).toString(16).padStart(4, "0") + line;
}

void describe("git-server", () => {
  let server: GitServer;
  let scratch: string;

  before(async () => {
    server = await startGitServer();
    scratch = await mkdtemp(join(tmpdir(), "gitgate-git-server-test-"));
  });
  after(async () => {
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  void it("serves a created repo to isomorphic-git, symlinks included", async () => {
    const { commit } = await server.createRepo("demo", {
      "apps/a.yaml": "kind: ConfigMap\n",
      "bin.dat": Buffer.from([0, 1, 2, 255]),
      "apps/escape": { symlink: "../../etc/passwd" },
    });
    assert.match(commit, /^[0-9a-f]{40}$/);
    const before = server.requests.length;
    const dir = join(scratch, "clone1");
    await git.clone({
      fs,
      http,
      dir,
      url: server.repoURL("demo"),
      ref: "main",
      singleBranch: true,
      depth: 1,
    });
    assert.equal(await git.resolveRef({ fs, dir, ref: "HEAD" }), commit);
    assert.equal(await readFile(join(dir, "apps/a.yaml"), "utf8"), "kind: ConfigMap\n");
    assert.deepEqual([...(await readFile(join(dir, "bin.dat")))], [0, 1, 2, 255]);
    assert.equal(await readlink(join(dir, "apps/escape")), "../../etc/passwd");
    const served = server.requests.slice(before);
    assert.ok(served.length >= 2, "info/refs and upload-pack were served");
    assert.deepEqual(
      served.map((r) => [r.method, r.path, r.status]),
      [
        ["GET", "/demo.git/info/refs", 200],
        ["POST", "/demo.git/git-upload-pack", 200],
      ],
    );
  });

  void it("commits changes and deletions; tags stay put when main moves", async () => {
    const first = await server.revParse("demo", "main");
    const lightweight = await server.tag("demo", "v1");
    const annotated = await server.tag("demo", "v1-annotated", "main", { annotated: true });
    assert.equal(lightweight, first);
    assert.equal(annotated, first);
    const second = await server.commit(
      "demo",
      { "apps/a.yaml": "kind: Secret\n", "bin.dat": null },
      "change",
    );
    assert.notEqual(second, first);
    assert.equal(await server.revParse("demo", "main"), second);
    assert.equal(await server.revParse("demo", "v1^{commit}"), first);

    const refs = await git.listServerRefs({ http, url: server.repoURL("demo"), peelTags: true });
    const byName = new Map(refs.map((r) => [r.ref, r]));
    assert.equal(byName.get("refs/heads/main")?.oid, second);
    assert.equal(byName.get("refs/tags/v1")?.oid, first);
    assert.equal(byName.get("refs/tags/v1-annotated")?.peeled, first);

    const dir = join(scratch, "clone2");
    await git.clone({
      fs,
      http,
      dir,
      url: server.repoURL("demo"),
      ref: "main",
      singleBranch: true,
      depth: 1,
    });
    assert.equal(await readFile(join(dir, "apps/a.yaml"), "utf8"), "kind: Secret\n");
    assert.equal(existsSync(join(dir, "bin.dat")), false);
  });

  void it("accepts pushes from the git CLI over HTTP (receive-pack)", async () => {
    const dir = join(scratch, "cli");
    const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: scratch, GIT_TERMINAL_PROMPT: "0" };
    await run("git", ["clone", "--quiet", server.repoURL("demo"), dir], { env });
    await writeFile(join(dir, "new.txt"), "pushed\n");
    const id = ["-c", "user.name=t", "-c", "user.email=t@t.invalid"];
    await run("git", [...id, "-C", dir, "add", "new.txt"], { env });
    await run("git", [...id, "-C", dir, "commit", "--quiet", "-m", "cli push"], { env });
    await run("git", ["-C", dir, "push", "--quiet", "origin", "HEAD:main"], { env });
    const { stdout } = await run("git", ["-C", dir, "rev-parse", "HEAD"], { env });
    assert.equal(await server.revParse("demo", "main"), stdout.trim());
    assert.ok(server.requests.some((r) => r.path.endsWith("/git-receive-pack") && r.status === 200));
  });

  void it("inflates gzip request bodies and answers 404 for unknown repos", async () => {
    const want = await server.revParse("demo", "main");
    const body = gzipSync(Buffer.from(`${pkt(`want ${want}\n`)}0000${pkt("done\n")}`));
    const res = await fetch(`${server.repoURL("demo")}/git-upload-pack`, {
      method: "POST",
      headers: { "Content-Type": "application/x-git-upload-pack-request", "Content-Encoding": "gzip" },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-git-upload-pack-result");
    const payload = Buffer.from(await res.arrayBuffer());
    assert.equal(payload.subarray(0, 8).toString(), "0008NAK\n");
    assert.ok(payload.includes(Buffer.from("PACK")), "a packfile follows");

    const missing = await fetch(`${server.url}/nope.git/info/refs?service=git-upload-pack`);
    assert.equal(missing.status, 404);
  });
});

void describe("git-server with basic auth", () => {
  const auth = { username: "deployer", password: "s3cret-pass" };
  let server: GitServer;

  before(async () => {
    server = await startGitServer({ auth });
    await server.createRepo("private", { "a.txt": "a\n" });
  });
  after(async () => server.stop());

  void it("answers 401 with WWW-Authenticate when credentials are missing or wrong", async () => {
    const url = `${server.repoURL("private")}/info/refs?service=git-upload-pack`;
    const missing = await fetch(url);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Basic realm=/);
    const wrong = await fetch(url, { headers: { Authorization: `Basic ${btoa("deployer:nope")}` } });
    assert.equal(wrong.status, 401);
    const right = await fetch(url, { headers: { Authorization: `Basic ${btoa("deployer:s3cret-pass")}` } });
    assert.equal(right.status, 200);
    assert.equal(right.headers.get("content-type"), "application/x-git-upload-pack-advertisement");
  });

  void it("serves isomorphic-git with the right credentials", async () => {
    const refs = await git.listServerRefs({ http, url: server.repoURL("private"), onAuth: () => auth });
    assert.equal(
      refs.find((r) => r.ref === "refs/heads/main")?.oid,
      await server.revParse("private", "main"),
    );
  });

  void it("removes its temp dir on stop", async () => {
    const other = await startGitServer();
    assert.ok(existsSync(other.root));
    await other.stop();
    assert.equal(existsSync(other.root), false);
  });
});
