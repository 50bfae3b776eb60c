import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import type { DesiredEntry, DesiredIndexReader, EnforcementMode } from "../manifest/desired.js";
import { keyOf, refOf, type KubeObject } from "../manifest/object.js";
import { encodeResponse } from "./codec.js";
import { decide } from "./decide.js";
import { verifiedHold } from "../manifest/hold-record.js";
import { outOfBandPatch, setAnnotationPatch } from "./mutate.js";
import type { AdmissionPolicy, AdmissionRequest, JsonPatchOp } from "./types.js";

const NOW = new Date("2025-05-01T12:00:00Z");
const git: KubeObject = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "settings", namespace: "app", labels: { "gitgate.io/app": "gitgate-system.app" } },
  data: { level: "info" },
};

function index(mode: EnforcementMode): DesiredIndexReader {
  const ref = refOf(git);
  const entry: DesiredEntry = {
    key: keyOf(ref),
    ref,
    object: git,
    app: { namespace: "gitgate-system", name: "app" },
    source: { repoURL: "https://git/r", path: ".", file: "cm.yaml", commit: "a".repeat(40) },
    mode,
    ignore: [],
  };
  return { get: (key) => (key === entry.key ? entry : undefined), isComplete: () => true };
}

const policy: AdmissionPolicy = {
  selfUsername: "gitgate",
  exemptUsers: [],
  exemptGroups: ["admins"],
  defaultMode: "enforce",
  breakGlassGroups: [],
  breakGlassMaxSeconds: 3600,
  breakGlassDefaultSeconds: 3600,
};

function request(object: KubeObject, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: "u",
    kind: { group: "", version: "v1", kind: "ConfigMap" },
    resource: { group: "", version: "v1", resource: "configmaps" },
    name: "settings",
    namespace: "app",
    operation: "UPDATE",
    userInfo: { username: "bob", groups: ["devs"] },
    object,
    oldObject: git,
    ...extra,
  };
}

/** A hand-written RFC 6902 `add` (the only op mutate emits), RFC 6901 unescaping included. */
function applyPatch(doc: unknown, ops: JsonPatchOp[]): unknown {
  const copy = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    assert.equal(op.op, "add");
    const tokens = op.path
      .split("/")
      .slice(1)
      .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = tokens.pop() as string;
    let target: Record<string, unknown> = copy;
    for (const t of tokens) {
      const next = target[t];
      assert.ok(next && typeof next === "object", `parent ${t} of ${op.path} must exist`);
      target = next as Record<string, unknown>;
    }
    target[last] = op.value;
  }
  return copy;
}

const changed = (annotations?: Record<string, string>): KubeObject => ({
  ...structuredClone(git),
  metadata: { ...structuredClone(git.metadata), ...(annotations ? { annotations } : {}) },
  data: { level: "debug" },
});

const ANNOTATION = "gitgate.io/last-out-of-band-change";
const KEY = "/ConfigMap/app/settings";

/**
 * The grant's signature as documented in manifest/hold-record.ts, computed here with node:crypto
 * (not gitgate's signer): HMAC-SHA256, hex, over "key\nuser\nuntil\nreason".
 */
const hmac = (secret: string, user: string, until: string, reason: string): string =>
  createHmac("sha256", secret).update(`${KEY}\n${user}\n${until}\n${reason}`).digest("hex");

/** What the validating webhook answers for the request as mutated: [allowed, reason]. */
function validated(req: AdmissionRequest, pol: AdmissionPolicy): [boolean, string] {
  const d = decide({ request: req, index: index("enforce"), policy: pol, now: NOW });
  return [d.allowed, d.reason];
}

