/**
 * The GitApps of every controller (the hub's and each registered cluster's) and, for each, the
 * parts of the cluster it goes to: its desired index, its live cache, its API client. Alert routing
 * (per-GitApp channels) and the dashboard read GitApps through this, so a GitApp synced to a
 * registered cluster is routed and shown like the hub's, with that cluster's objects.
 */
import type { GitApp } from "../api/gitapp.js";
import { appKey, destinationCluster } from "../api/gitapp.js";
import type { ClusterClient } from "../cluster/client.js";
import type { GateState } from "../gate/gate.js";
import type { AppRef, DesiredEntry } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import type { Controller } from "../sync/controller.js";
import type { GitApps } from "../sync/apps.js";
import type { ClusterRow } from "../dashboard/model.js";
import type { ClusterRegistry } from "./clusters.js";

interface Member {
  client: ClusterClient;
  gate: GateState;
  controller: Controller;
}

export class Fleet {
  /** Set once the registry is built (after alerts, which route through this). */
  clusters?: ClusterRegistry;
  private hubParts?: Member;

  constructor(private readonly hubApps: GitApps) {}

  /** The hub's own parts, once its controller exists. */
  set hub(parts: Member) {
    this.hubParts = parts;
  }

  app(ref: AppRef): GitApp | undefined {
    const hub = this.hubApps.byRef(ref);
    if (hub) return hub;
    for (const c of this.clusters?.connections() ?? []) {
      const found = this.clusters?.member(c.name)?.controller.getApp(ref);
      if (found) return found;
    }
    return undefined;
  }

  *apps(): IterableIterator<GitApp> {
    const seen = new Set<string>();
    for (const app of this.hubApps.values()) {
      seen.add(appKey({ namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" }));
      yield app;
    }
    for (const c of this.clusters?.connections() ?? [])
      for (const app of this.clusters?.member(c.name)?.controller.appsSeen() ?? []) {
        // A GitApp moving between controllers (its cluster registered meanwhile) is shown once.
        const key = appKey({ namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" });
        if (!seen.has(key)) yield app;
      }
  }

  desired(ref: AppRef): DesiredEntry[] {
    return this.memberOf(ref)?.gate.index.entriesOf(ref) ?? [];
  }

  live(ref: AppRef, obj: KubeObject): KubeObject | undefined {
    return this.memberOf(ref)?.controller.liveObject(obj);
  }

  /** The API client of the cluster the app's objects are on; undefined while that is not registered. */
  clientOf(ref: AppRef): ClusterClient | undefined {
    return this.memberOf(ref)?.client;
  }

  clusterRows(): ClusterRow[] {
    return (this.clusters?.connections() ?? [])
      .map((c) => ({
        name: c.name,
        reachable: c.reachable,
        ...(c.serverVersion ? { serverVersion: c.serverVersion } : {}),
        ...(c.lastError ? { lastError: c.lastError } : {}),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The parts of the cluster that serves the app: the hub's when it names none, or one not registered. */
  private memberOf(ref: AppRef): Member | undefined {
    if (this.hubApps.byRef(ref)) return this.hubParts;
    const app = this.app(ref);
    const name = app ? destinationCluster(app) : undefined;
    return name ? this.clusters?.member(name) : this.hubParts;
  }
}
