/**
 * The cache's object store read with the `git` binary: object types, peeling, short SHAs, commit
 * subjects, and worktrees written from `git ls-tree` + `git cat-file --batch`, streamed. Used when
 * git fetched the store (HTTP(S) with the git fetcher, and SSH): isomorphic-git would load a whole
 * packfile into memory to read one object of it. Files are written raw (no .gitattributes filters
 * or eol conversion, as isomorphic-git wrote them), with the same checks as worktree.ts: names that
 * could escape the worktree or plant a .git are refused, and sizes are checked from ls-tree before
 * any blob is read.
 */
import { spawn } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { terminal } from "../errors.js";
import { commitInfoOf, type CommitInfo } from "./commit-info.js";
import { GIT_CONFIG_ARGS, runGit, type GitResult } from "./ssh.js";

/** An object name as gitgate passes it to git: hex only, so it can never read as an option. */
const OID = /^[0-9a-f]{4,40}$/;
/** Local reads of a big repository's tree stay far below this. */
const LOCAL_TIMEOUT_MS = 300_000;
/** Files written at once while cat-file streams the next ones. */
const WRITES_IN_FLIGHT = 32;

/** The environment of local git reads: no config of anyone's, no prompts, no network. */
export function localGitEnv(): Record<string, string> {
  return {
    HOME: tmpdir(),
    PATH: "/usr/local/bin:/usr/bin:/bin",
    LANG: "C",
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_ALLOW_PROTOCOL: "",
    GIT_NO_REPLACE_OBJECTS: "1",
  };
}

function checkedOid(oid: string): string {
  if (!OID.test(oid)) throw new Error(`not an object name: ${JSON.stringify(oid.slice(0, 80))}`);
  return oid;
}

async function local(gitdir: string, args: string[]): Promise<GitResult> {
  return runGit({
    args: ["--git-dir", gitdir, ...args],
    env: localGitEnv(),
    cwd: gitdir,
    timeoutMs: LOCAL_TIMEOUT_MS,
  });
}

/** The type of `oid` in the store, or undefined when it is not there. */
export async function gitObjectType(gitdir: string, oid: string): Promise<string | undefined> {
  const result = await local(gitdir, ["cat-file", "-t", checkedOid(oid)]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** Follows annotated tags down to the commit; anything else than a commit is an error. */
export async function gitPeelToCommit(gitdir: string, oid: string, what: string): Promise<string> {
  const result = await local(gitdir, ["rev-parse", "--verify", "--quiet", `${checkedOid(oid)}^{commit}`]);
  const commit = result.stdout.trim();
  if (result.code === 0 && /^[0-9a-f]{40}$/.test(commit)) return commit;
  throw terminal("RevisionNotFound", `${what} does not point to a commit`);
}

/** The one object a short SHA names; undefined when none, RevisionAmbiguous when several. */
export async function gitExpandOid(gitdir: string, short: string, repo: string): Promise<string | undefined> {
  const result = await local(gitdir, ["rev-parse", "--verify", "--quiet", `${checkedOid(short)}^{object}`]);
  if (/ambiguous/.test(result.stderr)) {
    throw terminal(
      "RevisionAmbiguous",
      `short commit SHA ${short} names more than one object in ${repo}; give more digits`,
    );
  }
  const oid = result.stdout.trim();
  return result.code === 0 && /^[0-9a-f]{40}$/.test(oid) ? oid : undefined;
}

/** Subject, author and time of a commit, from its raw text. */
export async function gitCommitInfo(gitdir: string, commit: string): Promise<CommitInfo> {
  const result = await local(gitdir, ["cat-file", "commit", checkedOid(commit)]);
  if (result.code !== 0) throw new Error(`cannot read commit ${commit}`);
  return parseCommitText(result.stdout);
}

/** A raw commit object: headers up to the first blank line, then the message. Pure. */
export function parseCommitText(text: string): CommitInfo {
  const blank = text.indexOf("\n\n");
  const headers = blank < 0 ? text : text.slice(0, blank);
  const message = blank < 0 ? "" : text.slice(blank + 2);
  const line = headers.split("\n").find((l) => l.startsWith("author ")) ?? "";
  // "author Name <email> 1700000000 +0000": the name is everything before the last " <".
  const lt = line.lastIndexOf(" <");
  const name = lt > 7 ? line.slice(7, lt) : "";
  const timestamp = Number(/> (\d+) [+-]\d{4}$/.exec(line)?.[1] ?? Number.NaN);
  return commitInfoOf({ message, author: { name, timestamp } });
}

/** One entry of `git ls-tree -r -z -l`: mode, type, object, size ("-" for submodules), path. */
export interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  size: number;
  path: string;
}

const LS_TREE_LINE = /^(\d{6}) (blob|tree|commit) ([0-9a-f]{40}) +(-|\d+)\t/;

/** Parses ls-tree output, refusing names that could escape the worktree or plant a .git. Pure. */
export function parseLsTree(out: string): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const record of out.split("\0")) {
    if (record === "") continue;
    const m = LS_TREE_LINE.exec(record);
    if (!m) throw new Error(`unexpected ls-tree output: ${JSON.stringify(record.slice(0, 80))}`);
    const path = record.slice(m[0].length);
    checkPath(path);
    entries.push({
      mode: m[1] ?? "",
      type: m[2] ?? "",
      oid: m[3] ?? "",
      size: m[4] === "-" ? 0 : Number(m[4]),
      path,
    });
  }
  return entries;
}

