import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lookupKey, SharedLookups } from "./ref-lookups.js";

/** A remote that counts lookups and answers each when the test says so. */
function fakeRemote(): {
  calls: number;
  op: () => Promise<string>;
  answer: (value: string) => void;
  fail: (err: Error) => void;
} {
  const pending: Array<{ resolve: (v: string) => void; reject: (e: Error) => void }> = [];
  const remote = {
    calls: 0,
    op: () => {
      remote.calls++;
      return new Promise<string>((resolve, reject) => pending.push({ resolve, reject }));
    },
    answer: (value: string) => {
      for (const p of pending.splice(0)) p.resolve(value);
    },
    fail: (err: Error) => {
      for (const p of pending.splice(0)) p.reject(err);
    },
  };
  return remote;
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const REPO = "https://git.example/team/mono.git";
const KEY = lookupKey(REPO, "main", undefined, false);

void describe("SharedLookups", () => {
  void it("20 lookups at once cost one", async () => {
    const remote = fakeRemote();
    const lookups = new SharedLookups<string>(5_000, 60_000);
    const all = Array.from({ length: 20 }, () => lookups.run(KEY, REPO, remote.op));
    await flush();
    remote.answer("c1");
    assert.deepEqual(await Promise.all(all), Array(20).fill("c1"));
    assert.equal(remote.calls, 1);
  });

  // [what, window, ms after the first lookup started, lookups made in all]
  const windows: Array<[string, number, number, number]> = [
    ["within the window: shared", 5_000, 4_999, 1],
    ["at the window's end: asked again", 5_000, 5_000, 2],
    ["long after: asked again", 5_000, 60_000, 2],
    ["window 0: only lookups running at once are shared", 0, 1, 2],
  ];
  for (const [what, windowMs, later, calls] of windows) {
    void it(what, async () => {
      let now = 1_000_000;
      const remote = fakeRemote();
      const lookups = new SharedLookups<string>(windowMs, 60_000, () => now);
      const first = lookups.run(KEY, REPO, remote.op);
      await flush();
      remote.answer("c1");
      assert.equal(await first, "c1");
      now += later;
      const second = lookups.run(KEY, REPO, remote.op);
      await flush();
      remote.answer("c2");
      assert.equal(await second, calls === 1 ? "c1" : "c2");
      assert.equal(remote.calls, calls);
    });
  }

  void it("a lookup running longer than the window is still shared while it runs", async () => {
    let now = 0;
    const remote = fakeRemote();
    const lookups = new SharedLookups<string>(1_000, 60_000, () => now);
    const first = lookups.run(KEY, REPO, remote.op);
    now = 30_000;
    const second = lookups.run(KEY, REPO, remote.op);
    await flush();
    remote.answer("c1");
    assert.deepEqual([await first, await second], ["c1", "c1"]);
    assert.equal(remote.calls, 1);
    // Settled 30 s after it started: past its window, so the next lookup asks again.
    await flush();
    void lookups.run(KEY, REPO, remote.op);
    await flush();
    assert.equal(remote.calls, 2);
  });

  void it("a push ends the sharing: a lookup after it is asked afresh, even while one from before runs", async () => {
    const remote = fakeRemote();
    const lookups = new SharedLookups<string>(60_000, 60_000);
    const before = lookups.run(KEY, REPO, remote.op);
    await flush();
    // Push payloads name the repository in other forms (web URL, no .git): the same repository.
    assert.equal(lookups.invalidate("https://git.example/team/mono"), 1);
    const afterPush = lookups.run(KEY, REPO, remote.op);
    await flush();
    assert.equal(remote.calls, 2);
    remote.answer("c2");
    assert.deepEqual([await before, await afterPush], ["c2", "c2"]);
    // The one from after the push is the one shared now, not the one from before.
    const later = lookups.run(KEY, REPO, remote.op);
    assert.equal(await later, "c2");
    assert.equal(remote.calls, 2);
  });

  void it("a push to another repository ends nothing", async () => {
    const remote = fakeRemote();
    const lookups = new SharedLookups<string>(60_000, 60_000);
    const first = lookups.run(KEY, REPO, remote.op);
    await flush();
    remote.answer("c1");
    await first;
    assert.equal(lookups.invalidate("https://git.example/team/other.git"), 0);
    assert.equal(lookups.invalidate("git@git.example:team/mono.git"), 1, "its SSH URL: the same repository");
    assert.equal(lookups.size, 0);
  });

  void it("a failure reaches the lookups waiting on it, and is never kept", async () => {
    const remote = fakeRemote();
    const lookups = new SharedLookups<string>(60_000, 60_000);
    const a = lookups.run(KEY, REPO, remote.op);
    const b = lookups.run(KEY, REPO, remote.op);
    await flush();
    remote.fail(new Error("server down"));
    await assert.rejects(a, /server down/);
    await assert.rejects(b, /server down/);
    await flush();
    const c = lookups.run(KEY, REPO, remote.op);
    await flush();
    remote.answer("c1");
    assert.equal(await c, "c1");
    assert.equal(remote.calls, 2);
  });

  void it("an operation that throws at once is a rejected lookup, not a crash", async () => {
    const lookups = new SharedLookups<string>(60_000, 60_000);
    await assert.rejects(
      lookups.run(KEY, REPO, () => {
        throw new Error("bad URL");
      }),
      /bad URL/,
    );
  });

  void it("keeps at most `max` keys", async () => {
    const lookups = new SharedLookups<string>(60_000, 60_000, Date.now, 3);
    for (const rev of ["a", "b", "c", "d", "e"]) {
      await lookups.run(lookupKey(REPO, rev, undefined, false), REPO, () => Promise.resolve(rev));
    }
    assert.equal(lookups.size, 3);
  });
});

void describe("lookupKey", () => {
  const base = lookupKey(REPO, "main", { username: "u", password: "p" }, false);
  // Each differs from `base` in one thing that decides who may see the answer, or what it is.
  const others: Array<[string, string]> = [
    ["no credentials", lookupKey(REPO, "main", undefined, false)],
    ["another password", lookupKey(REPO, "main", { username: "u", password: "q" }, false)],
    ["another user", lookupKey(REPO, "main", { username: "v", password: "p" }, false)],
    ["a token instead", lookupKey(REPO, "main", { username: "u", token: "p" }, false)],
    ["another CA", lookupKey(REPO, "main", { username: "u", password: "p", caCert: "PEM" }, false)],
    ["TLS unchecked", lookupKey(REPO, "main", { username: "u", password: "p" }, true)],
    ["another revision", lookupKey(REPO, "dev", { username: "u", password: "p" }, false)],
    ["another repository", lookupKey(`${REPO}x`, "main", { username: "u", password: "p" }, false)],
    ["an SSH key", lookupKey(REPO, "main", { username: "u", password: "p", sshPrivateKey: "KEY" }, false)],
    ["known hosts", lookupKey(REPO, "main", { username: "u", password: "p", knownHosts: "h" }, false)],
  ];
  for (const [what, key] of others) void it(`${what}: another key`, () => assert.notEqual(key, base));
  void it("the same identity: the same key, holding no secret", () => {
    assert.equal(lookupKey(REPO, "main", { username: "u", password: "p" }, false), base);
    assert.match(base, /^[0-9a-f]{64}$/);
  });
  void it("fields cannot run into each other", () => {
    assert.notEqual(
      lookupKey(REPO, "main", { username: "ab", password: "c" }, false),
      lookupKey(REPO, "main", { username: "a", password: "bc" }, false),
    );
  });
});
