/** A test killed with SIGKILL leaves nothing behind: its watchdog (or the next run's sweep) reaps it. */
import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";

const child = `
import { startControlPlane } from ${JSON.stringify(new URL("../src/testenv/controlplane.ts", import.meta.url).pathname)};
const cp = await startControlPlane({ controllerManager: false });
process.stdout.write(cp.dir + "\\n");
setInterval(() => {}, 1000);
`;

function processesUsing(dir: string): string[] {
  return execFileSync("ps", ["-eo", "pid,args"])
    .toString()
    .split("\n")
    .filter((l) => l.includes(dir) && !l.includes("gitgate-watchdog"));
}

describe("killed test run", () => {
  it("leaves no etcd or kube-apiserver behind", async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const dir = await new Promise<string>((resolve, reject) => {
      let out = "";
      proc.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      proc.on("exit", (code) => reject(new Error(`child exited early (${code})`)));
    });
    assert.ok(processesUsing(dir).length >= 2, "etcd and kube-apiserver were running");
    proc.kill("SIGKILL");
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (processesUsing(dir).length > 0 || existsSync(dir)))
      await new Promise((r) => setTimeout(r, 250));
    assert.deepEqual(processesUsing(dir), []);
    assert.equal(existsSync(dir), false);
  });
});