/** The same refusals as worktree.ts makes per tree entry, for every component of a path. */
export function checkPath(path: string): void {
  for (const part of path.split("/")) {
    if (part === "" || part === "." || part === ".." || part.includes("\0")) {
      throw terminal("UnsafeRepository", `tree entry ${JSON.stringify(path)} is not a valid file name`);
    }
    if (part.toLowerCase() === ".git") {
      throw terminal("UnsafeRepository", `tree entry ${JSON.stringify(path)} is not allowed`);
    }
  }
}

function tooLarge(path: string, size: number, max: number): Error {
  return terminal(
    "FileTooLarge",
    `${path} is ${size} bytes, more than the ${max} gitgate checks out per file ` +
      "(render.maxRepoFileBytes): remove it from the repository or raise the limit",
  );
}

/**
 * Writes the files of `commit` into `dest` (an empty directory): sizes checked from ls-tree first,
 * then every blob streamed out of one `git cat-file --batch`, a bounded number written at a time.
 */
export async function gitWriteTree(
  gitdir: string,
  commit: string,
  dest: string,
  maxFileBytes: number,
): Promise<void> {
  const listed = await local(gitdir, ["ls-tree", "-r", "-z", "-l", "--full-tree", checkedOid(commit)]);
  if (listed.code !== 0) throw new Error(`cannot list the tree of ${commit}: ${listed.stderr.slice(0, 200)}`);
  const entries = parseLsTree(listed.stdout);
  const dirs = new Set<string>();
  const blobs: TreeEntry[] = [];
  for (const entry of entries) {
    const slash = entry.path.lastIndexOf("/");
    if (slash > 0) dirs.add(entry.path.slice(0, slash));
    if (entry.type === "commit")
      dirs.add(entry.path); // submodule: an empty directory, as `git clone` leaves it
    else if (entry.type === "blob") {
      if (entry.size > maxFileBytes) throw tooLarge(entry.path, entry.size, maxFileBytes);
      blobs.push(entry);
    }
  }
  // Shortest first, so parents exist; never recursive, so nothing is created through a symlink.
  for (const dir of [...dirs].sort((a, b) => a.length - b.length)) await mkdirParents(dest, dir);
  await streamBlobs(gitdir, blobs, (entry, content) => writeEntry(dest, entry, content));
}

async function mkdirParents(dest: string, dir: string): Promise<void> {
  const parts = dir.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const path = join(dest, ...parts.slice(0, i));
    await mkdir(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
  }
}

async function writeEntry(dest: string, entry: TreeEntry, content: Buffer): Promise<void> {
  const target = join(dest, entry.path);
  if (entry.mode === "120000") {
    await symlink(content.toString("utf8"), target); // kept as a link, never followed here
    return;
  }
  // "wx": never write through something that already exists (such as a symlink).
  await writeFile(target, content, { flag: "wx", mode: entry.mode === "100755" ? 0o755 : 0o644 });
}

