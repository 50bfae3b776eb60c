/**
 * gitgate's composition root: one process running the reconciler (leader only writes), the
 * admission webhooks (every replica answers), the push receiver, probes and metrics.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Registry, collectDefaultMetrics } from "prom-client";
import { createAdmissionRouter } from "../admission/handlers.js";
import { createAdmissionMetrics } from "../admission/metrics.js";
import type { AdmissionPolicy } from "../admission/types.js";
import { excludedNamespaces } from "../admission/webhook-config.js";
import type { AlertSink } from "../alerts/event.js";
import { loadOrCreateCertificates, caBundleBase64, type WebhookTls } from "../certs/store.js";
import { ClusterClient } from "../cluster/client.js";
import { discoverIdentity, type SelfIdentity } from "../cluster/identity.js";
import { loadKubeConfig, Transport } from "../cluster/transport.js";
import type { GitgateConfig } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import { render } from "../render/render.js";
import type { RenderTools } from "../render/types.js";
import { createApp } from "../server/app.js";
import { listenHttps, type HttpsListener } from "../server/https.js";
import { messageOf } from "../errors.js";
import { namespacesOutOfGate, registerWebhooks, unregisterWebhooks } from "../server/webhooks.js";
import { createGitSource } from "../source/git-source.js";
import { sameRepo } from "../source/url.js";
import { Controller } from "../sync/controller.js";
import { parseDuration, type GitApp } from "../sync/gitapp.js";
import type { AppRef } from "../manifest/desired.js";
import { LeaderElector } from "../sync/leader.js";
import { createAlerts } from "./alerts.js";
import { readCredentials } from "./credentials.js";
import { ensureCrds, ensureNamespace } from "./bootstrap.js";

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
}

export interface Runtime {
  controller: Controller;
  client: ClusterClient;
  identity: SelfIdentity;
  registry: Registry;
  /** Base URL of the HTTPS server (webhooks, hooks, probes), when enabled. */
  url?: string;
  caPem?: string;
  isReady(): boolean;
  /** Readiness off at once, so endpoints drop this pod while in-flight requests still finish. */
  beginShutdown(): void;
  stop(): Promise<void>;
}

const seconds = (d: string, fallback: number): number =>
  Math.round((parseDuration(d) ?? fallback * 1000) / 1000);

