/**
 * One fetch as a GitApp makes it, in a process of its own so that its peak RSS (VmHWM) is the
 * fetch's alone: `node fetch-child.js <repoURL> <revision> <cacheRoot> [git|isomorphic-git]`. Prints one JSON
 * line: time of resolve() (ref lookup, fetch, checkout of the worktree), VmHWM before and after,
 * and the peak of this process's and its git children's PSS together, sampled every 20 ms.
 */
import { readdirSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { createGitSource } from "../../src/source/git-source.js";

function vmHwmKb(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) : Number.NaN;
}

/** Proportional set size: shared pages (libraries, git's own) split among the processes mapping them. */
function pssKb(pid: number | "self"): number {
  try {
    const match = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // exited meanwhile
  }
}

/** PSS of this process and every descendant (git fetch, remote-http, index-pack, cat-file), now. */
function treePssKb(pid: number | "self" = "self"): number {
  let total = pssKb(pid);
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      for (const child of children ? children.split(" ") : []) total += treePssKb(Number(child));
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
  let treePeakKb = treePssKb();
  const sampler = setInterval(() => (treePeakKb = Math.max(treePeakKb, treePssKb())), 20);
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
