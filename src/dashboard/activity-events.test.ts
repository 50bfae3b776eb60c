import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { configMapDenied } from "../../test/fixtures/alerts/events.js";
import type { KubeObject } from "../manifest/object.js";
import {
  ACTIVITY_ANNOTATION,
  ACTIVITY_MAC_ANNOTATION,
  activityEvent,
  activityEventName,
  entryOfEvent,
} from "./activity-events.js";

const denied = configMapDenied;
const KEY = "k".repeat(64);
const NOW = "2026-12-01T01:00:00.000Z";

function annotate(obj: KubeObject, set: Record<string, string | undefined>): KubeObject {
  const annotations = { ...(obj.metadata?.annotations ?? {}) } as Record<string, string>;
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined) delete annotations[k];
    else annotations[k] = v;
  }
  return { ...obj, metadata: { ...obj.metadata, annotations } };
}

describe("dashboard: activity kept in Events", () => {
  it("names an Event after the change: a repeat is the same Event, another change another", () => {
    const name = activityEventName(denied());
    assert.match(name, /^gitgate-activity\.[0-9a-f]{24}$/);
    assert.equal(activityEventName(denied({ time: "later" })), name);
    for (const other of [
      denied({ actor: { username: "bob", via: "admission" } }),
      denied({ changes: [{ path: "data.color", gitValue: "blue", liveValue: "green" }] }),
      denied({ type: "change-warned" }),
      denied({ app: { namespace: "default", name: "blog" } }),
      denied({ cluster: "staging" }),
    ])
      assert.notEqual(activityEventName(other), name);
  });

  it("is an Event on the GitApp, in its namespace, with a one-line message", () => {
    const ev = activityEvent(denied(), NOW, KEY) as KubeObject & Record<string, unknown>;
    assert.equal(ev.metadata?.namespace, "default");
    assert.deepEqual(ev.involvedObject, {
      apiVersion: "gitgate.io/v1alpha1",
      kind: "GitApp",
      namespace: "default",
      name: "shop",
    });
    assert.equal(ev.reason, "ChangeDenied");
    assert.equal(ev.count, 1);
    assert.match(String(ev.message), /Denied the request\. alice on ConfigMap shop\/settings: data\.color/);
  });

  const signed = activityEvent(denied(), NOW, KEY);
  const cases: Array<{ name: string; obj: KubeObject; key?: string; restored: boolean }> = [
    { name: "signed, read with the key", obj: signed, key: KEY, restored: true },
    { name: "unsigned, read without a key", obj: activityEvent(denied(), NOW), restored: true },
    {
      name: "unsigned (forged), read with the key",
      obj: activityEvent(denied(), NOW),
      key: KEY,
      restored: false,
    },
    {
      name: "signed with another key",
      obj: activityEvent(denied(), NOW, "x".repeat(64)),
      key: KEY,
      restored: false,
    },
    {
      name: "entry changed after signing",
      obj: annotate(signed, {
        [ACTIVITY_ANNOTATION]: JSON.stringify(denied({ actor: { username: "mallory", via: "admission" } })),
      }),
      key: KEY,
      restored: false,
    },
    {
      name: "copied into another namespace",
      obj: { ...signed, metadata: { ...signed.metadata, namespace: "team-a" } },
      key: KEY,
      restored: false,
    },
    {
      name: "an entry claiming another app's namespace (no key)",
      obj: {
        ...activityEvent(denied(), NOW),
        metadata: { ...activityEvent(denied(), NOW).metadata, namespace: "team-a" },
      },
      restored: false,
    },
    {
      name: "not JSON",
      obj: annotate(signed, { [ACTIVITY_ANNOTATION]: "{", [ACTIVITY_MAC_ANNOTATION]: undefined }),
      restored: false,
    },
    {
      name: "not an activity type",
      obj: activityEvent(denied({ type: "sync-failed" }), NOW),
      restored: false,
    },
  ];
  for (const c of cases)
    it(`reads back: ${c.name}`, () => {
      const got = entryOfEvent(c.obj, c.key);
      assert.equal(got !== undefined, c.restored);
      if (got) {
        assert.equal(got.event.actor?.username, "alice");
        assert.equal(got.event.time, NOW, "the time of the last occurrence");
        assert.equal(got.count, 1);
      }
    });

  it("reads the count of a repeated change", () => {
    const ev = { ...signed, count: 3, lastTimestamp: "2026-12-01T02:00:00.000Z" };
    assert.deepEqual(
      [entryOfEvent(ev, KEY)?.count, entryOfEvent(ev, KEY)?.event.time],
      [3, "2026-12-01T02:00:00.000Z"],
    );
  });

  it("keeps no Secret value and stays bounded", () => {
    const secret = denied({
      object: { group: "", kind: "Secret", namespace: "shop", name: "creds" },
      changes: [{ path: "data.password", gitValue: "czNjcjN0", liveValue: "aHVudGVyMg==" }],
    });
    const text = JSON.stringify(activityEvent(secret, NOW, KEY));
    assert.ok(!text.includes("czNjcjN0") && !text.includes("aHVudGVyMg=="), text);
    const huge = denied({
      changes: Array.from({ length: 20 }, (_, i) => ({
        path: `data.k${i}`,
        gitValue: "g".repeat(5000),
        liveValue: "l".repeat(5000),
      })),
    });
    const ann = activityEvent(huge, NOW).metadata?.annotations as Record<string, string>;
    assert.ok((ann[ACTIVITY_ANNOTATION] ?? "").length <= 16 * 1024);
    assert.ok(entryOfEvent(activityEvent(huge, NOW)) !== undefined, "still read back");
  });
});
