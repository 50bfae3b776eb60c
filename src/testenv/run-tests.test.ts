import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** scripts/run-tests.mjs as `npm test -- <substring>` runs it: real child processes, TAP on stdout. */
function runTests(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ["scripts/run-tests.mjs", ...args],
      // Without NODE_TEST_CONTEXT, which would make the nested runner report to this one.
      { cwd: ROOT, timeout: 120_000, env: { ...process.env, CI: "", NODE_TEST_CONTEXT: undefined } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
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
});
