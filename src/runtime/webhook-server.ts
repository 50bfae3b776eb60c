/**
 * The webhook server of one replica: its TLS material (kept in a Secret every replica shares), the
 * break-glass hold key derived from it, the HTTPS listener (admission, push receiver, probes,
 * metrics), the webhook configurations' registration, certificate rotation (webhook.certCheckInterval), and (with
 * webhook.clientCA) which client certificates may post an AdmissionReview.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import type { Registry } from "prom-client";
import { createAdmissionMetrics } from "../admission/metrics.js";
import type { ExpectedNames } from "../certs/certs.js";
import { caBundleBase64, loadOrCreateCertificates, type WebhookTls } from "../certs/store.js";
import type { ClusterClient } from "../cluster/client.js";
import { durationsOf } from "../config/duration.js";
import type { GitgateConfig } from "../config/schema.js";
import { messageOf, terminal } from "../errors.js";
import type { GateForAdmission } from "../gate/gate.js";
import type { Logger } from "../log/logger.js";
import type { AlertSink } from "../manifest/event.js";
import type { DesiredEntry } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import {
  createAdmissionTransport,
  type AdmissionTransport,
  type TransportOptions,
} from "../server/admission-http.js";
import { createApp } from "../server/app.js";
import {
  parseCaBundle,
  refuseBinding,
  refuseClient,
  verifiedPeer,
  type ClientPolicy,
  type ClusterBindings,
} from "../server/client-auth.js";
import { listenHttps, type HttpsListener } from "../server/https.js";
import { namespacesOutOfGate, registerWebhooks } from "../server/webhooks.js";
import { admissionPolicy } from "./policy.js";
import type { ClusterCredentials } from "../cluster/registered.js";
import type { ClusterAdmission } from "./clusters.js";
import type { AdmissionDeps } from "../admission/pipeline.js";

/** How often webhook.clientCA is re-read (a mounted Secret or ConfigMap changes in place). */
const CLIENT_CA_CHECK_MS = 60_000;

/** Where the server listens and which names its certificate carries. */
export interface WebhookSite {
  host: string;
  port: number;
  names: ExpectedNames;
  /** In a cluster: the Service kube-apiserver calls; out of it, the URL of the listener. */
  service?: { namespace: string; name: string; port: number };
  secretRef: { namespace: string; name: string };
}

export function webhookSite(
  config: GitgateConfig,
  address: string | undefined,
  inCluster: boolean,
): WebhookSite {
  const [host = "127.0.0.1", portText] = (
    address ??
    config.webhook.address ??
    `0.0.0.0:${config.webhook.port}`
  ).split(":");
  const service = inCluster ? config.webhook.service : undefined;
  const names = service
    ? {
        dnsNames: [
          `${service.name}.${service.namespace}.svc`,
          `${service.name}.${service.namespace}.svc.cluster.local`,
        ],
        ipAddresses: [],
      }
    : { dnsNames: ["localhost"], ipAddresses: [host === "0.0.0.0" ? "127.0.0.1" : host] };
  return {
    host,
    port: Number(portText ?? 0),
    names: withUrlHost(names, config.webhook.url),
    service,
    secretRef: { namespace: config.namespace, name: config.webhook.certSecret },
  };
}

/** webhook.url's host goes into the serving certificate: registered clusters call that name. */
function withUrlHost(names: ExpectedNames, url: string | undefined): ExpectedNames {
  if (!url) return names;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  const isIp = isIP(host) !== 0;
  const list = isIp ? names.ipAddresses : names.dnsNames;
  if (list.includes(host)) return names;
  return isIp
    ? { ...names, ipAddresses: [...names.ipAddresses, host] }
    : { ...names, dnsNames: [...names.dnsNames, host] };
}

export async function loadWebhookTls(client: ClusterClient, site: WebhookSite): Promise<WebhookTls> {
  return (await loadOrCreateCertificates(client, site.secretRef, site.names)).tls;
}

