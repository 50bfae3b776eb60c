/**
 * Registered clusters: one per valid cluster Secret in gitgate's namespace. Each has its own
 * connection (short request timeout), gate state (desired index, holds, claims), controller (queue,
 * live watches, backoff) and a probe that keeps its connection state; so a slow or dead cluster
 * delays only its own GitApps. GitApps, their status and Events stay on the hub (the cluster gitgate
 * runs in). The webhook configurations go onto each cluster once it answers (`webhook.url`).
 */
import { Gauge, type Registry } from "prom-client";
import type { ClusterConnection, GitApp } from "../api/gitapp.js";
import type { ClusterClient } from "../cluster/client.js";
import { ClusterClient as Client } from "../cluster/client.js";
import { discoverIdentity } from "../cluster/identity.js";
import {
  CLUSTER_SECRET_LABEL,
  CLUSTER_SECRET_VALUE,
  kubeConfigOf,
  parseClusterSecret,
  sameCredentials,
  type ClusterCredentials,
} from "../cluster/registered.js";
import { KubeConfig, Transport } from "../cluster/transport.js";
import { Informer, type WatchEventType } from "../cluster/watch.js";
import { messageOf } from "../errors.js";
import { createGateState, type GateState } from "../gate/gate.js";
import type { Logger } from "../log/logger.js";
import type { KubeObject } from "../manifest/object.js";
import type { Controller } from "../sync/controller.js";
import type { ClusterView } from "../sync/destination.js";

/** How often each cluster is asked for /version, and how long any request to it may take. */
export const PROBE_INTERVAL_MS = 5_000;
export const CLUSTER_REQUEST_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 5_000;

/** What a cluster's parts need from the runtime. */
export interface ClusterParts {
  /** A controller syncing the GitApps that name `name`, writing to `client`, answering from `gate`. */
  controller(
    name: string,
    client: ClusterClient,
    gate: GateState,
    connection: () => ClusterConnection,
  ): Controller;
  /** Puts gitgate's webhook configurations on the cluster; the CA bundle they carry (undefined: none). */
  registerWebhooks?(client: ClusterClient, cluster: ClusterCredentials): Promise<string | undefined>;
  /** The CA bundle gitgate serves now (a change re-registers). */
  caPem?(): string | undefined;
}

/** What the webhook of a registered cluster answers from. */
export interface ClusterAdmission {
  gate: GateState;
  client: ClusterClient;
  selfUsername: string;
  liveObject(obj: KubeObject): KubeObject | undefined;
}

class RegisteredCluster {
  readonly client: ClusterClient;
  readonly gate: GateState;
  readonly controller: Controller;
  private readonly transport: Transport;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  selfUsername?: string;
  private registeredCa?: string;
  private admissionDeps?: ClusterAdmission;
  state: ClusterConnection;

  constructor(
    readonly creds: ClusterCredentials,
    readonly secret: string,
    private readonly deps: {
      parts: ClusterParts;
      logger: Logger;
      holdSecret?: string;
      reachable: Gauge;
    },
  ) {
    this.transport = new Transport(new KubeConfig(kubeConfigOf(creds)), {
      timeoutMs: CLUSTER_REQUEST_TIMEOUT_MS,
    });
    this.client = new Client(this.transport);
    this.gate = createGateState({ holdSecret: deps.holdSecret });
    this.state = { name: creds.name, reachable: false, lastError: "not probed yet" };
    this.controller = deps.parts.controller(creds.name, this.client, this.gate, () => this.state);
  }

  get name(): string {
    return this.creds.name;
  }

  async start(): Promise<void> {
    await this.controller.start();
    void this.probe();
  }

