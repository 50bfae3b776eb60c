#!/usr/bin/env node
// Runs node's built-in test runner over TypeScript test files (via tsx).
//   unit:        src/**/*.test.ts   (module tests: pure logic, plus real git/helm/kubectl where a module runs them)
//   integration: test/**/*.test.ts  (real control plane, Git server, kubectl, helm)
//   all:         both
// Extra arguments are passed through as file filters (substring match).
//
// Each file runs as its own `node --test` process in its own process group, a few at a time. A file
// that runs past its limit (GITGATE_TEST_FILE_TIMEOUT seconds, default 900) is killed and fails the
// run by name, with its output so far: a hang costs minutes and says where, instead of the whole CI
// budget. Test environments a killed file leaves behind are removed by their own watchdogs
// (src/testenv/processes.ts).
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { clearTimeout, setTimeout } from "node:timers";
import { fileURLToPath, URL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const [suite = "all", ...filters] = process.argv.slice(2);

function find(dir) {
  const out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out.sort();
}

const unit = suite === "unit" || suite === "all" ? find(join(root, "src")) : [];
const integration = suite === "integration" || suite === "all" ? find(join(root, "test")) : [];
const pick = (files) => (filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files);

// Next to the usual reporter, scripts/record-reporter.mjs records skipped tests and which tests
// started and ended, one file per test file.
const recordDir = mkdtempSync(join(tmpdir(), "gitgate-tests-"));
const records = (index) => {
  try {
    return readFileSync(join(recordDir, `${index}.jsonl`), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  } catch {
    return [];
  }
};

const concurrency = Math.max(1, Number(process.env.GITGATE_TEST_CONCURRENCY ?? 2));
const fileTimeoutMs = Math.max(1, Number(process.env.GITGATE_TEST_FILE_TIMEOUT ?? 900)) * 1000;
const KILL_GRACE_MS = 20_000;
// Failures repeated under each failed file in the summary (the whole output is above it).
const SUMMARY_FAILS = 3;

/** One file's run: its exit, its output (buffered unless streamed), and how long it took. */
function runFile(file, index, stream) {
  const reporter = process.stdout.isTTY ? "spec" : "tap";
  const args = [
    "--import",
    "tsx",
    "--test",
    `--test-reporter=${reporter}`,
    "--test-reporter-destination=stdout",
    `--test-reporter=${join(root, "scripts", "record-reporter.mjs")}`,
    `--test-reporter-destination=${join(recordDir, `${index}.jsonl`)}`,
    file,
  ];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own group, so a timeout kills the test process and everything it started in that group.
      detached: true,
    });
    const chunks = [];
    child.stdout.on("data", (c) => {
      chunks.push(c);
      if (stream) process.stdout.write(c);
    });
    child.stderr.on("data", (c) => {
      chunks.push(c);
      if (stream) process.stderr.write(c);
    });
    let timedOut = false;
    const kill = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill("SIGTERM");
      setTimeout(() => kill("SIGKILL"), KILL_GRACE_MS).unref();
    }, fileTimeoutMs);
    running.add(kill);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(kill);
      resolve({
        file,
        ok: !timedOut && code === 0,
        timedOut,
        code: code ?? signal,
        seconds: (Date.now() - started) / 1000,
        output: Buffer.concat(chunks).toString("utf8"),
      });
    });
  });
}

const running = new Set();
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    for (const kill of running) kill("SIGTERM");
    process.exit(130);
  });

/** The tests of a killed file that had started and not ended, outermost first. */
function stillRunning(index, file) {
  const open = [];
  for (const { what, nesting, name } of records(index)) {
    // The file itself is a test at the top, named by its path.
    if (name === join(root, file)) continue;
    if (what === "start") open.push({ nesting, name });
    else if (what === "end") {
      const at = open.findLastIndex((t) => t.nesting === nesting && t.name === name);
      if (at >= 0) open.splice(at, 1);
    }
  }
  return open;
}

/** Counts from a file's TAP/spec summary lines ("# pass 12" / "ℹ pass 12"). */
function counts(output) {
  const n = (key) => {
    const m = new RegExp(`^(?:#|ℹ) ${key} (\\d+)$`, "m").exec(output);
    return m ? Number(m[1]) : 0;
  };
  return { tests: n("tests"), pass: n("pass"), fail: n("fail"), skipped: n("skipped") };
}

const files = [...pick(unit), ...pick(integration)];
// One file, or one at a time: its output streams as it runs.
const stream = files.length === 1 || concurrency === 1;
const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const index = next++;
    const file = files[index];
    if (!stream) process.stdout.write(`# file ${file}: started\n`);
    const r = await runFile(file, index, stream);
    results.push(r);
    if (!stream) {
      process.stdout.write(`# file ${file}: ${r.ok ? "ok" : "FAILED"} in ${r.seconds.toFixed(1)} s\n`);
      process.stdout.write(r.output.endsWith("\n") || r.output === "" ? r.output : `${r.output}\n`);
    }
    if (r.timedOut) {
      const open = stillRunning(index, file).map((t) => `${"  ".repeat(t.nesting)}${t.name}`);
      process.stdout.write(
        `not ok - ${file}: killed after ${fileTimeoutMs / 1000} s (GITGATE_TEST_FILE_TIMEOUT), still running:\n` +
          (open.length > 0
            ? open.map((t) => `#   ${t}\n`).join("")
            : "#   (no test had started: a file-level hook or import)\n"),
      );
    }
  }
}
const started = Date.now();
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

const failed = results.filter((r) => !r.ok);
{
  const total = results.reduce(
    (acc, r) => {
      const c = counts(r.output);
      return { tests: acc.tests + c.tests, pass: acc.pass + c.pass, fail: acc.fail + c.fail };
    },
    { tests: 0, pass: 0, fail: 0 },
  );
  const slowest = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 5);
  process.stdout.write(
    `\n# ${results.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
      `${total.tests} tests, ${total.pass} pass, ${total.fail} fail; ${failed.length} file(s) failed\n` +
      `# slowest: ${slowest.map((r) => `${r.file} ${r.seconds.toFixed(0)} s`).join(", ")}\n`,
  );
  for (const r of failed) {
    process.stdout.write(`# FAILED ${r.file}${r.timedOut ? " (timed out)" : ` (exit ${r.code})`}\n`);
    const index = files.indexOf(r.file);
    const fails = records(index).filter((x) => x.what === "fail");
    for (const f of fails.slice(0, SUMMARY_FAILS))
      process.stdout.write(
        `#   ${f.name}${f.kind ? ` [${f.kind}]` : ""}: ${f.reason.replace(/\n/g, "\n#     ")}\n`,
      );
    if (fails.length > SUMMARY_FAILS)
      process.stdout.write(`#   … and ${fails.length - SUMMARY_FAILS} more\n`);
  }
}
process.exitCode = failed.length > 0 ? 1 : 0;

// A skip is never silent, and under CI (`CI` set, as .ci/run does) it fails the run.
const skips = files.flatMap((_, index) => records(index).filter((r) => r.what === "skip"));
rmSync(recordDir, { recursive: true, force: true });
if (skips.length > 0) {
  const ci = Boolean(process.env.CI);
  process.stderr.write(`\n${skips.length} test(s) SKIPPED${ci ? " — not allowed under CI" : ""}:\n`);
  for (const s of skips)
    process.stderr.write(
      `  SKIPPED ${relative(root, s.file ?? "")}: ${s.name}${s.reason ? ` (${s.reason})` : ""}\n`,
    );
  if (ci && process.exitCode === 0) process.exitCode = 1;
}
