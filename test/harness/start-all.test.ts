import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startAll } from "./start-all.js";

/** A part that records whether it was stopped. */
function part(name: string, stopped: string[]): { name: string; stop: () => Promise<void> } {
  return { name, stop: () => Promise.resolve(void stopped.push(name)) };
}

describe("startAll", () => {
  it("returns every part, in order, when all start", async () => {
    const stopped: string[] = [];
    const [a, b, n] = await startAll([
      Promise.resolve(part("a", stopped)),
      Promise.resolve(part("b", stopped)),
      Promise.resolve(7),
    ] as const);
    assert.deepEqual([a.name, b.name, n], ["a", "b", 7]);
    assert.deepEqual(stopped, []);
  });

  it("stops the parts that started when one fails, and rethrows that failure", async () => {
    const stopped: string[] = [];
    await assert.rejects(
      startAll([
        Promise.resolve(part("git", stopped)),
        Promise.reject(new Error("kube-apiserver not ready: address already in use")),
        Promise.resolve("tools without stop"),
        Promise.resolve(part("other", stopped)),
      ] as const),
      /address already in use/,
    );
    assert.deepEqual(stopped.sort(), ["git", "other"]);
  });

  it("a part whose stop fails does not hide the start failure", async () => {
    const failing = { stop: () => Promise.reject(new Error("stop failed")) };
    await assert.rejects(
      startAll([Promise.resolve(failing), Promise.reject(new Error("etcd not listening"))] as const),
      /etcd not listening/,
    );
  });
});
