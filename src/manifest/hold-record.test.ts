import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { signHold, verifiedHold } from "./hold-record.js";
import { LAST_CHANGE_ANNOTATION } from "./labels.js";
import type { KubeObject } from "./object.js";

const SECRET = "shared-by-every-replica";
const KEY = "apps/Deployment/shop/web";
const now = new Date("2026-01-01T00:00:00Z");
const later = new Date("2026-01-01T01:00:00Z");

const withRecord = (record: unknown): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "web",
    namespace: "shop",
    annotations: { [LAST_CHANGE_ANNOTATION]: JSON.stringify(record) },
  },
});
const withHold = (edit: Record<string, unknown>): unknown => {
  const record = signed() as { breakGlass: Record<string, unknown> };
  return { ...record, breakGlass: { ...record.breakGlass, ...edit } };
};
const signed = (user = "bob", key = KEY, secret = SECRET, until = later, reason = "INC-42"): unknown => ({
  user,
  fields: ["spec.replicas"],
  time: now.toISOString(),
  breakGlass: signHold(secret, key, user, until, reason),
});

void describe("verifiedHold", () => {
  const cases: Array<[string, KubeObject, Date, boolean]> = [
    ["a grant signed for this object is honoured until it expires", withRecord(signed()), now, true],
    ["not after it expired", withRecord(signed()), later, false],
    [
      "not with another key (a user forging the annotation)",
      withRecord(signed("bob", KEY, "guessed")),
      now,
      false,
    ],
    [
      "not for another object (a record copied over)",
      withRecord(signed("bob", "apps/Deployment/shop/other")),
      now,
      false,
    ],
    ["not when the user was edited", withRecord({ ...(signed() as object), user: "mallory" }), now, false],
    [
      "not when the expiry was pushed later (still a valid time, only the signature is wrong)",
      withRecord(withHold({ until: "2026-01-01T09:00:00.000Z" })),
      now,
      false,
    ],
    ["not when the reason was edited", withRecord(withHold({ reason: "INC-43" })), now, false],
    ["not when a grantee was added", withRecord(withHold({ grantee: "mallory" })), now, false],
    ["not without a grant", withRecord({ user: "bob", fields: [], time: now.toISOString() }), now, false],
    [
      "not from a malformed annotation",
      { ...withRecord({}), metadata: { annotations: { [LAST_CHANGE_ANNOTATION]: "{nope" } } },
      now,
      false,
    ],
  ];
  for (const [name, live, at, want] of cases)
    it(name, () => assert.equal(verifiedHold(live, KEY, SECRET, at) !== undefined, want));

  it("returns who, why and until when", () => {
    assert.deepEqual(verifiedHold(withRecord(signed()), KEY, SECRET, now), {
      username: "bob",
      reason: "INC-42",
      expiresAt: later,
    });
  });

  it("signs HMAC-SHA256 over key, user, expiry and reason, one per line (an oracle computed here)", () => {
    const hold = signHold(SECRET, KEY, "bob", later, "INC-42");
    const payload = `${KEY}\nbob\n2026-01-01T01:00:00.000Z\nINC-42`;
    assert.deepEqual(hold, {
      until: "2026-01-01T01:00:00.000Z",
      reason: "INC-42",
      sig: createHmac("sha256", SECRET).update(payload).digest("hex"),
    });
  });
});
