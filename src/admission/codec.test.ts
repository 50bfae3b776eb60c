import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DesiredEntry, DesiredIndexReader } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import { encodeResponse, parseReview } from "./codec.js";
import { decide } from "./decide.js";
import { outOfBandPatch } from "./mutate.js";
import type { AdmissionPolicy } from "./types.js";

function validReview(): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      kind: { group: "apps", version: "v1", kind: "Deployment" },
      resource: { group: "apps", version: "v1", resource: "deployments" },
      requestKind: { group: "apps", version: "v1", kind: "Deployment" },
      name: "web",
      namespace: "shop",
      operation: "UPDATE",
      userInfo: { username: "bob", uid: "1", groups: ["devs"], extra: { scopes: ["a"] } },
      object: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "shop", labels: { "gitgate.io/app": "g.shop" } },
        spec: { replicas: 3 },
      },
      oldObject: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "shop" },
        spec: { replicas: 2 },
      },
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "UpdateOptions" },
    },
  };
}

void describe("parseReview", () => {
  void it("accepts a real-shaped review and keeps the fields gitgate reads", () => {
    const parsed = parseReview(validReview());
    assert.ok(parsed.ok);
    assert.equal(parsed.request.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert.equal(parsed.request.operation, "UPDATE");
    assert.deepEqual(parsed.request.userInfo.groups, ["devs"]);
  });

  void it("gives objects without metadata (Scale, CONNECT options) an empty one", () => {
    const review = validReview();
    const request = review.request as Record<string, unknown>;
    request.subResource = "scale";
    request.object = { spec: { replicas: 1 } };
    const parsed = parseReview(review);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.request.object?.metadata, {});
  });

  const bad: Array<[string, (r: Record<string, unknown>) => unknown]> = [
    ["a string body", () => "hello"],
    ["an array body", () => []],
    ["null", () => null],
    ["the wrong apiVersion", (r) => ({ ...r, apiVersion: "admission.k8s.io/v1beta1" })],
    ["no request", (r) => ({ ...r, request: undefined })],
    ["a missing uid", (r) => ({ ...r, request: { ...(r.request as object), uid: undefined } })],
    ["a numeric uid", (r) => ({ ...r, request: { ...(r.request as object), uid: 7 } })],
    ["an unknown operation", (r) => ({ ...r, request: { ...(r.request as object), operation: "PATCH" } })],
    ["no username", (r) => ({ ...r, request: { ...(r.request as object), userInfo: { groups: [] } } })],
    [
      "non-string groups",
      (r) => ({ ...r, request: { ...(r.request as object), userInfo: { username: "x", groups: [1] } } }),
    ],
    ["an UPDATE without object", (r) => ({ ...r, request: { ...(r.request as object), object: null } })],
    [
      "labels that are not strings",
      (r) => ({ ...r, request: { ...(r.request as object), object: { metadata: { labels: { a: 1 } } } } }),
    ],
  ];
  for (const [name, make] of bad) {
    void it(`rejects ${name} with a message`, () => {
      const parsed = parseReview(JSON.parse(JSON.stringify(make(validReview())) ?? "null"));
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.ok(parsed.error.length > 10, parsed.error);
    });
  }
});

void describe("encodeResponse", () => {
  void it("produces the exact v1 shape", () => {
    assert.deepEqual(encodeResponse("u1", { allowed: true }), {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "u1", allowed: true },
    });
    const denied = encodeResponse("u2", {
      allowed: false,
      status: { code: 403, reason: "Forbidden", message: "no\nway" },
      warnings: ["a\r\nb", ...Array.from({ length: 20 }, () => "x".repeat(500))],
    });
    assert.deepEqual(denied.response.status, { code: 403, reason: "Forbidden", message: "no way" });
    assert.equal(denied.response.warnings?.[0], "a b");
    assert.equal(denied.response.warnings?.length, 10);
    assert.ok(denied.response.warnings?.every((w) => w.length <= 256 && !w.includes("\n")));
  });
});

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

