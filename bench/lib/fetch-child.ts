/**
 * One fetch as a GitApp makes it, in a process of its own so that its peak RSS (VmHWM) is the
 * fetch's alone: `node fetch-child.js <repoURL> <revision> <cacheRoot> [git|isomorphic-git]`. Prints one JSON
 * line: time of resolve() (ref lookup, fetch, checkout of the worktree), VmHWM before and after,
 * and the peak of its RSS plus its git children's anonymous memory, sampled every 50 ms.
 */
import { readdirSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { createGitSource } from "../../src/source/git-source.js";

function vmHwmKb(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) : Number.NaN;
}

function vmRssKb(): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) : Number.NaN;
}

/**
 * A child's anonymous resident memory (RssAnon): what it allocated. git maps the packfile it reads
 * or writes, and those file pages (page cache, reclaimable) would otherwise count once per process.
 */
function anonKb(pid: number): number {
  try {
    const match = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // exited meanwhile
  }
}

/** Our resident set plus the anonymous memory of every descendant (git fetch, index-pack, cat-file), now. */
function treeKb(pid: number | "self" = "self"): number {
  let total = pid === "self" ? vmRssKb() : anonKb(pid);
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      for (const child of children ? children.split(" ") : []) total += treeKb(Number(child));
    }
  } catch {
    // exited meanwhile
  }
  return total;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    n += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  }
  return n;
}

async function main(): Promise<void> {
  const [repoURL = "", revision = "main", cacheRoot = "", fetcher = "git"] = process.argv.slice(2);
  const idleKb = vmHwmKb();
  const source = createGitSource({
    cacheRoot,
    fetchTimeoutMs: 300_000,
    fetcher: fetcher === "isomorphic-git" ? "isomorphic-git" : "git",
  });
  let treePeakKb = treeKb();
  const sampler = setInterval(() => (treePeakKb = Math.max(treePeakKb, treeKb())), 50);
  const started = performance.now();
  const checkout = await source.resolve({ repoURL, revision });
  const ms = performance.now() - started;
  clearInterval(sampler);
  const peakKb = vmHwmKb();
  const files = await countFiles(checkout.dir);
  process.stdout.write(
    `${JSON.stringify({ ms, idleKb, peakKb, treePeakKb, commit: checkout.commit, files })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
