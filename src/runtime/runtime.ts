/**
 * gitgate's composition root: one process running the reconciler (leader only writes), the
 * admission webhooks (every replica answers), the push receiver, probes and metrics. The parts
 * are built in order — connection, webhook TLS, gate state, alerts, controller, webhook server,
 * leadership — and share state only through the gate (see docs/architecture.md).
 */
import { join } from "node:path";
import { Registry, collectDefaultMetrics } from "prom-client";
import type { WebhookTls } from "../certs/store.js";
import { ClusterClient } from "../cluster/client.js";
import { discoverIdentity, type SelfIdentity } from "../cluster/identity.js";
import { loadKubeConfig, Transport } from "../cluster/transport.js";
import { durationsOf } from "../config/duration.js";
import { readEnvironment } from "../config/load.js";
import type { GitgateConfig } from "../config/schema.js";
import { AppSetController } from "../appset/controller.js";
import { ActivityRing, teeAlerts } from "../dashboard/activity.js";
import { createGateState, type GateState } from "../gate/gate.js";
import type { Logger } from "../log/logger.js";
import type { AlertSink } from "../manifest/event.js";
import { render } from "../render/render.js";
import type { RenderTools } from "../render/types.js";
import { unregisterWebhooks } from "../server/webhooks.js";
import { CommitLog } from "../source/commit-info.js";
import { startDashboard } from "./dashboard.js";
import { createGitSource } from "../source/git-source.js";
import { createChartSource } from "../source/chart/chart-source.js";
import { combinedSource, type CombinedSource } from "../source/chart/dispatch.js";
import { sameRepo } from "../source/url.js";
import { GitApps } from "../sync/apps.js";
import { Fleet } from "./fleet.js";
import type { Controller, ControllerOptions, Leadership } from "../sync/controller.js";
import { Controller as SyncController } from "../sync/controller.js";
import { destinationRefusal } from "../sync/destination.js";
import { ClusterRegistry, type ClusterParts } from "./clusters.js";
import { messageOf } from "../errors.js";
import { createAlerts } from "./alerts.js";
import { ensureCrds, ensureNamespace } from "./bootstrap.js";
import { readCredentials } from "./credentials.js";
import { createLeadership } from "./leadership.js";
import { RenderStore } from "../sync/render-store.js";
import {
  holdSecretOf,
  loadWebhookTls,
  WebhookServer,
  webhookSite,
  type WebhookSite,
} from "./webhook-server.js";

export interface RuntimeOptions {
  config: GitgateConfig;
  logger: Logger;
  kubeconfig?: string;
  inCluster?: boolean;
  /** `host:port` for the webhook server out of cluster (`0` port picks a free one). */
  webhookAddress?: string;
  identity?: string;
  tools: RenderTools;
  cacheDir: string;
  /** Replaces the configured channels (tests, `gitgate dev`'s terminal sink). */
  alerts?: AlertSink;
  /** Apply chart/crds when the GitApp CRD is missing (out-of-cluster convenience). */
  installCrds?: boolean;
  podName?: string;
  /** Name prefix of the webhook configurations. */
  webhookName?: string;
  /** `host:port` of the dashboard when `dashboard.enabled` (overrides `dashboard.address`). */
  dashboardAddress?: string;
}

export interface Runtime {
  controller: Controller;
  /** The state the controller and the webhook share: desired index, holds, admitted changes. */
  gate: GateState;
  /** Registered clusters (cluster Secrets): each with its own controller, gate state and connection. */
  clusters: ClusterRegistry;
  /** GitAppSets: the GitApps their generators and template make. */
  appsets: AppSetController;
  client: ClusterClient;
  identity: SelfIdentity;
  registry: Registry;
  /** Base URL of the HTTPS server (webhooks, hooks, probes), when enabled. */
  url?: string;
  caPem?: string;
  /** Base URL of the dashboard, when enabled. */
  dashboardUrl?: string;
  /** A one-time dashboard login link for this token (when the dashboard is enabled). */
  dashboardLoginLink?: (token: string) => string;
  /** The gate-activity ring the dashboard shows (when enabled). */
  activity?: ActivityRing;
  isReady(): boolean;
  /** Readiness off at once, so endpoints drop this pod while in-flight requests still finish. */
  beginShutdown(): void;
  stop(): Promise<void>;
}

/** Undo steps of a start in progress, run newest first when the start fails. */
type Undo = Array<() => unknown>;

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const undo: Undo = [];
  try {
    return await startParts(opts, undo);
  } catch (err) {
    // A failed start must leave no listener, informer, timer or connection behind: an embedding
    // process (dev, tests) would otherwise hang instead of seeing the error.
    for (const step of undo.reverse())
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
    throw err;
  }
}

