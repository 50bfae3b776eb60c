import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { GitApp } from "../api/gitapp.js";
import type { ClusterClient } from "../cluster/client.js";
import { createGateState } from "../gate/gate.js";
import type { KubeObject } from "../manifest/object.js";
import { GitApps } from "../sync/apps.js";
import type { Controller } from "../sync/controller.js";
import type { ClusterRegistry } from "./clusters.js";
import { Fleet } from "./fleet.js";

function app(name: string, cluster?: string): GitApp {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name, namespace: "default" },
    spec: {
      source: { repoURL: "https://git.example/r.git" },
      ...(cluster ? { destination: { cluster } } : {}),
      alerts: { channels: [`${name}-channel`] },
    },
  };
}

/** A controller's view as the Fleet reads it: the apps it serves and its live cache. */
function controllerOf(apps: GitApp[], live: string): Controller {
  const byName = new Map(apps.map((a) => [a.metadata.name ?? "", a]));
  return {
    getApp: (ref: { name: string }) => byName.get(ref.name),
    appsSeen: () => byName.values(),
    liveObject: (obj: KubeObject) => ({ ...obj, metadata: { ...obj.metadata, uid: live } }),
  } as unknown as Controller;
}

describe("Fleet: every controller's GitApps, each with its own cluster's parts", () => {
  const hubApps = new GitApps();
  hubApps.set("default/hub-app", app("hub-app"));
  // The hub's controller refuses an app naming an unregistered cluster: it is the hub's to show.
  hubApps.set("default/qa-app", app("qa-app", "qa"));
  const devClient = { name: "dev-client" } as unknown as ClusterClient;
  const hubClient = { name: "hub-client" } as unknown as ClusterClient;
  const members = {
    dev: {
      client: devClient,
      gate: createGateState({}),
      controller: controllerOf([app("dev-app", "dev")], "uid-on-dev"),
    },
  };
  const fleet = new Fleet(hubApps);
  fleet.clusters = {
    connections: () => [{ name: "dev", reachable: true, serverVersion: "v1.20.2", lastError: "x" }],
    member: (name: string) => members[name as "dev"],
  } as unknown as ClusterRegistry;
  fleet.hub = { client: hubClient, gate: createGateState({}), controller: controllerOf([], "uid-on-hub") };
  const ref = (name: string): { namespace: string; name: string } => ({ namespace: "default", name });
  const obj: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "x" } };

  it("finds each app, and so its own alert channels, wherever it is synced", () => {
    const cases: Array<[string, string | undefined]> = [
      ["hub-app", "hub-app-channel"],
      ["qa-app", "qa-app-channel"],
      ["dev-app", "dev-app-channel"],
      ["nowhere", undefined],
    ];
    for (const [name, channel] of cases)
      assert.equal(fleet.app(ref(name))?.spec.alerts?.channels?.[0], channel, name);
  });

  it("lists every app once, and reads each one's objects from its cluster", () => {
    assert.deepEqual([...fleet.apps()].map((a) => a.metadata.name).sort(), ["dev-app", "hub-app", "qa-app"]);
    const cases: Array<[string, string | undefined, ClusterClient | undefined]> = [
      ["hub-app", "uid-on-hub", hubClient],
      ["qa-app", "uid-on-hub", hubClient],
      ["dev-app", "uid-on-dev", devClient],
    ];
    for (const [name, uid, client] of cases) {
      assert.equal(fleet.live(ref(name), obj)?.metadata.uid, uid, name);
      assert.equal(fleet.clientOf(ref(name)), client, name);
    }
    assert.deepEqual(fleet.clusterRows(), [
      { name: "dev", reachable: true, serverVersion: "v1.20.2", lastError: "x" },
    ]);
  });
});
