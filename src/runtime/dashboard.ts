/** The dashboard's part of the runtime: its listener, its TLS, and the activity kept in Events. */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { WebhookTls } from "../certs/store.js";
import type { ClusterClient } from "../cluster/client.js";
import type { GitgateConfig } from "../config/schema.js";
import { ActivityEventWriter, restoreActivity } from "../dashboard/activity-events.js";
import type { ActivityRing } from "../dashboard/activity.js";
import { Dashboard } from "../dashboard/server.js";
import { terminal } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { CommitLog } from "../source/commit-info.js";
import type { Fleet } from "./fleet.js";
import type { RuntimeOptions } from "./runtime.js";

type Undo = Array<() => unknown>;

/** The read-only dashboard on its own listener (never the webhook port, whose mTLS stays strict). */
export async function startDashboard(
  opts: RuntimeOptions,
  parts: {
    client: ClusterClient;
    fleet: Fleet;
    activity: ActivityRing;
    commits: CommitLog;
    /** The webhook's TLS: its CA key signs the activity Events; its serving pair may serve HTTPS here. */
    webhookTls?: WebhookTls;
  },
  undo: Undo,
): Promise<Dashboard> {
  const { config, logger } = opts;
  const tls = await dashboardTls(config.dashboard.tls, parts.webhookTls?.serving);
  const key = parts.webhookTls ? activityKeyOf(parts.webhookTls) : undefined;
  const stopEvents = await keepActivityInEvents(parts.client, parts.activity, logger, key);
  const address = opts.dashboardAddress ?? config.dashboard.address;
  const colon = address.lastIndexOf(":");
  const dashboard = await Dashboard.listen({
    host: address.slice(0, colon).replace(/^\[|\]$/g, ""),
    port: Number(address.slice(colon + 1)),
    client: parts.client,
    state: {
      apps: () => parts.fleet.apps(),
      desired: (app) => parts.fleet.desired(app),
      live: (app, obj) => parts.fleet.live(app, obj),
      commit: (sha) => parts.commits.get(sha),
      clusters: () => parts.fleet.clusterRows(),
    },
    clientOf: (app) => parts.fleet.clientOf(app),
    ring: parts.activity,
    logger,
    // Behind its own TLS the cookie is always Secure.
    secureCookie: config.dashboard.secureCookie || tls !== undefined,
    onClose: stopEvents,
    ...(tls ? { tls } : {}),
    maxStreamsPerUser: config.dashboard.streamsPerUser,
    loginLimit: { max: config.dashboard.failedLoginsPerMinute, windowMs: 60_000 },
  });
  undo.push(() => dashboard.close());
  logger.info({ url: dashboard.url }, "dashboard listening");
  return dashboard;
}

/** The dashboard's certificate and key: its own files, or the webhook's serving pair, or none (HTTP). */
async function dashboardTls(
  settings: GitgateConfig["dashboard"]["tls"],
  serving: { cert: string; key: string } | undefined,
): Promise<{ cert: string; key: string } | undefined> {
  if (!settings) return undefined;
  if (settings.servingCert) {
    if (!serving)
      throw terminal(
        "InvalidConfig",
        "dashboard.tls.servingCert needs the webhook (its serving certificate); give certFile and keyFile",
      );
    return serving;
  }
  if (!settings.certFile || !settings.keyFile)
    throw terminal("InvalidConfig", "dashboard.tls needs certFile and keyFile (or servingCert: true)");
  try {
    return { cert: await readFile(settings.certFile, "utf8"), key: await readFile(settings.keyFile, "utf8") };
  } catch (err) {
    throw terminal(
      "InvalidConfig",
      `dashboard.tls: cannot read the certificate or key: ${(err as Error).message}`,
    );
  }
}

/** Signs the activity Events (the webhook CA's key persists across restarts; a forged Event is not read back). */
function activityKeyOf(tls: WebhookTls): string {
  return createHash("sha256").update("gitgate activity events\n").update(tls.ca.key).digest("hex");
}

/** The timeline from the activity Events (a failure only leaves it empty), then each new entry written. */
async function keepActivityInEvents(
  client: ClusterClient,
  ring: ActivityRing,
  logger: Logger,
  key: string | undefined,
): Promise<() => Promise<void>> {
  try {
    const restored = await restoreActivity(client, ring, logger, key);
    if (restored > 0) logger.info({ entries: restored }, "gate activity read back from Events");
  } catch (err) {
    logger.warn({ err: String(err).slice(0, 300) }, "could not read the gate activity Events");
  }
  const writer = new ActivityEventWriter(client, logger, key);
  const unsubscribe = ring.onEntry((entry) => {
    if (!entry.restored) writer.record(entry.event);
  });
  return async () => {
    unsubscribe();
    await writer.close();
  };
}
