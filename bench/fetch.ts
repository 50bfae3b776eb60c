/**
 * Issue 18, fetch cost: gitgate's fetch of a 10,000-file repository (100 directories × 100
 * ConfigMaps, one commit) from the real Git smart-HTTP server (`git http-backend`), against
 * `git clone --depth 1 --single-branch` of the same repository. gitgate's fetch is the path a GitApp
 * takes (GitSource.resolve: ref lookup, fetch, worktree written), with a fresh cache dir, in a child
 * process of its own so its peak RSS (VmHWM from /proc) is the fetch's. Median of 3, order rotating.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { othersCpuPct, sampleCpu, type CpuSample } from "./lib/noise.js";
import { fmt, median, nowMs, runs, table, verdict } from "./lib/stats.js";

const ROUNDS = 3;
const DIRS = 100;
const PER_DIR = 100;
const TARGET_RATIO = 2;
const TARGET_PEAK_MB = 120;
const CHILD = fileURLToPath(new URL("./lib/fetch-child.js", import.meta.url));
const GNU_TIME = "/usr/bin/time";

/** What gitgate's fetchers are called in the table; the first is the default. */
export const FETCHERS = ["git", "isomorphic-git"] as const;
type Fetcher = (typeof FETCHERS)[number];

interface Run {
  /** gitgate: resolve() inside the child (no node start-up); git clone: the process's wall time. */
  wallMs: number;
  /** Peak RSS in MiB; NaN when not measurable. */
  peakMb: number;
  /** gitgate: its RSS plus its git children's anonymous memory, sampled (MiB). */
  treeMb: number;
  /** gitgate: VmHWM of the child before the fetch (node and gitgate's modules loaded). */
  idleMb: number;
  requests: number;
  others: number;
}

/**
 * A ConfigMap as platform repositories hold them: labels, an application config, a CA bundle and
 * a key (base64, incompressible like real ones), ~4 KiB of YAML each.
 */
export function configMapYaml(dir: number, n: number): string {
  const name = `app-${String(dir).padStart(3, "0")}-config-${String(n).padStart(3, "0")}`;
  const pem = randomBytes(3400)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n      ");
  return [
    "# Generated for the fetch benchmark: one of 10,000 ConfigMaps.",
    "apiVersion: v1",
    "kind: ConfigMap",
    "metadata:",
    `  name: ${name}`,
    "  labels:",
    `    app.kubernetes.io/name: app-${dir}`,
    "    app.kubernetes.io/part-of: monorepo",
    `    team: team-${dir % 17}`,
    "  annotations:",
    `    example.com/owner: "team-${dir % 17}@example.com"`,
    "data:",
    "  application.yaml: |",
    "    server:",
    `      port: ${8000 + n}`,
    "      shutdownGracePeriod: 30s",
    "    database:",
    `      url: postgres://db-${dir}.example.internal:5432/app${n}`,
    "      pool: { min: 2, max: 20 }",
    "    features:",
    ...Array.from({ length: 12 }, (_, i) => `      flag${i}: ${(dir * n + i) % 3 === 0}`),
    `  replica-hint: "${(n % 5) + 1}"`,
    "  ca.crt: |",
    "      -----BEGIN CERTIFICATE-----",
    `      ${pem.trimEnd()}`,
    "      -----END CERTIFICATE-----",
    "",
  ].join("\n");
}

export function monorepoFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let d = 0; d < DIRS; d++)
    for (let n = 0; n < PER_DIR; n++)
      files[`apps/app-${String(d).padStart(3, "0")}/cm-${String(n).padStart(3, "0")}.yaml`] = configMapYaml(
        d,
        n,
      );
  return files;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await dirBytes(path) : (await stat(path)).size;
  }
  return total;
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${err.message}` });
    });
  });
}

function gitEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
  };
}

interface Measured {
  ms?: number;
  peakMb: number;
  treeMb: number;
  idleMb?: number;
}

async function timed(git: GitServer, what: () => Promise<Measured>): Promise<Run> {
  const before: CpuSample = sampleCpu();
  const requestsBefore = git.requests.length;
  const started = nowMs();
  const { ms, peakMb, treeMb, idleMb } = await what();
  const wallMs = ms ?? nowMs() - started;
  return {
    wallMs,
    peakMb,
    treeMb,
    idleMb: idleMb ?? Number.NaN,
    requests: git.requests.length - requestsBefore,
    others: othersCpuPct(before, sampleCpu()),
  };
}

async function gitgateFetch(url: string, fetcher: Fetcher): Promise<Measured> {
  const cache = await mkdtemp(join(tmpdir(), "gitgate-bench-fetch-"));
  try {
    const result = await run(process.execPath, [CHILD, url, "main", cache, fetcher], process.env);
    if (result.code !== 0) throw new Error(`gitgate fetch (${fetcher}) failed: ${result.stderr.trim()}`);
    const out = JSON.parse(result.stdout) as {
      ms: number;
      idleKb: number;
      peakKb: number;
      treePeakKb: number;
      files: number;
    };
    if (out.files !== DIRS * PER_DIR) throw new Error(`gitgate's worktree has ${out.files} files`);
    return {
      ms: out.ms,
      peakMb: out.peakKb / 1024,
      treeMb: out.treePeakKb / 1024,
      idleMb: out.idleKb / 1024,
    };
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
}

