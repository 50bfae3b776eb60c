import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DesiredEntry } from "../manifest/desired.js";
import { signHold } from "../manifest/hold-record.js";
import { LAST_CHANGE_ANNOTATION } from "../manifest/labels.js";
import type { KubeObject } from "../manifest/object.js";
import { createGateState } from "./gate.js";
import type { Hold } from "./holds.js";

const app = { namespace: "apps", name: "web" };
const other = { namespace: "apps", name: "db" };

function entry(name: string, owner = app): DesiredEntry {
  const object: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "n" } };
  return {
    key: `/ConfigMap/n/${name}`,
    ref: { group: "", kind: "ConfigMap", namespace: "n", name },
    object,
    app: owner,
    source: { repoURL: "https://r", path: ".", file: `${name}.yaml`, commit: "c".repeat(40) },
    mode: "enforce",
    ignore: [],
  };
}

/** The live object as another replica's mutating webhook left it: a signed break-glass record. */
function liveWithRecord(e: DesiredEntry, secret: string, expiresAt: Date): KubeObject {
  const record = {
    user: "dave",
    groups: ["oncall"],
    fields: [],
    time: new Date().toISOString(),
    breakGlass: signHold(secret, e.key, "dave", expiresAt, "INC-1"),
  };
  return {
    ...e.object,
    metadata: {
      ...e.object.metadata,
      annotations: {
        "gitgate.io/break-glass-reason": "INC-1",
        [LAST_CHANGE_ANNOTATION]: JSON.stringify(record),
      },
    },
  };
}

void describe("gate state: holds", () => {
  const soon = new Date(Date.now() + 600_000);
  const cases: Array<{
    name: string;
    gateSecret?: string;
    signedWith: string;
    indexed: boolean;
    held: boolean;
  }> = [
    {
      name: "a record signed with the shared key is adopted",
      gateSecret: "k",
      signedWith: "k",
      indexed: true,
      held: true,
    },
    {
      name: "a record signed with another key is not",
      gateSecret: "k",
      signedWith: "x",
      indexed: true,
      held: false,
    },
    { name: "without a key (no webhooks) nothing is adopted", signedWith: "k", indexed: true, held: false },
    {
      name: "an object not in the index is not held",
      gateSecret: "k",
      signedWith: "k",
      indexed: false,
      held: false,
    },
  ];
  for (const c of cases)
    void it(c.name, () => {
      const gate = createGateState({ holdSecret: c.gateSecret });
      const e = entry("a");
      if (c.indexed) gate.index.replaceApp(app, [e]);
      const live = liveWithRecord(e, c.signedWith, soon);
      assert.equal(gate.isHeld(e.key, live), c.held);
      // Adopted means held from now on, even without the live object at hand.
      assert.equal(gate.isHeld(e.key), c.held);
      assert.deepEqual(
        gate.holds().map((h) => [h.key, h.username, h.reason]),
        c.held ? [[e.key, "dave", "INC-1"]] : [],
      );
      gate.clear();
    });

  void it("a window the watch observes holds the object until it expires, then tells the listener once", async () => {
    const gate = createGateState({ holdSecret: "k" });
    const expired: Hold[] = [];
    gate.onHoldExpired((hold) => expired.push(hold));
    const e = entry("a");
    gate.index.replaceApp(app, [e]);
    const expiresAt = new Date(Date.now() + 60);
    gate.observe(e.key, liveWithRecord(e, "k", expiresAt));
    gate.observe(e.key, { ...e.object }); // a later event without the record does not end it
    assert.equal(gate.isHeld(e.key), true, "held after the object is gone (break-glass deletion)");
    for (let i = 0; i < 200 && expired.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(gate.isHeld(e.key), false);
    assert.deepEqual(
      expired.map((h) => [h.key, h.username, h.reason, h.expiresAt.toISOString()]),
      [[e.key, "dave", "INC-1", expiresAt.toISOString()]],
    );
    // An expired record seen again opens nothing.
    gate.observe(e.key, liveWithRecord(e, "k", expiresAt));
    assert.equal(gate.isHeld(e.key), false);
  });
});

void describe("gate state: the index as the reconciler writes it", () => {
  void it("release drops only the named keys, and only from the app that has them", () => {
    const gate = createGateState();
    const [a, b] = [entry("a"), entry("b")];
    const c = entry("c", other);
    gate.index.replaceApp(app, [a, b]);
    gate.index.replaceApp(other, [c]);
    gate.release(app, new Set([a.key, c.key]));
    assert.deepEqual(
      [a, b, c].map((e) => gate.index.get(e.key)?.app.name),
      [undefined, "web", "db"],
      "c belongs to db: web cannot release it",
    );
    assert.deepEqual(
      gate.index.entriesOf(app).map((e) => e.key),
      [b.key],
    );
    // Released keys are free for their owner's next render.
    assert.deepEqual(gate.index.replaceApp(other, [c, { ...a, app: other }]).conflicts, []);
  });
});

void describe("gate state: admitted changes", () => {
  void it("are claims the drifted live values must confirm", () => {
    const gate = createGateState();
    gate.recordAdmittedChange("k", "bob", [{ path: "data.a", value: "2" }]);
    assert.equal(gate.admittedChanger("k", [{ path: "data.a", value: "2" }]), "bob");
    assert.equal(gate.admittedChanger("k", [{ path: "data.a", value: "3" }]), undefined);
    assert.equal(gate.admittedChanger("other", [{ path: "data.a", value: "2" }]), undefined);
  });
});
