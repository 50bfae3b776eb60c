/**
 * GitApp Events are written by a bounded recorder off the reconcile's path (src/sync/events.ts),
 * against a real kube-apiserver: every Event handed over is written, and a burst beyond the bound
 * loses the oldest, never the newest, nor blocks the caller.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../src/api/gitapp.js";
import { ClusterClient } from "../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../src/cluster/transport.js";
import { silentLogger } from "../src/log/logger.js";
import { EventRecorder } from "../src/sync/events.js";
import { within } from "../src/bounded/within.js";
import { startControlPlane, type ControlPlane } from "../src/testenv/controlplane.js";

let cp: ControlPlane;
let admin: ClusterClient;

const app = (name: string): GitApp =>
  ({
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name, namespace: "default", uid: `uid-${name}` },
    spec: {},
  }) as unknown as GitApp;

async function messages(name: string): Promise<string[]> {
  const list = (await admin.transport.request({
    method: "GET",
    path: "/api/v1/namespaces/default/events",
    query: { fieldSelector: `involvedObject.name=${name}`, limit: 5000 },
  })) as { status: number; body?: { items?: Array<{ message: string; reason: string }> } };
  assert.equal(list.status, 200);
  return (list.body?.items ?? []).map((e) => e.message);
}

describe("GitApp Events", () => {
  before(async () => {
    cp = await startControlPlane({ controllerManager: false });
    admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
  });
  after(async () => {
    admin?.transport.close();
    await cp?.stop();
  });

  it("writes each Event handed over, with the GitApp as involved object, once flushed", async () => {
    const recorder = new EventRecorder(admin, silentLogger);
    for (let i = 0; i < 5; i++)
      recorder.record(app("shop"), { type: "Normal", reason: "Synced", message: `sync ${i}` });
    await within(recorder.flushed(), 30_000);
    assert.deepEqual((await messages("shop")).sort(), ["sync 0", "sync 1", "sync 2", "sync 3", "sync 4"]);
  });

  it("a burst beyond its bound drops the oldest and keeps the newest (record() returns at once: it is synchronous)", async () => {
    const recorder = new EventRecorder(admin, silentLogger);
    for (let i = 0; i < 1100; i++)
      recorder.record(app("burst"), { type: "Warning", reason: "SyncFailed", message: `fail ${i}` });
    await within(recorder.flushed(), 120_000);
    const written = await messages("burst");
    // 1,000 wait at most, plus the 2 already being written when the burst overflowed.
    assert.ok(written.length >= 1000 && written.length <= 1002, `${written.length} written`);
    assert.ok(written.includes("fail 1099"), "the newest is kept");
    assert.ok(written.includes("fail 0"), "the first, already being written, is not lost");
    assert.ok(!written.includes("fail 50"), "an old waiting one was dropped");
  });
});
