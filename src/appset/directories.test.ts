import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { depthOf, listDirectories } from "./directories.js";

describe("listDirectories", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "gitgate-dirs-"));
    for (const dir of ["apps/web/base", "apps/api", ".git/objects", "charts"])
      await mkdir(join(root, dir), { recursive: true });
    await writeFile(join(root, "apps", "README.md"), "");
    await symlink("/", join(root, "apps", "root-link"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const cases: Array<[depth: number, want: string[]]> = [
    [0, []],
    [1, ["apps", "charts"]],
    [2, ["apps", "apps/api", "apps/web", "charts"]],
    [3, ["apps", "apps/api", "apps/web", "apps/web/base", "charts"]],
  ];
  for (const [depth, want] of cases)
    it(`to depth ${depth}: no files, no .git, no symlinks`, async () =>
      assert.deepEqual((await listDirectories(root, depth)).sort(), want));

  it("depth is the deepest pattern's", () => {
    assert.equal(depthOf([{ path: "apps/*" }, { path: "a/b/c" }]), 3);
    assert.equal(depthOf([]), 0);
  });
});
