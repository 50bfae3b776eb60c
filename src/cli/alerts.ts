/** Alert channels from the config file, with URLs and HMAC keys read from Secrets where so configured. */
import type { Registry } from "prom-client";
import type { AlertSink } from "../alerts/event.js";
import { createAlertDispatcher } from "../alerts/dispatcher.js";
import type { ClusterClient } from "../cluster/client.js";
import type { ChannelConfig, GitgateConfig } from "../config/schema.js";
import { terminal } from "../errors.js";
import type { Logger } from "../log/logger.js";
import { parseDuration } from "../sync/gitapp.js";

async function secretValue(client: ClusterClient, defaultNs: string, ref: { secretName: string; key: string; namespace?: string }, what: string): Promise<string> {
  const namespace = ref.namespace ?? defaultNs;
  const secret = await client.get({ apiVersion: "v1", kind: "Secret", namespace, name: ref.secretName });
  const value = (secret?.data as Record<string, string> | undefined)?.[ref.key];
  if (!value) throw terminal("InvalidConfig", `${what}: Secret ${namespace}/${ref.secretName} has no key "${ref.key}"`);
  return Buffer.from(value, "base64").toString("utf8").trim();
}

export async function resolveChannels(config: GitgateConfig, client: ClusterClient): Promise<Array<ChannelConfig & { url: string }>> {
  return Promise.all(
    config.alerts.channels.map(async (c) => ({
      ...c,
      url: c.url ?? (await secretValue(client, config.namespace, c.urlFrom ?? { secretName: "", key: "" }, `alert channel ${c.name} url`)),
      secret: c.secret ?? (c.secretFrom ? await secretValue(client, config.namespace, c.secretFrom, `alert channel ${c.name} secret`) : undefined),
    })),
  );
}

export async function createAlerts(config: GitgateConfig, client: ClusterClient, logger: Logger, registry: Registry): Promise<AlertSink & { close(): Promise<void> }> {
  const channels = await resolveChannels(config, client);
  return createAlertDispatcher({
    channels: channels.map((c) => ({ name: c.name, type: c.type, url: c.url, secret: c.secret, events: c.events as never })),
    clusterName: config.clusterName,
    logger,
    registry,
    options: { dedupWindowMs: parseDuration(config.alerts.dedupWindow) ?? 600_000, ratePerMinute: config.alerts.ratePerMinute },
  });
}
