import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** scripts/run-tests.mjs as `npm test -- <substring>` runs it: real child processes, TAP on stdout. */
function runTests(
  args: string[],
  opts: { root?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = opts.root ?? ROOT;
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [join(root, "scripts/run-tests.mjs"), ...args],
      // Without NODE_TEST_CONTEXT, which would make the nested runner report to this one.
      {
        cwd: root,
        timeout: 120_000,
        env: { ...process.env, CI: "", NODE_TEST_CONTEXT: undefined, ...opts.env },
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

/**
 * A test file for the concurrency probe: it logs `start` and `end` lines to PROBE_LOG. In between it
 * waits until as many files run as GITGATE_TEST_CONCURRENCY (N) allows of those left (at most 5 s),
 * so reaching N is seen, not hoped for; then, until 1 s after its start, for one file more than
 * allowed, so a runner that starts too many is caught even when their starts are a little apart.
 */
const PROBE = `import { appendFileSync, readFileSync } from "node:fs";
import { test } from "node:test";
const { PROBE_LOG: log = "", PROBE_FILES: files, GITGATE_TEST_CONCURRENCY: n } = process.env;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function running(atLeast) {
  const lines = readFileSync(log, "utf8").split("\\n");
  const ended = lines.filter((l) => l.startsWith("end ")).length;
  const now = lines.filter((l) => l.startsWith("start ")).length - ended;
  return now >= Math.min(atLeast, Number(files) - ended);
}
test("probe", async () => {
  appendFileSync(log, "start " + import.meta.url + "\\n");
  const began = Date.now();
  while (!running(Number(n)) && Date.now() - began < 5000) await sleep(20);
  while (!running(Number(n) + 1) && Date.now() - began < 1000) await sleep(20);
  appendFileSync(log, "end " + import.meta.url + "\\n");
});
`;

/** The most files running at once, from the probe log's start and end lines in the order written. */
function mostAtOnce(log: string): number {
  let running = 0;
  let most = 0;
  for (const line of log.split("\n")) {
    if (line.startsWith("start ")) most = Math.max(most, ++running);
    else if (line.startsWith("end ")) running--;
  }
  return most;
}

void describe("scripts/run-tests.mjs", () => {
  void it("runs only the files matching the substring (`npm test -- <substring>`)", async () => {
    const r = await runTests(["unit", "manifest/hold-record"]);
    assert.equal(r.code, 0, r.stderr);
    const suites = [...r.stdout.matchAll(/^ok \d+ - (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(suites, ["verifiedHold"]);
    assert.match(r.stdout, /^# suites 1$/m);
    assert.match(r.stdout, /^# skipped 0$/m);
    assert.doesNotMatch(r.stderr, /SKIPPED/);
  });

  // The runner itself, copied into a scratch project whose src/ holds only the given test files.
  async function scratch(files: Record<string, string>): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), "gitgate-run-tests-"));
    await mkdir(join(root, "scripts"));
    await mkdir(join(root, "src"));
    for (const script of ["run-tests.mjs", "record-reporter.mjs"])
      await copyFile(join(ROOT, "scripts", script), join(root, "scripts", script));
    await symlink(join(ROOT, "node_modules"), join(root, "node_modules"));
    for (const [name, text] of Object.entries(files)) await writeFile(join(root, "src", name), text);
    return root;
  }

  void it("kills a file that runs past GITGATE_TEST_FILE_TIMEOUT and fails the run naming it; the other files finish", async () => {
    const root = await scratch({
      "hangs.test.ts": `import { describe, it } from "node:test";
describe("a suite", () => {
  it("passes first", () => {});
  it("waits forever", () => new Promise(() => void setInterval(() => {}, 1000)));
});
`,
      "passes.test.ts": `import { test } from "node:test";\ntest("passes", () => {});\n`,
    });
    try {
      const began = Date.now();
      // 20 s: a loaded machine must still start and end the passing file within the limit.
      const r = await runTests(["unit"], { root, env: { GITGATE_TEST_FILE_TIMEOUT: "20" } });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.ok(Date.now() - began < 100_000, "killed, not waited for");
      assert.match(
        r.stdout,
        /^not ok - src\/hangs\.test\.ts: killed after 20 s \(GITGATE_TEST_FILE_TIMEOUT\), still running:\n# {3}a suite\n# {5}waits forever\n/m,
      );
      assert.match(r.stdout, /^# FAILED src\/hangs\.test\.ts \(timed out\)$/m);
      // Its output so far is shown.
      assert.match(r.stdout, /^ {4}ok 1 - passes first$/m);
      assert.match(r.stdout, /^# file src\/passes\.test\.ts: ok in /m);
      assert.match(r.stdout, /^# 2 files in .*: 1 tests, 1 pass, 0 fail; 1 file\(s\) failed$/m);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  const cases: Array<[concurrency: number, files: number]> = [
    [1, 2],
    [2, 3],
  ];
  for (const [concurrency, files] of cases)
    void it(`GITGATE_TEST_CONCURRENCY=${concurrency} runs ${concurrency} of ${files} files at once, never more`, async () => {
      const root = await scratch(
        Object.fromEntries(Array.from({ length: files }, (_, i) => [`probe-${i}.test.ts`, PROBE])),
      );
      try {
        const log = join(root, "probe.log");
        await writeFile(log, "");
        const r = await runTests(["unit"], {
          root,
          env: {
            GITGATE_TEST_CONCURRENCY: String(concurrency),
            PROBE_LOG: log,
            PROBE_FILES: String(files),
          },
        });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(
          r.stdout,
          new RegExp(`^# ${files} files in .*: ${files} tests, ${files} pass, 0 fail; 0 file`, "m"),
        );
        const text = await readFile(log, "utf8");
        assert.equal(text.match(/^end /gm)?.length, files, text);
        assert.equal(mostAtOnce(text), concurrency, text);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
});
