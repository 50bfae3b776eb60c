// Reading the object store with the git binary: the pure parsers (table tests), and the worktree
// git writes compared with the one isomorphic-git writes from the same real repository.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GitgateError } from "../errors.js";
import {
  gitExpandOid,
  gitObjectType,
  gitPeelToCommit,
  gitWriteTree,
  parseCommitText,
  parseLsTree,
} from "./git-store.js";
import { isomorphicWriteTree } from "./worktree.js";

const OID = "0123456789abcdef0123456789abcdef01234567";

void describe("git store parsers", () => {
  void it("parses ls-tree -r -z -l records, submodules included", () => {
    const out = [
      `100644 blob ${OID}     12\tapps/a b.yaml`,
      `100755 blob ${OID}      3\trun.sh`,
      `120000 blob ${OID}      9\tlink`,
      `160000 commit ${OID}       -\tvendor/sub`,
      `100644 blob ${OID}      1\tline\nbreak`,
      "",
    ].join("\0");
    assert.deepEqual(
      parseLsTree(out).map((e) => [e.mode, e.type, e.size, e.path]),
      [
        ["100644", "blob", 12, "apps/a b.yaml"],
        ["100755", "blob", 3, "run.sh"],
        ["120000", "blob", 9, "link"],
        ["160000", "commit", 0, "vendor/sub"],
        ["100644", "blob", 1, "line\nbreak"],
      ],
    );
  });

  void it("refuses paths that could escape the worktree or plant a .git", () => {
    for (const path of ["../x", "a/../../x", "a/./b", ".git/config", "a/.GIT/hooks/x", "a//b", "/abs"]) {
      assert.throws(
        () => parseLsTree(`100644 blob ${OID} 1\t${path}\0`),
        (err: unknown) => err instanceof GitgateError && err.reason === "UnsafeRepository",
        path,
      );
    }
    assert.throws(() => parseLsTree("garbage\0"), /unexpected ls-tree output/);
  });

  void it("reads subject, author and time from a raw commit", () => {
    const info = parseCommitText(
      `tree ${OID}\nparent ${OID}\nauthor Ada <Lovelace> <ada@example.com> 1700000000 +0100\n` +
        `committer C <c@example.com> 1700000001 +0000\n\nFix the thing\n\nBody.\n`,
    );
    assert.deepEqual(info, {
      subject: "Fix the thing",
      author: "Ada <Lovelace>",
      time: "2023-11-14T22:13:20.000Z",
    });
    assert.deepEqual(parseCommitText("tree x\n"), {
      subject: "",
      author: "",
      time: "1970-01-01T00:00:00.000Z",
    });
  });
});

void describe("git store against a real repository", () => {
  let scratch: string;
  let gitdir: string;
  let commit: string;
  const git = (cwd: string, args: string[]): string =>
    execFileSync("git", args, {
      cwd,
      env: {
        PATH: "/usr/bin:/bin",
        HOME: cwd,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_AUTHOR_NAME: "T",
        GIT_AUTHOR_EMAIL: "t@example.com",
        GIT_COMMITTER_NAME: "T",
        GIT_COMMITTER_EMAIL: "t@example.com",
      },
    })
      .toString()
      .trim();

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "gitgate-git-store-"));
    const work = join(scratch, "work");
    await mkdir(join(work, "apps", "deep", "er"), { recursive: true });
    git(scratch, ["init", "--quiet", "--initial-branch=main", work]);
    await writeFile(join(work, "apps", "cm.yaml"), "kind: ConfigMap\r\n");
    await writeFile(join(work, "apps", "deep", "er", "empty"), "");
    await writeFile(join(work, "run.sh"), "#!/bin/sh\n");
    await chmod(join(work, "run.sh"), 0o755);
    await symlink("../../etc/passwd", join(work, "escape"));
    // Attributes that `git checkout` would apply: the raw bytes must be written all the same.
    await writeFile(join(work, ".gitattributes"), "*.yaml text eol=crlf\n* export-ignore\n");
    await writeFile(join(work, "big.bin"), Buffer.alloc(300_000, 7));
    git(work, ["add", "--all"]);
    git(work, ["update-index", "--add", "--cacheinfo", `160000,${OID},vendor/sub`]);
    git(work, ["commit", "--quiet", "-m", "first"]);
    git(work, ["tag", "-a", "-m", "t", "v1"]);
    commit = git(work, ["rev-parse", "HEAD"]);
    gitdir = join(work, ".git");
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  async function snapshot(dir: string, prefix = ""): Promise<string[]> {
    const out: string[] = [];
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      const rel = `${prefix}${entry.name}`;
      if (entry.isSymbolicLink()) out.push(`${rel} -> ${await readlink(path)}`);
      else if (entry.isDirectory()) out.push(`${rel}/`, ...(await snapshot(path, `${rel}/`)));
      else {
        const mode = ((await stat(path)).mode & 0o777).toString(8);
        out.push(`${rel} ${mode} ${(await readFile(path)).toString("base64").slice(0, 64)}`);
      }
    }
    return out;
  }

  void it("writes the same worktree as isomorphic-git: raw bytes, modes, links kept, submodules empty", async () => {
    const viaGit = join(scratch, "git-out");
    const viaIso = join(scratch, "iso-out");
    await mkdir(viaGit);
    await mkdir(viaIso);
    await gitWriteTree(gitdir, commit, viaGit, 1 << 20);
    await isomorphicWriteTree(gitdir, commit, viaIso, 1 << 20);
    const want = await snapshot(viaIso);
    assert.deepEqual(await snapshot(viaGit), want);
    assert.ok(want.includes("escape -> ../../etc/passwd") && want.includes("vendor/sub/"), want.join("\n"));
    // `git add` stored it with LF (text attribute); `git checkout` would write CRLF, gitgate the blob.
    assert.equal(await readFile(join(viaGit, "apps", "cm.yaml"), "utf8"), "kind: ConfigMap\n");
  });

  void it("refuses a file over the size limit by name, before reading it", async () => {
    const dest = join(scratch, "small");
    await mkdir(dest);
    await assert.rejects(
      gitWriteTree(gitdir, commit, dest, 100_000),
      (err: unknown) =>
        err instanceof GitgateError &&
        err.reason === "FileTooLarge" &&
        /big\.bin is 300000 bytes/.test(err.message),
    );
  });

  void it("answers types, peels tags and expands short SHAs like isomorphic-git", async () => {
    const tag = git(gitdir, ["--git-dir", gitdir, "rev-parse", "v1"]);
    assert.equal(await gitObjectType(gitdir, commit), "commit");
    assert.equal(await gitObjectType(gitdir, tag), "tag");
    assert.equal(await gitObjectType(gitdir, OID), undefined);
    assert.equal(await gitPeelToCommit(gitdir, tag, "v1"), commit);
    const tree = git(gitdir, ["--git-dir", gitdir, "rev-parse", `${commit}^{tree}`]);
    await assert.rejects(gitPeelToCommit(gitdir, tree, "the tree"), /the tree does not point to a commit/);
    assert.equal(await gitExpandOid(gitdir, commit.slice(0, 8), "repo"), commit);
    assert.equal(await gitExpandOid(gitdir, "ffffffff", "repo"), undefined);
  });
});
