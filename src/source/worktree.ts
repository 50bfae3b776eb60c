/**
 * Content-addressed worktrees: `worktrees/<sha>` holds the files of one commit. They are written
 * from the object store directly (not with git.checkout, which would share one index and HEAD
 * between all worktrees of a repo), into a temp dir that is renamed into place, so a reader never
 * sees a half-written tree.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { mkdir, readdir, rename, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import git from "isomorphic-git";
import { terminal } from "../errors.js";
import { ObjectSizes } from "./object-size.js";

const SHA_DIR = /^[0-9a-f]{40}$/;
/** Largest file written out of a commit by default; readBlob holds a whole file in memory. */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
const TEMP_PREFIX = ".tmp-";

/** The object type of `oid` in the cache, or undefined when it is not there. */
export async function objectType(gitdir: string, oid: string, cache: object): Promise<string | undefined> {
  try {
    const { type } = await git.readObject({ fs, gitdir, oid, format: "parsed", cache });
    return type;
  } catch {
    return undefined;
  }
}

/** Follows annotated tags down to the commit; anything else than a commit is an error. */
export async function peelToCommit(
  gitdir: string,
  oid: string,
  cache: object,
  what: string,
): Promise<string> {
  let current = oid;
  for (let depth = 0; depth < 10; depth++) {
    const object = await git.readObject({ fs, gitdir, oid: current, format: "parsed", cache });
    if (object.type === "commit") return current;
    if (object.type !== "tag") break;
    current = (object.object as { object: string }).object;
  }
  throw terminal("RevisionNotFound", `${what} does not point to a commit`);
}

/** Whether `worktrees/<commit>` exists (then no object in the cache is needed at all). */
export async function hasWorktree(worktreesDir: string, commit: string): Promise<boolean> {
  return exists(join(worktreesDir, commit));
}

/**
 * Returns `worktrees/<commit>`, writing it first unless it already exists. A file larger than
 * `maxFileBytes` anywhere in the commit fails it (terminal, naming the file), checked from object
 * headers before anything is inflated; skipping it instead could make a render lose objects.
 */
export async function ensureWorktree(
  gitdir: string,
  worktreesDir: string,
  commit: string,
  maxFileBytes = DEFAULT_MAX_FILE_BYTES,
  write: TreeWriter = isomorphicWriteTree,
): Promise<string> {
  const dir = join(worktreesDir, commit);
  if (await exists(dir)) {
    await touch(dir);
    return dir;
  }
  await mkdir(worktreesDir, { recursive: true });
  const temp = join(worktreesDir, `${TEMP_PREFIX}${commit}-${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(temp);
    await write(gitdir, commit, temp, maxFileBytes);
    await rename(temp, dir);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return dir;
}

/** Writes the files of `commit` into the empty directory `dest`, every file at most `maxFileBytes`. */
export type TreeWriter = (
  gitdir: string,
  commit: string,
  dest: string,
  maxFileBytes: number,
) => Promise<void>;

/** The files of a commit read with isomorphic-git. */
export const isomorphicWriteTree: TreeWriter = async (gitdir, commit, dest, maxFileBytes) => {
  const cache = {};
  const { tree } = await git.readCommit({ fs, gitdir, oid: commit, cache }).then((c) => c.commit);
  await writeTree({ gitdir, cache, sizes: new ObjectSizes(gitdir), maxFileBytes }, tree, dest, "");
};

interface Checkout {
  gitdir: string;
  cache: object;
  sizes: ObjectSizes;
  maxFileBytes: number;
}

async function writeTree(co: Checkout, treeOid: string, dest: string, prefix: string): Promise<void> {
  const { gitdir, cache } = co;
  const { tree } = await git.readTree({ fs, gitdir, oid: treeOid, cache });
  for (const entry of tree) {
    const path = `${prefix}${entry.path}`;
    // git itself refuses such trees; a crafted repo must not write outside the worktree or plant a .git.
    if (entry.path === "" || entry.path === "." || entry.path === ".." || /[/\0]/.test(entry.path)) {
      throw terminal("UnsafeRepository", `tree entry ${JSON.stringify(path)} is not a valid file name`);
    }
    if (entry.path.toLowerCase() === ".git") {
      throw terminal("UnsafeRepository", `tree entry ${JSON.stringify(path)} is not allowed`);
    }
    const target = join(dest, entry.path);
    switch (entry.mode) {
      case "040000":
        await mkdir(target);
        await writeTree(co, entry.oid, target, `${path}/`);
        break;
      case "120000": {
        // Kept as a symlink, never followed here: the renderer confines links to the repo.
        await checkSize(co, entry.oid, path);
        const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
        await symlink(Buffer.from(blob).toString("utf8"), target);
        break;
      }
      case "160000":
        await mkdir(target); // submodule: an empty directory, as `git clone` without --recurse leaves it
        break;
      default: {
        await checkSize(co, entry.oid, path);
        const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
        // "wx": never write through something that already exists (such as a symlink).
        await writeFile(target, blob, { flag: "wx", mode: entry.mode === "100755" ? 0o755 : 0o644 });
      }
    }
  }
}

async function checkSize(co: Checkout, oid: string, path: string): Promise<void> {
  const size = await co.sizes.sizeOf(oid);
  if (size !== undefined && size > co.maxFileBytes)
    throw terminal(
      "FileTooLarge",
      `${path} is ${size} bytes, more than the ${co.maxFileBytes} gitgate checks out per file ` +
        "(render.maxRepoFileBytes): remove it from the repository or raise the limit",
    );
}

/**
 * Keeps the `keep` most recently used worktrees (plus `current`) and deletes older ones, unless used
 * within `graceMs`: another GitApp may still be rendering from it. Leftover temp dirs are removed
 * (the caller holds the repo lock, so no writer owns them). Returns the deleted commits.
 */
export async function pruneWorktrees(
  worktreesDir: string,
  keep: number,
  graceMs: number,
  current: string,
): Promise<string[]> {
  const names = await readdir(worktreesDir).catch(() => [] as string[]);
  const used: { name: string; mtimeMs: number }[] = [];
  for (const name of names) {
    if (name.startsWith(TEMP_PREFIX)) await rm(join(worktreesDir, name), { recursive: true, force: true });
    else if (SHA_DIR.test(name) && name !== current) {
      const info = await stat(join(worktreesDir, name)).catch(() => undefined);
      if (info) used.push({ name, mtimeMs: info.mtimeMs });
    }
  }
  used.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const now = Date.now();
  const deleted: string[] = [];
  for (const { name, mtimeMs } of used.slice(Math.max(0, keep - 1))) {
    if (now - mtimeMs < graceMs) continue;
    await rm(join(worktreesDir, name), { recursive: true, force: true });
    deleted.push(name);
  }
  return deleted;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Marks a worktree as used now; pruning goes by this time. */
async function touch(dir: string): Promise<void> {
  const now = new Date();
  await utimes(dir, now, now);
}