/** Bytes received and not yet consumed, kept as the chunks they came in (no quadratic concat). */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Offset of the first newline within the first `limit` bytes, or -1. */
  newline(limit: number): number {
    let offset = 0;
    for (const chunk of this.chunks) {
      const at = chunk.subarray(0, Math.max(0, limit - offset)).indexOf(10);
      if (at >= 0) return offset + at;
      offset += chunk.length;
      if (offset >= limit) break;
    }
    return -1;
  }

  /** Removes and returns the first `n` bytes (a view when they lie in one chunk). */
  take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const parts: Buffer[] = [];
      let need = n;
      while (need > 0) {
        const chunk = this.chunks.shift() as Buffer;
        if (chunk.length > need) {
          parts.push(chunk.subarray(0, need));
          this.chunks.unshift(chunk.subarray(need));
          need = 0;
        } else {
          parts.push(chunk);
          need -= chunk.length;
        }
      }
      out = Buffer.concat(parts, n);
    }
    this.length -= n;
    return out;
  }
}

/** "<oid> blob <size>" (or "<oid> missing"): the header cat-file --batch puts before each object. */
const BATCH_HEADER = /^([0-9a-f]{40}) (blob|tree|commit|tag) (\d+)$/;
const MAX_HEADER = 128;

/**
 * Runs one `git cat-file --batch` for `blobs` and calls `write` for each, in order, as its bytes
 * arrive; at most WRITES_IN_FLIGHT writes run at once and reading pauses while they do.
 */
async function streamBlobs(
  gitdir: string,
  blobs: TreeEntry[],
  write: (entry: TreeEntry, content: Buffer) => Promise<void>,
): Promise<void> {
  if (blobs.length === 0) return;
  const child = spawn("git", [...GIT_CONFIG_ARGS, "--git-dir", gitdir, "cat-file", "--batch"], {
    cwd: gitdir,
    env: localGitEnv(),
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const kill = (): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  };
  const timer = setTimeout(kill, LOCAL_TIMEOUT_MS);
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  child.stdin.on("error", () => undefined); // git exiting early (killed) must not crash us
  child.stderr.resume();
  child.stdin.end(blobs.map((b) => `${b.oid}\n`).join(""));
  const pending = new Set<Promise<void>>();
  let failure: Error | undefined;
  try {
    const queue = new ByteQueue();
    let next = 0;
    let current: { entry: TreeEntry; size: number } | undefined;
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      queue.push(chunk);
      for (;;) {
        if (!current) {
          const nl = queue.newline(MAX_HEADER);
          if (nl < 0) {
            if (queue.length >= MAX_HEADER) throw new Error("git cat-file sent an unreadable header");
            break;
          }
          const header = queue.take(nl + 1).toString("latin1", 0, nl);
          const entry = blobs[next++];
          const m = BATCH_HEADER.exec(header);
          if (!entry || !m || m[1] !== entry.oid || m[2] !== "blob")
            throw new Error(
              `git cat-file: unexpected ${JSON.stringify(header.slice(0, 80))} for ${entry?.path ?? "nothing"}`,
            );
          current = { entry, size: Number(m[3]) };
          if (current.size !== entry.size)
            throw new Error(`${entry.path}: size changed between ls-tree and cat-file`);
        }
        if (queue.length < current.size + 1) break;
        const content = queue.take(current.size);
        queue.take(1); // the newline after each object
        const done: Promise<void> = write(current.entry, content).then(
          () => void pending.delete(done),
          (err: unknown) => {
            pending.delete(done);
            failure ??= err instanceof Error ? err : new Error(String(err));
          },
        );
        pending.add(done);
        current = undefined;
        if (pending.size >= WRITES_IN_FLIGHT) await Promise.race(pending);
        if (failure) throw failure;
      }
    }
    await Promise.all(pending);
    if (failure) throw failure;
    const code = await exited;
    if (code !== 0 || next !== blobs.length || current)
      throw new Error(`git cat-file ended early (exit ${code})`);
  } catch (err) {
    kill();
    await Promise.all(pending);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
