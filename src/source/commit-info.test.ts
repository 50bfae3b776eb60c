import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { commitInfoOf, CommitLog } from "./commit-info.js";

describe("commit info for the dashboard", () => {
  const cases: Array<{ name: string; message: string; author: string; subject: string; who: string }> = [
    {
      name: "first line only",
      message: "Fix the port\n\nLong body",
      author: "Ada",
      subject: "Fix the port",
      who: "Ada",
    },
    { name: "empty message", message: "", author: "Ada", subject: "", who: "Ada" },
    {
      name: "control characters flattened",
      message: "a\tb\u001b[31mc\n",
      author: "E\u0007ve",
      subject: "a b [31mc",
      who: "E ve",
    },
    {
      name: "a long subject is capped",
      message: "x".repeat(5000),
      author: "y".repeat(500),
      subject: `${"x".repeat(200)}…`,
      who: `${"y".repeat(100)}…`,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const info = commitInfoOf({ message: c.message, author: { name: c.author, timestamp: 1_700_000_000 } });
      assert.equal(info.subject, c.subject);
      assert.equal(info.author, c.who);
      assert.equal(info.time, "2023-11-14T22:13:20.000Z");
    });

  it("keeps at most N commits, the least recently stored going first", () => {
    const log = new CommitLog(2);
    const info = { subject: "s", author: "a", time: "t" };
    log.set("a", info);
    log.set("b", info);
    log.set("a", info);
    log.set("c", info);
    assert.equal(log.has("b"), false);
    assert.equal(log.has("a") && log.has("c"), true);
  });
});