/** Every replica derives the same key from the shared CA (see manifest/hold-record.ts). */
export function holdSecretOf(tls: WebhookTls): string {
  return createHash("sha256").update("gitgate break-glass hold\n").update(tls.ca.key).digest("hex");
}

export interface WebhookServerDeps {
  config: GitgateConfig;
  client: ClusterClient;
  logger: Logger;
  registry: Registry;
  alerts: AlertSink;
  site: WebhookSite;
  tls: WebhookTls;
  gate: GateForAdmission;
  /** gitgate's own username (its writes are always admitted). */
  selfUsername: string;
  webhookName: string;
  /** The watch cache's copy of an object (the fallback for a break-glass member's scale). */
  liveObject: (obj: KubeObject) => KubeObject | undefined;
  /** Queues a sync of every GitApp on one of these repos (push receiver); returns the apps queued. */
  onPush: (repoURLs: string[], paths?: readonly string[]) => string[];
  isReady: () => boolean;
  /** A registered cluster's state for `/validate/<cluster>`; undefined: not managed (refused). */
  clusterAdmission?: (name: string) => ClusterAdmission | undefined;
  /** Registered clusters' bound client certificate names (cluster Secrets' webhookClientNames). */
  clusterBindings?: () => ClusterBindings;
}

export class WebhookServer {
  private tls: WebhookTls;
  private rotation?: NodeJS.Timeout;
  private clientCAWatch?: NodeJS.Timeout;
  private clientCA?: string;

  private constructor(
    private readonly deps: WebhookServerDeps,
    private readonly listener: HttpsListener,
  ) {
    this.tls = deps.tls;
  }

  /** Starts listening (admission answers from the gate at once) and the rotation check. */
  static async listen(deps: WebhookServerDeps): Promise<WebhookServer> {
    const { config, logger } = deps;
    if (!config.hooks.githubSecret && !config.hooks.gitlabToken)
      logger.warn(
        config.hooks.allowUnsigned
          ? "POST /hooks/git accepts unsigned push notifications (hooks.allowUnsigned): set hooks.githubSecret or hooks.gitlabToken"
          : "POST /hooks/git refuses every push: set hooks.githubSecret or hooks.gitlabToken",
      );
    const clientCA = await readClientCA(config);
    logClientAuth(config, logger, clientCA);
    const policy: ClientPolicy = { names: config.webhook.clientNames ?? [] };
    const app = createApp({
      admission: admissionTransport(deps, clientCA ? policy : undefined),
      onPush: deps.onPush,
      hooks: config.hooks,
      isReady: deps.isReady,
      registry: deps.registry,
      logger,
    });
    const listener = await listenHttps(app, deps.site.host, deps.site.port, deps.tls.serving, clientCA?.pem);
    const server = new WebhookServer(deps, listener);
    server.rotation = setInterval(() => void server.rotate(), durationsOf(config).certCheckIntervalMs);
    server.rotation.unref();
    if (clientCA) {
      server.clientCA = clientCA.pem;
      server.clientCAWatch = setInterval(() => void server.reloadClientCA(), CLIENT_CA_CHECK_MS);
      server.clientCAWatch.unref();
    }
    return server;
  }

  get port(): number {
    return this.listener.port;
  }

  /** Where the listener is bound, for the log. */
  get address(): string {
    return `https://${this.listener.host}:${this.listener.port}`;
  }

  get caPem(): string {
    return this.tls.caBundlePem;
  }