void describe("hostile bodies", () => {
  const rand = prng(20250501);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const strings = [
    "",
    "__proto__",
    "constructor",
    "CREATE",
    "DELETE",
    "scale",
    "status",
    "gitgate.io/app",
    "a/b~1",
    "\u0000\n",
    "x".repeat(1000),
  ];
  function randomValue(depth: number): unknown {
    const r = rand();
    if (depth > 4 || r < 0.3) return pick<unknown>([null, true, false, 0, -1, 1e308, NaN, 3.5, ...strings]);
    if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(rand() * 5) }, () => [pick(strings), randomValue(depth + 1)]),
    );
  }
  /** Replaces one random node of the valid review with a random value. */
  function mutate(node: Record<string, unknown>, depth = 0): void {
    const keys = Object.keys(node);
    if (keys.length === 0) return;
    const key = pick(keys);
    const child = node[key];
    if (child && typeof child === "object" && !Array.isArray(child) && rand() < 0.7 && depth < 6) {
      mutate(child as Record<string, unknown>, depth + 1);
    } else if (rand() < 0.2) delete node[key];
    else node[key] = randomValue(0);
  }

  const anyEntry = (key: string): DesiredEntry => {
    const object: KubeObject = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "web",
        namespace: "shop",
        labels: { "gitgate.io/app": "g.shop" },
        annotations: { "gitgate.io/commit": "c" },
      },
      spec: {
        replicas: 2,
        template: { spec: { containers: [{ name: "a", image: "b", ports: [{ containerPort: 1 }] }] } },
      },
      data: { k: "dg==" },
    };
    return {
      key,
      ref: { group: "apps", kind: "Deployment", namespace: "shop", name: "web" },
      object,
      app: { namespace: "g", name: "shop" },
      source: { repoURL: "https://r", path: ".", file: "f.yaml", commit: "c".repeat(40) },
      mode: pick(["enforce", "warn", "audit"] as const),
      ignore: [{ jsonPointers: ["/spec/nothing", "bad"] }],
    };
  };
  const index: DesiredIndexReader = { get: anyEntry, isComplete: () => true };
  const policy: AdmissionPolicy = {
    selfUsername: "gitgate",
    exemptUsers: [],
    exemptGroups: [],
    defaultMode: "enforce",
    breakGlassGroups: ["__proto__"],
    breakGlassMaxSeconds: NaN,
    breakGlassDefaultSeconds: -1,
  };

  void it("1000 random bodies never throw, through parse, decide, mutate and encode", () => {
    let accepted = 0;
    for (let i = 0; i < 1000; i++) {
      let body: unknown;
      if (i % 4 === 0) body = randomValue(0);
      else {
        body = validReview();
        const request = (body as { request: Record<string, unknown> }).request;
        for (let m = 0; m < 1 + (i % 5); m++) {
          // Mostly inside the objects (free-form, so they reach decide()), sometimes anywhere.
          const r = rand();
          const target = r < 0.4 ? request.object : r < 0.7 ? request.oldObject : body;
          if (target && typeof target === "object") mutate(target as Record<string, unknown>);
        }
      }
      const parsed = parseReview(JSON.parse(JSON.stringify(body) ?? "null"));
      if (!parsed.ok) {
        assert.equal(typeof parsed.error, "string");
        continue;
      }
      accepted++;
      const now = new Date("2025-05-01T00:00:00Z");
      const decision = decide({ request: parsed.request, index, policy, now });
      outOfBandPatch(parsed.request, index, policy, now);
      const encoded = encodeResponse(parsed.request.uid, decision);
      assert.equal(typeof encoded.response.allowed, "boolean");
    }
    assert.ok(accepted > 50, `only ${accepted} bodies were accepted; the fuzz barely reached decide()`);
  });
});