export function admissionPolicy(
  config: GitgateConfig,
  selfUsername: string,
  resourceKinds?: Record<string, string>,
  holdSecret?: string,
): AdmissionPolicy {
  const e = config.enforcement;
  return {
    selfUsername,
    ...(resourceKinds ? { resourceKinds } : {}),
    ...(holdSecret ? { holdSecret } : {}),
    exemptUsers: e.exemptUsers,
    exemptGroups: e.exemptGroups,
    ignoredNamespaces: excludedNamespaces(config.namespace),
    defaultMode: e.defaultMode,
    breakGlassGroups: e.breakGlass.groups,
    breakGlassMaxSeconds: seconds(e.breakGlass.maxDuration, 4 * 3600),
    breakGlassDefaultSeconds: seconds(e.breakGlass.defaultDuration, 3600),
  };
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

async function startParts(opts: RuntimeOptions, undo: Undo): Promise<Runtime> {
  const { config, logger } = opts;
  const transport = new Transport(loadKubeConfig({ kubeconfig: opts.kubeconfig, inCluster: opts.inCluster }));
  undo.push(() => transport.close());
  const client = new ClusterClient(transport);
  const identity = await discoverIdentity(client, opts.identity ?? config.identity);
  logger.info({ username: identity.username, via: identity.via, server: transport.server }, "connected");
  if (opts.installCrds) await ensureCrds(client, logger);
  await ensureNamespace(client, config.namespace, logger);

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Per-GitApp channels (spec.alerts.channels); the controller that knows the apps comes next.
  let appOf: (ref: AppRef) => GitApp | undefined = () => undefined;
  // Set once the webhook certificates are loaded; without webhooks nobody grants break-glass.
  let holdSecret: string | undefined;
  const alerts =
    opts.alerts ??
    (await createAlerts(
      config,
      client,
      logger,
      registry,
      (event) => appOf(event.app)?.spec.alerts?.channels,
    ));
  undo.push(() => (alerts as { close?: () => Promise<void> }).close?.());

  let leader: LeaderElector | undefined;
  let leading = !config.leaderElection.enabled;
  const controller = new Controller({
    client,
    source: createGitSource({
      cacheRoot: join(opts.cacheDir, "git"),
      logger,
      maxFileBytes: config.render.maxRepoFileBytes,
      maxFetchBytes: config.sync.maxFetchBytes,
      allowedHosts: config.sync.allowedHosts,
    }),
    render: (req) =>
      render(req, {
        tools: opts.tools,
        maxFileBytes: config.render.maxFileBytes,
        maxObjects: config.render.maxObjects,
        timeoutMs: parseDuration(config.render.timeout),
      }),
    alerts: { emit: (e) => alerts.emit(e) },
    logger,
    settings: {
      concurrency: config.sync.concurrency,
      maxPruneShare: config.sync.maxPruneShare,
      defaultMode: config.enforcement.defaultMode,
      minIntervalMs: parseDuration(config.sync.minInterval) ?? 5000,
    },
    credentials: (namespace, name) => readCredentials(client, namespace, name),
    isLeader: () => leading,
    holdSecret: () => holdSecret,
    sameRepo,
    workers: config.sync.workers,
  });
  appOf = (ref) => controller.getApp(ref);
  undo.push(() => controller.stop());

  let shuttingDown = false;
  let listener: HttpsListener | undefined;
  let tls: WebhookTls | undefined;
  let rotation: NodeJS.Timeout | undefined;
  const webhookName = opts.webhookName ?? config.webhook.namePrefix;
  const isReady = (): boolean => !shuttingDown && controller.index.isComplete();

  if (config.webhook.enabled) {
    const [host = "127.0.0.1", portText] = (
      opts.webhookAddress ??
      config.webhook.address ??
      `0.0.0.0:${config.webhook.port}`
    ).split(":");
    const service = opts.inCluster ? config.webhook.service : undefined;
    const names = service
      ? {
          dnsNames: [
            `${service.name}.${service.namespace}.svc`,
            `${service.name}.${service.namespace}.svc.cluster.local`,
          ],
          ipAddresses: [],
        }
      : { dnsNames: ["localhost"], ipAddresses: [host === "0.0.0.0" ? "127.0.0.1" : host] };
    const secretRef = { namespace: config.namespace, name: config.webhook.certSecret };
    tls = (await loadOrCreateCertificates(client, secretRef, names)).tls;
    // Every replica derives the same key from the shared CA (see manifest/hold-record.ts).
    holdSecret = createHash("sha256").update("gitgate break-glass hold\n").update(tls.ca.key).digest("hex");
    if (!config.hooks.githubSecret && !config.hooks.gitlabToken)
      logger.warn(
        config.hooks.allowUnsigned
          ? "POST /hooks/git accepts unsigned push notifications (hooks.allowUnsigned): set hooks.githubSecret or hooks.gitlabToken"
          : "POST /hooks/git refuses every push: set hooks.githubSecret or hooks.gitlabToken",
      );
    // Built once: the config does not change while running, and resourceKinds is discovery's own
    // map, filled in place as kinds are discovered.
    const policy = admissionPolicy(config, identity.username, client.discovery.resourceKinds, holdSecret);
    const app = createApp({
      admission: createAdmissionRouter({
        index: controller.index,
        policy: () => policy,
        alerts,
        logger,
        metrics: createAdmissionMetrics(registry),
        onBreakGlass: (grant) => controller.grantBreakGlass(grant),
        // Asked for a break-glass member's scale only: fresh from the API server (a follower's
        // watch cache has no live objects, and the leader's may lag the kubectl annotate before).
        liveParent: async (entry) =>
          (await client
            .get({
              apiVersion: entry.object.apiVersion,
              kind: entry.object.kind,
              namespace: entry.ref.namespace || undefined,
              name: entry.ref.name,
            })
            .catch((err: unknown) => {
              // Not silent: the cached copy may lack a window the annotate just opened.
              logger.warn(
                { key: entry.key, err: messageOf(err) },
                "reading the scaled object failed; using the watch cache",
              );
              return undefined;
            })) ?? controller.liveObject(entry.object),
        onAdmittedChange: (key, username, paths) => controller.recordAdmittedChange(key, username, paths),
      }),
      onPush: (urls) => urls.flatMap((u) => controller.pushRepo(u)),
      hooks: config.hooks,
      isReady,
      registry,
      logger,
    });
    listener = await listenHttps(app, host, Number(portText ?? 0), tls.serving);
    const started = listener;
    undo.push(() => started.close());
    const clientConfig = service
      ? { service: { namespace: service.namespace, name: service.name, port: service.port } }
      : { url: `https://${host === "0.0.0.0" ? "127.0.0.1" : host}:${listener.port}` };
    const register = async (current: WebhookTls): Promise<void> => {
      if (!config.webhook.register) return;
      await registerWebhooks(client, {
        namePrefix: webhookName,
        caBundle: caBundleBase64(current),
        clientConfig,
        ownNamespace: config.namespace,
        failurePolicy: config.webhook.failurePolicy,
        timeoutSeconds: config.webhook.timeoutSeconds,
      });
    };
    const reportNamespacesOutOfGate = async (): Promise<void> => {
      try {
        for (const { namespace, label } of await namespacesOutOfGate(client, config.namespace))
          logger.warn(
            { namespace, label },
            "namespace is out of the admission gate: its label makes the webhooks skip every object in it; " +
              "only gitgate's own namespace and kube-system should match (remove or correct the label)",
          );
      } catch (err) {
        logger.warn({ err: messageOf(err) }, "could not list namespaces to check the gate's namespace label");
      }
    };
    // Rotation: every replica re-reads the Secret; the serving cert changes in place.
    rotation = setInterval(() => {
      void loadOrCreateCertificates(client, secretRef, names)
        .then(async ({ tls: next }) => {
          if (next.serving.cert === tls?.serving.cert) return;
          // kube-apiserver must trust a new CA before this replica serves a certificate it signed.
          if (next.caBundlePem !== tls?.caBundlePem) await register(next);
          listener?.setCertificate(next.serving);
          tls = next;
          logger.info("webhook certificate rotated");
        })
        .catch((err: unknown) => logger.warn({ err: String(err) }, "certificate rotation check failed"));
    }, 3600_000);
    rotation.unref();
    undo.push(() => clearInterval(rotation));
    await controller.start();
    await register(tls);
    await reportNamespacesOutOfGate();
    logger.info({ url: `https://${listener.host}:${listener.port}` }, "webhook server listening");
  } else {
    await controller.start();
  }

  if (config.leaderElection.enabled) {
    leader = new LeaderElector(
      client,
      {
        namespace: config.namespace,
        name: config.leaderElection.leaseName,
        identity: opts.podName ?? `${identity.username}-${process.pid}`,
      },
      logger,
      (isLeading) => {
        leading = isLeading;
        controller.resyncAll();
      },
    );
    leader.start();
  } else {
    controller.resyncAll();
  }

  return {
    controller,
    client,
    identity,
    registry,
    url: listener ? `https://127.0.0.1:${listener.port}` : undefined,
    caPem: tls?.caBundlePem,
    isReady,
    beginShutdown: () => {
      shuttingDown = true;
    },
    stop: async () => {
      shuttingDown = true;
      clearInterval(rotation);
      controller.stop();
      await leader?.stop();
      await listener?.close();
      await (alerts as { close?: () => Promise<void> }).close?.();
      transport.close();
    },
  };
}

export { unregisterWebhooks };