  /** Registers the webhook configurations with the current CA (when the config says to). */
  async register(tls: WebhookTls = this.tls): Promise<void> {
    const { config, site } = this.deps;
    if (!config.webhook.register) return;
    const host = site.host === "0.0.0.0" ? "127.0.0.1" : site.host;
    await registerWebhooks(this.deps.client, {
      namePrefix: this.deps.webhookName,
      caBundle: caBundleBase64(tls),
      clientConfig: site.service
        ? { service: { namespace: site.service.namespace, name: site.service.name, port: site.service.port } }
        : { url: `https://${host}:${this.listener.port}` },
      ownNamespace: config.namespace,
      failurePolicy: config.webhook.failurePolicy,
      timeoutSeconds: config.webhook.timeoutSeconds,
    });
  }

  /**
   * Registers the webhook configurations on a registered cluster, pointing at webhook.url with the
   * cluster's name in the path; returns the CA bundle they carry (a rotation registers again).
   */
  async registerOn(client: ClusterClient, cluster: ClusterCredentials): Promise<string | undefined> {
    const { config } = this.deps;
    if (!config.webhook.url) return undefined;
    const tls = this.tls;
    await registerWebhooks(client, {
      namePrefix: this.deps.webhookName,
      caBundle: caBundleBase64(tls),
      clientConfig: { url: config.webhook.url },
      ownNamespace: config.namespace,
      failurePolicy: cluster.failurePolicy ?? config.webhook.failurePolicy,
      timeoutSeconds: config.webhook.timeoutSeconds,
      cluster: cluster.name,
    });
    return tls.caBundlePem;
  }

  /** Warns about namespaces a label takes out of the gate (set while gitgate did not run). */
  async reportNamespacesOutOfGate(): Promise<void> {
    const { client, config, logger } = this.deps;
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
  }

  async close(): Promise<void> {
    clearInterval(this.rotation);
    clearInterval(this.clientCAWatch);
    await this.listener.close();
  }

  /** Every replica re-reads the Secret; the serving certificate changes in place. */
  private async rotate(): Promise<void> {
    const { client, site, logger } = this.deps;
    try {
      const next = await loadWebhookTls(client, site);
      if (next.serving.cert === this.tls.serving.cert) return;
      // kube-apiserver must trust a new CA before this replica serves a certificate it signed.
      if (next.caBundlePem !== this.tls.caBundlePem) await this.register(next);
      this.listener.setCertificate(next.serving);
      this.tls = next;
      logger.info("webhook certificate rotated");
    } catch (err) {
      logger.warn({ err: String(err) }, "certificate rotation check failed");
    }
  }

  /** Re-reads webhook.clientCA; a changed, valid bundle replaces the old one for new connections. */
  async reloadClientCA(): Promise<void> {
    const { config, logger } = this.deps;
    try {
      const next = await readClientCA(config);
      if (!next || next.pem === this.clientCA) return;
      this.listener.setClientCA(next.pem);
      this.clientCA = next.pem;
      logger.info({ file: config.webhook.clientCA, certificates: next.count }, "webhook client CA reloaded");
    } catch (err) {
      logger.warn({ err: messageOf(err) }, "webhook client CA not reloaded; the previous one stays in use");
    }
  }
}

/** webhook.clientCA read and checked: a missing or unusable file fails the start. */
async function readClientCA(config: GitgateConfig): Promise<{ pem: string; count: number } | undefined> {
  const path = config.webhook.clientCA;
  if (!path) return undefined;
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch (err) {
    throw terminal("InvalidConfig", `webhook.clientCA: cannot read ${path}: ${messageOf(err)}`, err);
  }
  try {
    return { pem, count: parseCaBundle(pem).length };
  } catch (err) {
    throw terminal("InvalidConfig", `webhook.clientCA: ${path}: ${messageOf(err)}`, err);
  }
}

/** Said once at start: whether anyone reaching the port can post an AdmissionReview. */
function logClientAuth(config: GitgateConfig, logger: Logger, clientCA?: { count: number }): void {
  if (!clientCA) {
    logger.info(
      "webhook client certificates not required (webhook.clientCA unset): anyone reaching the port can post an AdmissionReview",
    );
    return;
  }
  logger.info(
    {
      file: config.webhook.clientCA,
      certificates: clientCA.count,
      names: config.webhook.clientNames ?? "any",
    },
    "webhook client certificates required for /validate and /mutate; probes, /metrics and /hooks/git take none",
  );
}