interface Connection {
  transport: Transport;
  client: ClusterClient;
  identity: SelfIdentity;
}

async function connect(opts: RuntimeOptions, undo: Undo): Promise<Connection> {
  const { config, logger } = opts;
  const transport = new Transport(loadKubeConfig({ kubeconfig: opts.kubeconfig, inCluster: opts.inCluster }));
  undo.push(() => transport.close());
  const client = new ClusterClient(transport);
  const identity = await discoverIdentity(client, opts.identity ?? config.identity);
  logger.info({ username: identity.username, via: identity.via, server: transport.server }, "connected");
  if (opts.installCrds) await ensureCrds(client, logger);
  await ensureNamespace(client, config.namespace, logger);
  return { transport, client, identity };
}

/** What a controller adds for a destination other than the hub (a registered cluster). */
type ControllerExtra = Partial<
  Pick<ControllerOptions, "hub" | "serves" | "connection" | "refuseDestination" | "logger">
> & { cluster?: string };

/** The one Git and chart source (one cache per repository) every controller and GitAppSet reads through. */
function createSource(opts: RuntimeOptions, commits: CommitLog): CombinedSource {
  const { config, logger } = opts;
  return combinedSource(
    createGitSource({
      cacheRoot: join(opts.cacheDir, "git"),
      logger,
      maxFileBytes: config.render.maxRepoFileBytes,
      maxFetchBytes: config.sync.maxFetchBytes,
      allowedHosts: config.sync.allowedHosts,
      proxy: readEnvironment().proxy,
      commits,
      // A poll never sees an answer older than the shortest interval; a push ends it at once.
      refLookupWindowMs: durationsOf(config).minSyncIntervalMs,
    }),
    createChartSource({
      cacheRoot: join(opts.cacheDir, "charts"),
      logger,
      allowedHosts: config.sync.allowedHosts,
      proxy: readEnvironment().proxy,
    }),
  );
}

/**
 * Builds controllers sharing one source (one cache) and renderer: the hub's, and one per
 * registered cluster (`extra`: where GitApps live, which it serves, its connection).
 */
function controllerFactory(
  opts: RuntimeOptions,
  hub: ClusterClient,
  parts: { apps: GitApps; alerts: AlertSink; leadership: Leadership; source: CombinedSource },
): (client: ClusterClient, gate: GateState, extra?: ControllerExtra) => Controller {
  const { config, logger } = opts;
  const durations = durationsOf(config);
  const { source } = parts;
  return (client, gate, extra = {}) => {
    const { cluster, ...options } = extra;
    return new SyncController({
      client,
      source,
      renderStore: new RenderStore(
        join(opts.cacheDir, "renders", cluster ? `cluster-${cluster}` : "hub"),
        // What else decides a render's output: a different helm or limit must not reuse a file.
        JSON.stringify([opts.tools, config.render.maxFileBytes, config.render.maxObjects]),
        logger,
      ),
      render: (req) =>
        render(req, {
          tools: opts.tools,
          maxFileBytes: config.render.maxFileBytes,
          maxObjects: config.render.maxObjects,
          timeoutMs: durations.renderTimeoutMs,
        }),
      gate,
      // A registered cluster's controller keeps its own copy: alert routing reads the hub's.
      apps: options.hub ? undefined : parts.apps,
      // A registered cluster's events name it (the channels' "cluster" is otherwise gitgate's own).
      alerts: { emit: (e) => parts.alerts.emit(cluster ? { ...e, cluster } : e) },
      logger,
      settings: {
        concurrency: config.sync.concurrency,
        maxPruneShare: config.sync.maxPruneShare,
        defaultMode: config.enforcement.defaultMode,
        minIntervalMs: durations.minSyncIntervalMs,
        statusHeartbeatMs: durations.statusHeartbeatMs,
        enforcement: {
          undeclaredFields: config.enforcement.undeclaredFields,
          allowedChanges: config.enforcement.allowedChanges,
          platformNamespaces: [config.namespace, ...(config.tenancy?.platformNamespaces ?? [])],
          defaultServiceAccount: config.tenancy?.defaultServiceAccount,
        },
      },
      // Git credentials are Secrets next to the GitApp, on the hub.
      credentials: (namespace, name) => readCredentials(hub, namespace, name),
      leadership: parts.leadership,
      sameRepo,
      workers: config.sync.workers,
      ...options,
    });
  };
}

