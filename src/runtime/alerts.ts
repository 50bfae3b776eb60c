/** Alert channels from the config file; URLs and HMAC keys given as Secret references are read here. */
import type { Registry } from "prom-client";
import { resolveChannels, type ChannelSpec, type SecretKeyRef } from "../alerts/channel-url.js";
import { createAlertDispatcher, type AlertDispatcher } from "../alerts/dispatcher.js";
import type { AlertEvent } from "../manifest/event.js";
import type { ClusterClient } from "../cluster/client.js";
import { durationsOf } from "../config/duration.js";
import type { GitgateConfig } from "../config/schema.js";
import { terminal } from "../errors.js";
import type { Logger } from "../log/logger.js";

function secretReader(
  client: ClusterClient,
  defaultNamespace: string,
): (ref: SecretKeyRef) => Promise<string> {
  return async (ref) => {
    const namespace = ref.namespace ?? defaultNamespace;
    const secret = await client.get({ apiVersion: "v1", kind: "Secret", namespace, name: ref.secretName });
    const value = (secret?.data as Record<string, string> | undefined)?.[ref.key];
    if (!value)
      throw terminal("InvalidConfig", `Secret ${namespace}/${ref.secretName} has no key "${ref.key}"`);
    return Buffer.from(value, "base64").toString("utf8").trim();
  };
}

export async function createAlerts(
  config: GitgateConfig,
  client: ClusterClient,
  logger: Logger,
  registry: Registry,
  routes?: (event: AlertEvent) => string[] | undefined,
): Promise<AlertDispatcher> {
  const channels = await resolveChannels(
    config.alerts.channels as ChannelSpec[],
    secretReader(client, config.namespace),
  );
  return createAlertDispatcher({
    channels,
    clusterName: config.clusterName,
    logger,
    registry,
    routes,
    options: {
      dedupWindowMs: durationsOf(config).alertDedupWindowMs,
      rateLimit: { perMinute: config.alerts.ratePerMinute, burst: config.alerts.ratePerMinute },
    },
  });
}