/**
 * A registered cluster's review deps: its own index, policy (gitgate's name there, that cluster's
 * kinds) and API server for a scaled object's parent. Built once per registration.
 */
function clusterDeps(
  deps: WebhookServerDeps,
  metrics: AdmissionDeps["metrics"],
): ((name: string) => AdmissionDeps | undefined) | undefined {
  const lookup = deps.clusterAdmission;
  if (!lookup) return undefined;
  const built = new WeakMap<ClusterAdmission, AdmissionDeps>();
  return (name) => {
    const cluster = lookup(name);
    if (!cluster) return undefined;
    let found = built.get(cluster);
    if (!found) {
      const policy = admissionPolicy(
        deps.config,
        cluster.selfUsername,
        cluster.client.discovery.resourceKinds,
        holdSecretOf(deps.tls),
      );
      const logger = deps.logger.child({ cluster: name });
      found = {
        gate: cluster.gate,
        policy: () => policy,
        alerts: { emit: (event) => deps.alerts.emit({ ...event, cluster: name }) },
        logger,
        metrics,
        liveParent: async (entry) =>
          (await cluster.client
            .get({
              apiVersion: entry.object.apiVersion,
              kind: entry.object.kind,
              namespace: entry.ref.namespace || undefined,
              name: entry.ref.name,
            })
            .catch(() => undefined)) ?? cluster.liveObject(entry.object),
      };
      built.set(cluster, found);
    }
    return found;
  };
}

function admissionTransport(deps: WebhookServerDeps, clients?: ClientPolicy): AdmissionTransport {
  const { config, client, logger, gate } = deps;
  // Built once: the config does not change while running, and resourceKinds is discovery's own
  // map, filled in place as kinds are discovered.
  const policy = admissionPolicy(
    config,
    deps.selfUsername,
    client.discovery.resourceKinds,
    holdSecretOf(deps.tls),
  );
  // Asked for a break-glass member's scale only: fresh from the API server (a follower's watch
  // cache has no live objects, and the leader's may lag the kubectl annotate before).
  const liveParent = async (entry: DesiredEntry): Promise<KubeObject | undefined> =>
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
      })) ?? deps.liveObject(entry.object);
  const metrics = createAdmissionMetrics(deps.registry);
  return createAdmissionTransport(
    { gate, policy: () => policy, alerts: deps.alerts, logger, metrics, liveParent },
    {
      cluster: clusterDeps(deps, metrics),
      refuse: refuseRequest(deps.clusterBindings, clients),
    },
  );
}

/**
 * Who may post on a webhook path: webhook.clientCA and clientNames for every path, then the
 * registered clusters' bindings. A cluster with bound names and no client CA to check them
 * against is refused outright: its path must not fall back to trusting any caller.
 */
function refuseRequest(
  bindingsOf: (() => ClusterBindings) | undefined,
  clients: ClientPolicy | undefined,
): TransportOptions["refuse"] {
  if (!clients && !bindingsOf) return undefined;
  return (req, cluster) => {
    const bindings = bindingsOf?.() ?? new Map<string, readonly string[]>();
    if (!clients)
      return cluster !== undefined && bindings.has(cluster)
        ? `client refused (binding): cluster "${cluster}" has webhookClientNames but webhook.clientCA is not set`
        : undefined;
    const refusal = refuseClient(req, clients);
    if (refusal) return `client refused (${refusal.reason}): ${refusal.detail}`;
    if (bindings.size === 0) return undefined;
    const peer = verifiedPeer(req);
    const wrong = peer ? refuseBinding(peer, cluster, bindings) : "no verified client certificate";
    return wrong && `client refused (binding): ${wrong}`;
  };
}
