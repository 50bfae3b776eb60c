import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GitApp } from "../api/gitapp.js";
import { afterStatusWrite, afterWatchEvent } from "./apps.js";

function app(rv: string, generation: number, revision: string): GitApp {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name: "a", namespace: "ns", uid: "u", resourceVersion: rv, generation },
    spec: { source: { repoURL: "https://git.example/r.git", path: `gen-${generation}` } },
    status: { revision },
  };
}

/** What the controller's copy says: which version, which spec generation, which status. */
function seen(got: GitApp): { rv?: string; gen?: number; rev?: string } {
  return { rv: got.metadata.resourceVersion, gen: got.metadata.generation, rev: got.status?.revision };
}

describe("the controller's copy of a GitApp", () => {
  it("a watch event older than gitgate's own status write keeps that status, takes the spec", () => {
    const cases: Array<[string, GitApp | undefined, GitApp, { rv: string; gen: number; rev: string }]> = [
      ["nothing held", undefined, app("5", 1, "old"), { rv: "5", gen: 1, rev: "old" }],
      ["a newer event", app("5", 1, "old"), app("7", 2, "new"), { rv: "7", gen: 2, rev: "new" }],
      ["the write's own event", app("7", 1, "mine"), app("7", 1, "mine"), { rv: "7", gen: 1, rev: "mine" }],
      [
        "an older event (watch lag)",
        app("9", 1, "mine"),
        app("8", 1, "stale"),
        { rv: "9", gen: 1, rev: "mine" },
      ],
      [
        "an older event with a new spec",
        app("9", 1, "mine"),
        app("8", 2, "stale"),
        { rv: "9", gen: 2, rev: "mine" },
      ],
      [
        "opaque versions: the event wins",
        app("x9", 1, "mine"),
        app("x8", 1, "theirs"),
        { rv: "x8", gen: 1, rev: "theirs" },
      ],
    ];
    for (const [name, held, incoming, want] of cases) {
      const got = afterWatchEvent(held, incoming);
      assert.deepEqual(seen(got), want, name);
      assert.equal(got.spec.source.path, incoming.spec.source.path, `${name}: spec from the event`);
    }
  });

  it("a status write keeps the newest spec held; a write the watch already passed changes nothing", () => {
    const cases: Array<[string, GitApp, GitApp, { rv: string; gen: number; rev: string }]> = [
      [
        "after the held version",
        app("5", 2, "old"),
        app("6", 1, "written"),
        { rv: "6", gen: 2, rev: "written" },
      ],
      ["the watch is ahead", app("8", 2, "later"), app("6", 1, "written"), { rv: "8", gen: 2, rev: "later" }],
    ];
    for (const [name, held, written, want] of cases) {
      assert.deepEqual(seen(afterStatusWrite(held, written)), want, name);
    }
  });
});