  /** /version with a short timeout; the first answer also learns who gitgate is there. */
  async probe(): Promise<void> {
    const before = this.state.reachable;
    try {
      const res = await this.client.raw({ method: "GET", path: "/version", timeoutMs: PROBE_TIMEOUT_MS });
      if (res.status !== 200) throw new Error(`GET /version answered ${res.status}`);
      const version = (res.body as { gitVersion?: unknown } | undefined)?.gitVersion;
      this.selfUsername ??= (await discoverIdentity(this.client)).username;
      await this.registerWebhooks();
      this.state = {
        name: this.name,
        reachable: true,
        ...(typeof version === "string" ? { serverVersion: version.slice(0, 64) } : {}),
        checkedAt: new Date().toISOString(),
      };
    } catch (err) {
      this.state = {
        name: this.name,
        reachable: false,
        lastError: messageOf(err).slice(0, 512),
        checkedAt: new Date().toISOString(),
      };
    }
    if (this.stopped) return;
    this.deps.reachable.set({ cluster: this.name }, this.state.reachable ? 1 : 0);
    if (before !== this.state.reachable) {
      this.deps.logger[this.state.reachable ? "info" : "warn"](
        { cluster: this.name, server: this.creds.server, err: this.state.lastError },
        this.state.reachable ? "registered cluster reachable" : "registered cluster unreachable",
      );
      // Its GitApps learn at once: synced now, or refused with the reason (never pruned).
      this.controller.resyncAll();
    }
    this.timer = setTimeout(() => void this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  private async registerWebhooks(): Promise<void> {
    const { parts } = this.deps;
    const ca = parts.caPem?.();
    if (!parts.registerWebhooks || ca === undefined || ca === this.registeredCa) return;
    this.registeredCa = await parts.registerWebhooks(this.client, this.creds);
    this.deps.logger.info({ cluster: this.name }, "webhook configurations registered on the cluster");
  }

  /** The same object for as long as this cluster is registered (the webhook caches by it). */
  admission(): ClusterAdmission | undefined {
    // Until gitgate knows its own name there, its own writes could not be told from others'.
    if (this.selfUsername === undefined) return undefined;
    this.admissionDeps ??= {
      gate: this.gate,
      client: this.client,
      selfUsername: this.selfUsername,
      liveObject: (obj) => this.controller.liveObject(obj),
    };
    return this.admissionDeps;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller.stop();
    await this.controller.drained(3_000);
    this.gate.clear();
    this.transport.close();
    this.deps.reachable.remove({ cluster: this.name });
  }
}

export interface ClusterRegistryOptions {
  hub: ClusterClient;
  namespace: string;
  logger: Logger;
  registry: Registry;
  holdSecret?: string;
  parts: ClusterParts;
  /** The set of clusters changed: the hub's controller takes up or drops GitApps naming them. */
  onChange(): void;
}

export class ClusterRegistry {
  private readonly clusters = new Map<string, RegisteredCluster>();
  private informer?: Informer;
  private readonly reachable: Gauge;
  /** Secret events are applied one at a time (starting and stopping a cluster is async). */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private bound?: Map<string, readonly string[]>;

  constructor(private readonly opts: ClusterRegistryOptions) {
    this.reachable = new Gauge({
      name: "gitgate_cluster_reachable",
      help: "Whether a registered cluster's API server answered the last probe (1) or not (0).",
      labelNames: ["cluster"],
      registers: [opts.registry],
    });
  }

  /** Watches the cluster Secrets; resolves once the first list has been applied. */
  async start(): Promise<void> {
    this.informer = new Informer(
      this.opts.hub,
      { apiVersion: "v1", kind: "Secret", namespace: this.opts.namespace },
      (type, obj) => this.enqueue(type, obj),
      this.opts.logger,
      { labelSelector: `${CLUSTER_SECRET_LABEL}=${CLUSTER_SECRET_VALUE}` },
    );
    this.informer.start();
    await this.informer.hasSynced();
    await this.chain;
  }

  has(name: string): boolean {
    return this.clusters.has(name);
  }

  view(name: string): ClusterView | undefined {
    const cluster = this.clusters.get(name);
    return cluster && { reachable: cluster.state.reachable, lastError: cluster.state.lastError };
  }

  /** Whether a GitApp is synced by the hub's controller: it names no cluster, or none registered. */
  hubServes(app: GitApp): boolean {
    const name = app.spec.destination?.cluster;
    return !name || !this.clusters.has(name);
  }

  admission(name: string): ClusterAdmission | undefined {
    return this.clusters.get(name)?.admission();
  }

  /** A registered cluster's parts: its client, gate state and controller. */
  member(name: string): Pick<RegisteredCluster, "client" | "gate" | "controller"> | undefined {
    return this.clusters.get(name);
  }

  /** Cluster → the client certificate names bound to its webhook path (those that set any). */
  bindings(): ReadonlyMap<string, readonly string[]> {
    // Asked on every admission request: built once per change of the registered set.
    if (!this.bound) {
      this.bound = new Map();
      for (const [name, c] of this.clusters)
        if (c.creds.webhookClientNames) this.bound.set(name, c.creds.webhookClientNames);
    }
    return this.bound;
  }

  connections(): ClusterConnection[] {
    return [...this.clusters.values()].map((c) => c.state);
  }

  resyncAll(): void {
    for (const cluster of this.clusters.values()) cluster.controller.resyncAll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.informer?.stop();
    await this.chain;
    await Promise.all([...this.clusters.values()].map((c) => c.stop()));
    this.clusters.clear();
    this.bound = undefined;
  }

  private enqueue(type: WatchEventType, secret: KubeObject): void {
    this.chain = this.chain
      .then(() => this.apply(type, secret))
      .catch((err: unknown) => this.opts.logger.error({ err: messageOf(err) }, "cluster Secret not applied"));
  }

  private async apply(type: WatchEventType, secret: KubeObject): Promise<void> {
    if (this.stopped) return;
    const key = `${secret.metadata.namespace ?? ""}/${secret.metadata.name ?? ""}`;
    const current = [...this.clusters.values()].find((c) => c.secret === key);
    const parsed = type === "DELETED" ? undefined : parseClusterSecret(secret);
    if (parsed && !parsed.ok) this.opts.logger.error({ secret: key }, parsed.error.message);
    const next = parsed?.ok ? parsed.cluster : undefined;
    if (current && next && sameCredentials(current.creds, next)) return;
    if (next && !current && this.clusters.has(next.name)) {
      this.opts.logger.error(
        { secret: key, cluster: next.name, registeredBy: this.clusters.get(next.name)?.secret },
        "cluster Secret names a cluster another Secret registered: ignored",
      );
      return;
    }
    if (current) {
      this.bound = undefined;
      this.clusters.delete(current.name);
      await current.stop();
      this.opts.logger.info({ cluster: current.name, secret: key }, "registered cluster removed");
    }
    if (next) await this.add(next, key);
    this.opts.onChange();
  }

  private async add(creds: ClusterCredentials, secret: string): Promise<void> {
    const cluster = new RegisteredCluster(creds, secret, {
      parts: this.opts.parts,
      logger: this.opts.logger.child({ cluster: creds.name }),
      holdSecret: this.opts.holdSecret,
      reachable: this.reachable,
    });
    this.bound = undefined;
    this.clusters.set(creds.name, cluster);
    try {
      await cluster.start();
      this.opts.logger.info(
        { cluster: creds.name, server: creds.server, secret },
        "registered cluster added",
      );
    } catch (err) {
      this.bound = undefined;
      this.clusters.delete(creds.name);
      await cluster.stop();
      throw err;
    }
  }
}