void describe("outOfBandPatch", () => {
  void it("adds the annotations map when the object has none", () => {
    const obj = changed();
    const patch = outOfBandPatch(request(obj), index("warn"), policy, NOW);
    assert.deepEqual(patch, [
      {
        op: "add",
        path: "/metadata/annotations",
        value: {
          [ANNOTATION]:
            '{"user":"bob","groups":["devs"],"fields":["data.level"],"time":"2025-05-01T12:00:00.000Z"}',
        },
      },
    ]);
    assert.ok(patch);
    const patched = applyPatch(obj, patch) as KubeObject;
    const record = JSON.parse(patched.metadata.annotations?.[ANNOTATION] ?? "") as Record<string, unknown>;
    assert.deepEqual(record, {
      user: "bob",
      groups: ["devs"],
      fields: ["data.level"],
      time: NOW.toISOString(),
    });
  });

  void it("escapes the '/' of the annotation key and keeps other annotations", () => {
    const obj = changed({ "example.com/keep": "yes" });
    const patch = outOfBandPatch(request(obj), index("audit"), policy, NOW);
    const record =
      '{"user":"bob","groups":["devs"],"fields":["data.level"],"time":"2025-05-01T12:00:00.000Z"}';
    assert.deepEqual(patch, [
      { op: "add", path: "/metadata/annotations/gitgate.io~1last-out-of-band-change", value: record },
    ]);
    const patched = applyPatch(obj, patch ?? []) as KubeObject;
    assert.deepEqual(patched.metadata.annotations, { "example.com/keep": "yes", [ANNOTATION]: record });
  });

  void it("records exempt users too (they are out of band)", () => {
    const patch = outOfBandPatch(
      request(changed(), { userInfo: { username: "root", groups: ["admins"] } }),
      index("enforce"),
      policy,
      NOW,
    );
    assert.deepEqual(patch, [
      {
        op: "add",
        path: "/metadata/annotations",
        value: {
          [ANNOTATION]:
            '{"user":"root","groups":["admins"],"fields":["data.level"],"time":"2025-05-01T12:00:00.000Z"}',
        },
      },
    ]);
  });

  void it("adds nothing when the change will be denied, matches Git, is gitgate's own, a DELETE, or mode is off", () => {
    assert.equal(outOfBandPatch(request(changed()), index("enforce"), policy, NOW), undefined);
    assert.equal(outOfBandPatch(request(git), index("warn"), policy, NOW), undefined);
    assert.equal(
      outOfBandPatch(request(changed(), { userInfo: { username: "gitgate" } }), index("warn"), policy, NOW),
      undefined,
    );
    assert.equal(
      outOfBandPatch(request(git, { operation: "DELETE", object: null }), index("warn"), policy, NOW),
      undefined,
    );
    assert.equal(outOfBandPatch(request(changed()), index("off"), policy, NOW), undefined);
  });

  void it("records a break-glass grant signed for the leader replica, which verifies it", () => {
    const bg = { ...policy, breakGlassGroups: ["oncall"], holdSecret: "replicas-share-this" };
    const obj = changed({ "gitgate.io/break-glass-reason": "INC-7" });
    const req = request(obj, { userInfo: { username: "olga", groups: ["oncall"] } });
    const patch = outOfBandPatch(req, index("enforce"), bg, NOW);
    assert.ok(patch, "break-glass admits, so the change is recorded");
    const until = "2025-05-01T13:00:00.000Z"; // the default hour
    assert.deepEqual(patch, [
      {
        op: "add",
        path: "/metadata/annotations/gitgate.io~1last-out-of-band-change",
        value: JSON.stringify({
          user: "olga",
          groups: ["oncall"],
          fields: ["data.level"],
          time: NOW.toISOString(),
          breakGlass: { until, reason: "INC-7", sig: hmac("replicas-share-this", "olga", until, "INC-7") },
        }),
      },
    ]);
    const patched = applyPatch(obj, patch) as KubeObject;
    const key = keyOf(refOf(git));
    assert.equal(key, KEY);
    assert.deepEqual(verifiedHold(patched, key, "replicas-share-this", NOW), {
      username: "olga",
      reason: "INC-7",
      expiresAt: new Date(NOW.getTime() + 3600_000),
    });
    assert.equal(verifiedHold(patched, key, "another-key", NOW), undefined);
    // The validating webhook then sees the patched object: gitgate's own record for olga passes.
    assert.deepEqual(validated({ ...req, object: patched }, bg), [true, "break-glass"]);
    // The same record written by someone outside the break-glass groups (a forged /mutate answer) does not.
    assert.deepEqual(validated({ ...req, object: patched, userInfo: { username: "olga", groups: [] } }, bg), [
      false,
      "forged-record",
    ]);
    // Without a key (webhooks off) the record says who and what, and grants nothing elsewhere.
    const unsigned = applyPatch(
      obj,
      outOfBandPatch(req, index("enforce"), { ...bg, holdSecret: undefined }, NOW) ?? [],
    );
    assert.equal(verifiedHold(unsigned as KubeObject, key, "replicas-share-this", NOW), undefined);
  });

  void it("records the window a member opens by annotating alone (kubectl annotate, then kubectl scale)", () => {
    const bg = { ...policy, breakGlassGroups: ["oncall"], holdSecret: "replicas-share-this" };
    const annotated: KubeObject = {
      ...structuredClone(git),
      metadata: {
        ...structuredClone(git.metadata),
        annotations: { "gitgate.io/break-glass-reason": "INC-8" },
      },
    };
    const olga = { username: "olga", groups: ["oncall"] };
    const patch = outOfBandPatch(request(annotated, { userInfo: olga }), index("enforce"), bg, NOW);
    assert.ok(patch, "opening a window is recorded");
    const patched = applyPatch(annotated, patch) as KubeObject;
    const record = JSON.parse(patched.metadata.annotations?.[ANNOTATION] ?? "{}") as { fields?: string[] };
    assert.deepEqual(record.fields, []);
    assert.equal(verifiedHold(patched, keyOf(refOf(git)), "replicas-share-this", NOW)?.reason, "INC-8");
    assert.deepEqual(validated(request(patched, { userInfo: olga }), bg), [true, "break-glass"]);
    // Not again once the annotation is there, and never for someone outside the break-glass groups.
    const later = request(annotated, { userInfo: olga, oldObject: annotated });
    assert.equal(outOfBandPatch(later, index("enforce"), bg, NOW), undefined);
    assert.equal(outOfBandPatch(request(annotated), index("enforce"), bg, NOW), undefined);
  });

  void it("carries an open window into the record of a later admitted change, still granted to its holder", () => {
    const bg = { ...policy, breakGlassGroups: ["oncall"], holdSecret: "replicas-share-this" };
    const opened = changed({ "gitgate.io/break-glass-reason": "INC-7" });
    const olga = { username: "olga", groups: ["oncall"] };
    const held = applyPatch(
      opened,
      outOfBandPatch(request(opened, { userInfo: olga }), index("enforce"), bg, NOW) ?? [],
    ) as KubeObject;
    // Later, an exempt admin changes a declared field: a new record replaces the annotation.
    const later: KubeObject = { ...structuredClone(held), data: { level: "trace" } };
    const admin = { username: "root", groups: ["admins"] };
    const patch = outOfBandPatch(
      request(later, { userInfo: admin, oldObject: held }),
      index("enforce"),
      bg,
      NOW,
    );
    const after = applyPatch(later, patch ?? []) as KubeObject;
    const record = JSON.parse(after.metadata.annotations?.[ANNOTATION] ?? "{}") as { user?: string };
    assert.equal(record.user, "root");
    assert.deepEqual(validated(request(after, { userInfo: admin, oldObject: held }), bg), [true, "exempt"]);
    const key = keyOf(refOf(git));
    assert.deepEqual(verifiedHold(after, key, "replicas-share-this", NOW), {
      username: "olga",
      reason: "INC-7",
      expiresAt: new Date(NOW.getTime() + 3600_000),
    });
    // Naming someone else as the holder breaks the signature.
    const forged = structuredClone(after);
    const text = forged.metadata.annotations?.[ANNOTATION] ?? "";
    (forged.metadata.annotations as Record<string, string>)[ANNOTATION] = text.replace(
      '"grantee":"olga"',
      '"grantee":"mallory"',
    );
    assert.equal(verifiedHold(forged, key, "replicas-share-this", NOW), undefined);
  });

  void it("travels base64-encoded as a JSONPatch in the response", () => {
    const patch = setAnnotationPatch({}, "a/b~c", "v");
    assert.deepEqual(patch, [{ op: "add", path: "/metadata/annotations/a~1b~0c", value: "v" }]);
    const { response } = encodeResponse("u", { allowed: true, patch });
    assert.equal(response.patchType, "JSONPatch");
    assert.deepEqual(JSON.parse(Buffer.from(response.patch ?? "", "base64").toString()), patch);
  });
});
