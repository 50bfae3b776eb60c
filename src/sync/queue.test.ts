import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../log/logger.js";
import { WorkQueue } from "./queue.js";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A queue whose work records each key it runs (in order) and asks to run again in a minute. */
function recordingQueue(workers: number): { queue: WorkQueue; runs: string[] } {
  const runs: string[] = [];
  const queue = new WorkQueue(
    (key) => {
      runs.push(key);
      return Promise.resolve(60_000);
    },
    workers,
    silentLogger,
  );
  return { queue, runs };
}

void describe("WorkQueue", () => {
  void it("hold(): keys are queued and none starts until release()", async () => {
    const { queue, runs } = recordingQueue(4);
    try {
      queue.hold();
      queue.add("a");
      queue.add("b");
      await tick(20);
      assert.deepEqual(runs, []);
      queue.release();
      await queue.whenIdle();
      assert.deepEqual(runs, ["a", "b"]);
    } finally {
      queue.stop();
    }
  });

  void it("runs a key added while it runs once more, never twice at once", async () => {
    const runs: string[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const gate = deferred();
    const queue = new WorkQueue(
      async (key) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        runs.push(key);
        if (runs.length === 1) await gate.promise;
        concurrent--;
        return 60_000;
      },
      4,
      silentLogger,
    );
    try {
      queue.add("a");
      await tick(20);
      assert.equal(queue.isActive("a"), true);
      queue.add("a"); // a change seen mid-run: the run may have read the old state
      queue.add("a"); // coalesced with the one above
      gate.resolve();
      await queue.whenIdle();
      assert.deepEqual(runs, ["a", "a"]);
      assert.equal(maxConcurrent, 1);
    } finally {
      queue.stop();
    }
  });

  void it("bounds the number of keys running at once", async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    const queue = new WorkQueue(
      async () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await tick(10);
        concurrent--;
        return 60_000;
      },
      2,
      silentLogger,
    );
    try {
      for (const key of ["a", "b", "c", "d", "e"]) queue.add(key);
      await tick(20);
      await queue.whenIdle();
      assert.equal(maxConcurrent, 2);
    } finally {
      queue.stop();
    }
  });

  void it("backs off exponentially after failures and resets after a success", async () => {
    const at: number[] = [];
    let calls = 0;
    const queue = new WorkQueue(
      () => {
        at.push(Date.now());
        calls++;
        if (calls === 3) return Promise.reject(new Error("crash is a failure too"));
        return Promise.resolve(calls <= 3 ? undefined : 60_000);
      },
      1,
      silentLogger,
      { baseMs: 20, maxMs: 1000 },
    );
    try {
      queue.add("a");
      for (let i = 0; i < 200 && calls < 4; i++) await tick(10);
      assert.equal(calls, 4);
      // Gaps of at least 20 ms then 40 ms then 80 ms (lower bounds only: the machine may be slow).
      assert.ok(at[1]! - at[0]! >= 18, `first retry after ${at[1]! - at[0]!} ms`);
      assert.ok(at[2]! - at[1]! >= 38, `second retry after ${at[2]! - at[1]!} ms`);
      assert.ok(at[3]! - at[2]! >= 78, `third retry after ${at[3]! - at[2]!} ms`);
    } finally {
      queue.stop();
    }
  });

  void it("keeps the sooner of two due times and forgets removed keys", async () => {
    const { queue, runs } = recordingQueue(1);
    try {
      queue.add("a", 60_000);
      queue.add("a", 0); // sooner wins
      queue.add("b", 30);
      queue.forget("b");
      await tick(80);
      assert.deepEqual(runs, ["a"]);
    } finally {
      queue.stop();
    }
  });

  void it("after stop, drained waits for the handler still running, and is bounded", async () => {
    const gate = deferred();
    let finished = false;
    const queue = new WorkQueue(
      async () => {
        await gate.promise;
        finished = true;
        return 60_000;
      },
      1,
      silentLogger,
    );
    queue.add("a", 0);
    await tick(20);
    queue.stop();
    const started = Date.now();
    await queue.drained(50); // the handler is still blocked: the bound ends the wait
    assert.ok(Date.now() - started >= 45);
    assert.equal(finished, false);
    setTimeout(gate.resolve, 20);
    await queue.drained(5_000);
    assert.equal(finished, true);
    await queue.drained(10); // nothing runs: resolves at once
  });

  // A push enqueues every GitApp of a repository; those it changed run first (changed-first.ts).
  // [what, keys added plain, keys added first (after them), what is already running, expected order]
  const lanes: Array<{ what: string; plain: string[]; first: string[]; expected: string[] }> = [
    { what: "no key first: order of adding", plain: ["a", "b", "c"], first: [], expected: ["a", "b", "c"] },
    {
      what: "a key added first starts before the plain ones",
      plain: ["a", "b", "c"],
      first: ["x"],
      expected: ["x", "a", "b", "c"],
    },
    {
      what: "first keys keep their order",
      plain: ["a", "b"],
      first: ["x", "y"],
      expected: ["x", "y", "a", "b"],
    },
    {
      what: "a queued key added again first moves ahead",
      plain: ["a", "b", "c"],
      first: ["c"],
      expected: ["c", "a", "b"],
    },
  ];
  for (const c of lanes) {
    void it(`lanes: ${c.what}`, async () => {
      const { queue, runs } = recordingQueue(1);
      try {
        queue.hold(); // everything is due before any starts, as when workers are busy
        for (const key of c.plain) queue.add(key);
        await tick(10);
        for (const key of c.first) queue.add(key, 0, true);
        await tick(10);
        queue.release();
        await queue.whenIdle();
        assert.deepEqual(runs, c.expected);
      } finally {
        queue.stop();
      }
    });
  }

  void it("lanes: prioritize() on a running key puts its next run first, once", async () => {
    const runs: string[] = [];
    const gate = deferred();
    const queue = new WorkQueue(
      async (key) => {
        runs.push(key);
        if (key === "x" && runs.length === 1) await gate.promise;
        return 60_000;
      },
      1,
      silentLogger,
    );
    try {
      queue.add("x");
      await tick(10);
      assert.equal(queue.isActive("x"), true);
      queue.add("a");
      queue.add("b");
      await tick(10);
      queue.prioritize("x"); // a push that changed x arrived while x ran
      queue.add("x", 0); // the run the push asked for, due at once when x ends
      gate.resolve();
      await queue.whenIdle();
      assert.deepEqual(runs, ["x", "x", "a", "b"]);
      // Cleared when it started: a plain add later waits its turn again.
      runs.length = 0;
      queue.hold();
      queue.add("a", 0);
      await tick(10);
      queue.add("x", 0);
      await tick(10);
      queue.release();
      await queue.whenIdle();
      assert.deepEqual(runs, ["a", "x"]);
    } finally {
      queue.stop();
    }
  });
});
