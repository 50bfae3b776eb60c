#!/usr/bin/env node
// Runs node's built-in test runner over TypeScript test files (via tsx).
//   unit:        src/**/*.test.ts   (module tests: pure logic, plus real git/helm/kubectl where a module runs them)
//   integration: test/**/*.test.ts  (real control plane, Git server, kubectl, helm)
//   all:         both
// Extra arguments are passed through as file filters (substring match).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
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

// Skipped tests are collected by scripts/skip-reporter.mjs next to the usual reporter.
const skipDir = mkdtempSync(join(tmpdir(), "gitgate-skips-"));
const skipFile = join(skipDir, "skips.jsonl");

function run(files, concurrency) {
  if (files.length === 0) return Promise.resolve(0);
  const reporter = process.stdout.isTTY ? "spec" : "tap";
  const args = [
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${concurrency}`,
    `--test-reporter=${reporter}`,
    "--test-reporter-destination=stdout",
    `--test-reporter=${join(root, "scripts", "skip-reporter.mjs")}`,
    `--test-reporter-destination=${skipFile}`,
    ...files,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

// One node --test run keeps a single summary; integration files each start a control plane, so
// they run two at a time on these 2-core machines.
const files = [...pick(unit), ...pick(integration)];
const concurrency = Number(process.env.GITGATE_TEST_CONCURRENCY ?? 2);
process.exitCode = await run(files, concurrency);

// A skip is never silent, and under CI (`CI` set, as .ci/run does) it fails the run.
let skips = [];
try {
  skips = readFileSync(skipFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
} catch {
  skips = [];
}
rmSync(skipDir, { recursive: true, force: true });
if (skips.length > 0) {
  const ci = Boolean(process.env.CI);
  process.stderr.write(`\n${skips.length} test(s) SKIPPED${ci ? " — not allowed under CI" : ""}:\n`);
  for (const s of skips)
    process.stderr.write(
      `  SKIPPED ${relative(root, s.file ?? "")}: ${s.name}${s.reason ? ` (${s.reason})` : ""}\n`,
    );
  if (ci && process.exitCode === 0) process.exitCode = 1;
}