/** The alert dispatcher (per-GitApp channels from `fleet`), teed into the dashboard's activity ring. */
async function startAlerts(
  opts: RuntimeOptions,
  parts: { client: ClusterClient; registry: Registry; fleet: Fleet },
  undo: Undo,
): Promise<{ alerts: AlertSink; activity?: ActivityRing; closeAlerts: () => Promise<void> | undefined }> {
  const { config, logger } = opts;
  const dispatcher =
    opts.alerts ??
    (await createAlerts(
      config,
      parts.client,
      logger,
      parts.registry,
      (event) => parts.fleet.app(event.app)?.spec.alerts?.channels,
    ));
  // The dashboard's activity timeline gets every event the alert dispatcher gets.
  const activity = config.dashboard.enabled ? new ActivityRing(config.dashboard.activityEntries) : undefined;
  const alerts = activity ? teeAlerts(dispatcher, activity) : dispatcher;
  const closeAlerts = (): Promise<void> | undefined => (alerts as { close?: () => Promise<void> }).close?.();
  undo.push(closeAlerts);
  return { alerts, activity, closeAlerts };
}

async function startParts(opts: RuntimeOptions, undo: Undo): Promise<Runtime> {
  const { config, logger } = opts;
  const { transport, client, identity } = await connect(opts, undo);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // Without webhooks there is no TLS, no hold key, and nobody grants break-glass.
  const site = config.webhook.enabled
    ? webhookSite(config, opts.webhookAddress, opts.inCluster === true)
    : undefined;
  const tls = site ? await loadWebhookTls(client, site) : undefined;
  const gate = createGateState({ holdSecret: tls ? holdSecretOf(tls) : undefined });
  undo.push(() => gate.clear());
  // Per-GitApp channels (spec.alerts.channels), looked up in every controller's GitApps.
  const apps = new GitApps();
  const fleet = new Fleet(apps);
  const { alerts, activity, closeAlerts } = await startAlerts(opts, { client, registry, fleet }, undo);
  const leadership = createLeadership(
    config,
    client,
    opts.podName ?? `${identity.username}-${process.pid}`,
    logger,
  );
  // Subject and author of synced commits for the dashboard (read after each fetch, bounded).
  const commits = new CommitLog();
  const source = createSource(opts, commits);
  const newController = controllerFactory(opts, client, { apps, alerts, leadership, source });
  const webhook: { server?: WebhookServer } = {};
  const { controller, clusters } = await startClusters(opts, {
    client,
    gate,
    registry,
    holdSecret: tls ? holdSecretOf(tls) : undefined,
    newController,
    webhookServer: () => webhook.server,
    undo,
  });
  fleet.clusters = clusters;
  fleet.hub = { client, gate, controller };

  const appsets = await startAppSets(opts, { client, leadership, source }, undo);

  let shuttingDown = false;
  // Every GitApp listed at start rendered since (sync/startup-readiness.ts), not shutting down.
  const isReady = (): boolean => !shuttingDown && controller.isReady();
  const server =
    site && tls
      ? await startWebhookServer(
          opts,
          { client, identity, registry, alerts, gate, controller, isReady, clusters, appsets },
          site,
          tls,
          undo,
        )
      : undefined;
  webhook.server = server;
  if (!server) await controller.start();
  const dashboard = activity
    ? await startDashboard(opts, { client, fleet, activity, commits, webhookTls: tls }, undo)
    : undefined;
  leadership.start(() => [controller, clusters, appsets].forEach((c) => c.resyncAll()));

  return {
    controller,
    gate,
    client,
    identity,
    registry,
    clusters,
    appsets,
    url: server ? `https://127.0.0.1:${server.port}` : undefined,
    caPem: server?.caPem,
    dashboardUrl: dashboard?.url,
    ...(dashboard ? { dashboardLoginLink: (token: string) => dashboard.loginLink(token) } : {}),
    activity,
    isReady,
    beginShutdown: () => {
      shuttingDown = true;
    },
    stop: async () => {
      shuttingDown = true;
      // The listener first: requests still in flight are answered from the full index, never
      // from a cleared one (which would admit writes Git forbids).
      await server?.close();
      controller.stop();
      // A reconcile still running finishes against a live API server, not one closed under it.
      await controller.drained(3_000);
      appsets.stop();
      await appsets.drained(3_000);
      await clusters.stop();
      gate.clear();
      await leadership.stop();
      await dashboard?.close();
      await closeAlerts();
      transport.close();
    },
  };
}

/**
 * The hub's controller (GitApps naming no cluster; those naming an unknown one are refused) and the
 * registered clusters, each with its own controller: GitApps move between them as Secrets come and go.
 */
