import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { freePort, startWatchdog } from "./processes.js";

describe("freePort", () => {
  it("draws ports below the kernel's ephemeral range, which outgoing connections never take", async () => {
    const [low] = (await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8")).trim().split(/\s+/);
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      assert.ok(port >= 10_000 && port < Number(low), `port ${port} not in [10000, ${low})`);
    }
  });

  it("gives a port that can be bound", async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});

describe("startWatchdog", () => {
  const sleeper = (cwd: string): ChildProcess => spawn("sleep", ["60"], { cwd, stdio: "ignore" });
  const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

  it("once its parent is gone, kills the recorded PIDs still running in the environment, and only those", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gitgate-watchdog-test-"));
    const outside = await mkdtemp(join(tmpdir(), "gitgate-watchdog-outside-"));
    const inside = sleeper(dir);
    // A recorded PID now running something else (as after PID reuse): not this environment's.
    const stranger = sleeper(outside);
    try {
      await writeFile(join(dir, "pids"), `${inside.pid}\n${stranger.pid}\n`);
      const parent = spawn("true");
      await once(parent, "exit");
      const insideGone = once(inside, "exit");
      startWatchdog(dir, parent.pid);
      const [, signal] = (await insideGone) as [number | null, NodeJS.Signals | null];
      assert.equal(signal, "SIGTERM", "the environment's process is stopped");
      for (let i = 0; i < 100 && (await stat(dir).catch(() => undefined)); i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(
        await stat(dir).catch(() => undefined),
        undefined,
        "the environment's directory is removed",
      );
      assert.ok(alive(stranger), "a process outside the environment lives on though its PID was recorded");
    } finally {
      inside.kill("SIGKILL");
      stranger.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
      await rm(outside, { recursive: true, force: true });
    }
  });
});