async function gitClone(url: string): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), "gitgate-bench-clone-"));
  try {
    const args = ["clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags", url, join(dir, "c")];
    // GNU time's %M: the largest resident set of git and its helpers (git-remote-http, index-pack).
    const withTime = existsSync(GNU_TIME);
    const result = withTime
      ? await run(GNU_TIME, ["-f", "maxrss=%M", "git", ...args], gitEnv(dir))
      : await run("git", args, gitEnv(dir));
    if (result.code !== 0) throw new Error(`git clone failed: ${result.stderr.trim()}`);
    const kb = /maxrss=(\d+)/.exec(result.stderr)?.[1];
    const mb = kb ? Number(kb) / 1024 : Number.NaN;
    return { peakMb: mb, treeMb: mb };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Contender = "git clone" | Fetcher;

async function measure(git: GitServer, url: string): Promise<Map<Contender, Run[]>> {
  const contenders: Contender[] = ["git clone", ...FETCHERS];
  const results = new Map<Contender, Run[]>(contenders.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length] as Contender);
    for (const who of order) {
      const r = await timed(git, () => (who === "git clone" ? gitClone(url) : gitgateFetch(url, who)));
      results.get(who)?.push(r);
      console.log(
        `[fetch] round ${round + 1}: ${who} ${fmt(r.wallMs / 1000)} s, peak ${fmt(r.peakMb, 0)} MiB, ${r.requests} Git requests, others' CPU ${fmt(r.others, 0)} %`,
      );
    }
  }
  return results;
}

function report(results: Map<Contender, Run[]>, objectBytes: number, fileBytes: number): void {
  const of = (who: Contender): Run[] => results.get(who) ?? [];
  const secs = (who: Contender): number[] => of(who).map((r) => r.wallMs / 1000);
  const peaks = (who: Contender): number[] => of(who).map((r) => r.peakMb);
  const clone = median(secs("git clone"));
  const rows: string[][] = [["measurement", "median", "runs (3)", "target", ""]];
  rows.push([
    "git clone --depth 1 --single-branch: time",
    `${fmt(clone)} s`,
    runs(secs("git clone")),
    "",
    "",
  ]);
  rows.push([
    "  its peak RSS (largest git process)",
    `${fmt(median(peaks("git clone")), 0)} MiB`,
    runs(peaks("git clone"), 0),
    "(info)",
    "",
  ]);
  for (const f of FETCHERS) {
    const label = `gitgate fetch, ${f}${f === FETCHERS[0] ? " (default)" : ""}`;
    const t = median(secs(f));
    const peak = median(peaks(f));
    const main = f === FETCHERS[0];
    rows.push([`${label}: resolve() time`, `${fmt(t)} s`, runs(secs(f)), "", ""]);
    rows.push([
      `  ratio to git clone`,
      fmt(t / clone),
      runs(secs(f).map((s, i) => s / (secs("git clone")[i] ?? NaN))),
      `≤ ${TARGET_RATIO}`,
      main ? verdict(t / clone <= TARGET_RATIO) : "(info)",
    ]);
    rows.push([
      `  peak RSS of the fetch process (VmHWM)`,
      `${fmt(peak, 0)} MiB`,
      runs(peaks(f), 0),
      `≤ ${TARGET_PEAK_MB} MiB`,
      main ? verdict(peak <= TARGET_PEAK_MB) : "(info)",
    ]);
    rows.push([
      `  of which before the fetch (node + modules loaded)`,
      `${fmt(median(of(f).map((r) => r.idleMb)), 0)} MiB`,
      runs(
        of(f).map((r) => r.idleMb),
        0,
      ),
      "(info)",
      "",
    ]);
    rows.push([
      `  peak RSS + its git processes' RssAnon (sampled)`,
      `${fmt(median(of(f).map((r) => r.treeMb)), 0)} MiB`,
      runs(
        of(f).map((r) => r.treeMb),
        0,
      ),
      "(info)",
      "",
    ]);
    rows.push([
      `  Git HTTP requests`,
      String(median(of(f).map((r) => r.requests))),
      runs(
        of(f).map((r) => r.requests),
        0,
      ),
      "",
      "",
    ]);
  }
  console.log(`\n${table(rows)}`);
  const others = [...results.values()].flat().map((r) => r.others);
  console.log(
    `repository: ${DIRS * PER_DIR} files, ${fmt(fileBytes / 2 ** 20, 1)} MiB of YAML, ${fmt(objectBytes / 2 ** 20, 1)} MiB of Git objects (bare repo on the server), one commit; ` +
      `others' CPU during the runs: median ${fmt(median(others), 0)} %, max ${fmt(Math.max(...others), 0)} %`,
  );
}

export async function benchFetch(): Promise<void> {
  console.log("\n## Fetch (issue 18): 10,000-file repository, gitgate vs git clone --depth 1\n");
  const git = await startGitServer();
  try {
    const files = monorepoFiles();
    const fileBytes = Object.values(files).reduce((n, f) => n + Buffer.byteLength(f), 0);
    // No background auto-gc in the scratch clone of 10,000 files (it races the clone's removal).
    await writeFile(join(git.root, "home", ".gitconfig"), "[gc]\n\tauto = 0\n");
    await git.createRepo("monorepo", files);
    // One pack, as a served repository has after gc (the scratch push leaves a pack already).
    const objectBytes = await dirBytes(join(git.repoPath("monorepo"), "objects"));
    const results = await measure(git, git.repoURL("monorepo"));
    report(results, objectBytes, fileBytes);
  } finally {
    await git.stop();
  }
}