async function startClusters(
  opts: RuntimeOptions,
  parts: {
    client: ClusterClient;
    gate: GateState;
    registry: Registry;
    holdSecret?: string;
    newController: ReturnType<typeof controllerFactory>;
    webhookServer: () => WebhookServer | undefined;
    undo: Undo;
  },
): Promise<{ controller: Controller; clusters: ClusterRegistry }> {
  const { config, logger } = opts;
  const { client, newController } = parts;
  const holder: { clusters?: ClusterRegistry } = {};
  const refuseDestination: ControllerOptions["refuseDestination"] = (app, spec) =>
    destinationRefusal(app, spec, (name) => holder.clusters?.view(name));
  const controller = newController(client, parts.gate, {
    serves: (app) => holder.clusters?.hubServes(app) ?? !app.spec.destination?.cluster,
    refuseDestination,
  });
  parts.undo.push(() => controller.stop());
  const clusters = new ClusterRegistry({
    hub: client,
    namespace: config.namespace,
    logger,
    registry: parts.registry,
    holdSecret: parts.holdSecret,
    onChange: () => controller.reconsider(),
    parts: {
      controller: (name, remote, gate, connection) =>
        newController(remote, gate, {
          hub: client,
          cluster: name,
          serves: (app) => app.spec.destination?.cluster === name,
          connection,
          refuseDestination,
          logger: logger.child({ cluster: name }),
        }),
      ...remoteWebhooks(config, parts.webhookServer),
    },
  });
  holder.clusters = clusters;
  parts.undo.push(() => clusters.stop());
  // Without list/watch on Secrets (an older chart's RBAC) the hub still runs; the watch retries.
  await clusters
    .start()
    .catch((err: unknown) =>
      logger.warn({ err: messageOf(err) }, "registered clusters: listing cluster Secrets failed; retrying"),
    );
  return { controller, clusters };
}

/**
 * The GitAppSet controller on the hub, reading Git through the reconciler's source. Without the
 * GitAppSet CRD or RBAC for it (an upgraded chart: Helm installs crds/ only on install) the rest runs;
 * its watches retry.
 */
async function startAppSets(
  opts: RuntimeOptions,
  parts: { client: ClusterClient; leadership: Leadership; source: CombinedSource },
  undo: Undo,
): Promise<AppSetController> {
  const { config, logger } = opts;
  const { client } = parts;
  const appsets = new AppSetController({
    client,
    namespace: config.namespace,
    source: parts.source,
    credentials: (namespace, name) => readCredentials(client, namespace, name),
    leadership: parts.leadership,
    logger: logger.child({ controller: "appset" }),
    platformNamespaces: [config.namespace, ...(config.tenancy?.platformNamespaces ?? [])],
    minIntervalMs: durationsOf(config).minSyncIntervalMs,
    sameRepo,
  });
  undo.push(() => appsets.stop());
  await appsets
    .start()
    .catch((err: unknown) => logger.warn({ err: messageOf(err) }, "GitAppSets: listing failed; retrying"));
  return appsets;
}

/** With webhook.url: the webhook configurations go onto each registered cluster, per-cluster paths. */
function remoteWebhooks(
  config: GitgateConfig,
  server: () => WebhookServer | undefined,
): Pick<ClusterParts, "registerWebhooks" | "caPem"> {
  if (!config.webhook.enabled || !config.webhook.register || !config.webhook.url) return {};
  return {
    caPem: () => server()?.caPem,
    registerWebhooks: async (client, cluster) => server()?.registerOn(client, cluster),
  };
}

/** Listens, starts the controller (the index fills), then registers the webhooks with the API server. */
async function startWebhookServer(
  opts: RuntimeOptions,
  parts: {
    client: ClusterClient;
    identity: SelfIdentity;
    registry: Registry;
    alerts: AlertSink;
    gate: GateState;
    controller: Controller;
    isReady: () => boolean;
    clusters: ClusterRegistry;
    appsets: AppSetController;
  },
  site: WebhookSite,
  tls: WebhookTls,
  undo: Undo,
): Promise<WebhookServer> {
  const { config, logger } = opts;
  const { controller } = parts;
  const server = await WebhookServer.listen({
    config,
    client: parts.client,
    logger,
    registry: parts.registry,
    alerts: parts.alerts,
    site,
    tls,
    gate: parts.gate,
    selfUsername: parts.identity.username,
    webhookName: opts.webhookName ?? config.webhook.namePrefix,
    liveObject: (obj) => controller.liveObject(obj),
    onPush: (urls, paths) =>
      urls.flatMap((u) => [...controller.pushRepo(u, paths), ...parts.appsets.pushRepo(u)]),
    isReady: parts.isReady,
    clusterAdmission: (name) => parts.clusters.admission(name),
    clusterBindings: () => parts.clusters.bindings(),
  });
  undo.push(() => server.close());
  await controller.start();
  await server.register();
  await server.reportNamespacesOutOfGate();
  logger.info({ url: server.address }, "webhook server listening");
  return server;
}

export { unregisterWebhooks };
