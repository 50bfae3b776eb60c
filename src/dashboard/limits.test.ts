import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { FailedLogins, StreamsPerUser } from "./limits.js";

describe("dashboard: failed logins per address", () => {
  const cases: Array<{ name: string; failures: number[]; at: number; retryAfter: number }> = [
    { name: "below the limit", failures: [0, 1000], at: 2000, retryAfter: 0 },
    { name: "at the limit", failures: [0, 1000, 2000], at: 3000, retryAfter: 7 },
    { name: "the oldest failure left the window", failures: [0, 1000, 2000], at: 10_001, retryAfter: 0 },
    { name: "old failures do not count", failures: [0, 20_000, 21_000], at: 22_000, retryAfter: 0 },
    {
      name: "many failures: the window of the last three",
      failures: [0, 1, 2, 3, 5000],
      at: 5001,
      retryAfter: 6,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      let now = 0;
      const limiter = new FailedLogins({ max: 3, windowMs: 10_000 }, () => now);
      for (const t of c.failures) {
        now = t;
        limiter.failed("10.0.0.1");
      }
      now = c.at;
      assert.equal(limiter.retryAfter("10.0.0.1"), c.retryAfter);
      assert.equal(limiter.retryAfter("10.0.0.2"), 0, "another address is not limited");
    });
});

describe("dashboard: live streams per user", () => {
  it("refuses the user's stream past the limit, not another user's; a closed one frees a slot", () => {
    const streams = new StreamsPerUser(2);
    assert.deepEqual(
      [streams.take("alice"), streams.take("alice"), streams.take("alice")],
      [true, true, false],
    );
    assert.equal(streams.take("bob"), true);
    streams.release("alice");
    assert.equal(streams.take("alice"), true);
    assert.equal(streams.count("alice"), 2);
  });
});
