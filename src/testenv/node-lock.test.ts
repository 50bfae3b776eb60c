import { strict as assert } from "node:assert";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { acquireNodeLock, lockState, pidAlive } from "./node-lock.js";

describe("node lock: what a lock file means", () => {
  const alive = (pid: number): boolean => pid === 100;
  const cases: Array<[string, string | undefined, ReturnType<typeof lockState>]> = [
    ["no file: free", undefined, { kind: "free" }],
    ["a live owner: held", "100\n", { kind: "held", pid: 100 }],
    ["a dead owner: stale, taken over", "200\n", { kind: "stale", pid: 200 }],
    ["empty (owner died while writing): stale", "", { kind: "stale" }],
    ["garbage: stale", "not a pid", { kind: "stale" }],
    ["PID 0: stale", "0\n", { kind: "stale" }],
    ["a huge file is not parsed whole", `${"9".repeat(100000)}\n`, { kind: "stale" }],
  ];
  for (const [name, content, want] of cases) {
    it(name, () => assert.deepEqual(lockState(content, alive), want));
  }
  it("pidAlive: this process yes, an unused PID no", () => {
    assert.equal(pidAlive(process.pid), true);
    assert.equal(pidAlive(2 ** 22 + 12345), false);
  });
});

describe("node lock: one owner at a time", () => {
  it("a second taker waits until the first releases; a dead owner's lock is taken over", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gitgate-node-lock-"));
    const path = join(dir, "node.lock");
    try {
      const first = await acquireNodeLock(path, 5000);
      assert.equal((await readFile(path, "utf8")).trim(), String(process.pid));
      let secondHeld = false;
      const second = acquireNodeLock(path, 5000).then((l) => {
        secondHeld = true;
        return l;
      });
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(secondHeld, false, "the second waits while the first holds it");
      await first.release();
      const lock2 = await second;
      assert.equal(secondHeld, true);
      await lock2.release();
      await assert.rejects(readFile(path, "utf8"), "released");

      await writeFile(path, `${2 ** 22 + 12345}\n`);
      const taken = await acquireNodeLock(path, 2000);
      assert.equal((await readFile(path, "utf8")).trim(), String(process.pid), "stale lock taken over");
      // A live owner that never releases: the waiter gives up, bounded, naming it.
      await assert.rejects(
        acquireNodeLock(path, 600),
        /another node \(PID \d+, lock .*\) still runs after 1 s/,
      );
      await taken.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
