/**
 * Durations: Go-style text in the config file and GitApp specs, milliseconds inside gitgate. The
 * config's durations are parsed here once (durationsOf), so no call site carries its own fallback.
 */
import type { GitgateConfig } from "./schema.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations ("1m", "90s", "1h30m"); undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, value, , unit] of trimmed.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(value) * (UNIT_MS[unit ?? "s"] ?? 0);
  }
  return total;
}

/** The config's durations, parsed. */
export interface ConfigDurations {
  /** render.timeout; undefined leaves the renderer's own default. */
  renderTimeoutMs?: number;
  /** sync.minInterval: the floor under every GitApp's interval. */
  minSyncIntervalMs: number;
  /** sync.statusHeartbeat: how old lastSyncTime may get before a no-op resync writes it. */
  statusHeartbeatMs: number;
  /** alerts.dedupWindow. */
  alertDedupWindowMs: number;
  /** enforcement.breakGlass.maxDuration / defaultDuration, in whole seconds as the policy takes them. */
  breakGlassMaxSeconds: number;
  breakGlassDefaultSeconds: number;
  /** webhook.certCheckInterval, at least a second. */
  certCheckIntervalMs: number;
}

const seconds = (ms: number): number => Math.round(ms / 1000);

/**
 * The schema already refuses a malformed duration; the fallbacks are the defaults of
 * config/load.ts, for a config object built by hand.
 */
export function durationsOf(config: GitgateConfig): ConfigDurations {
  const { breakGlass } = config.enforcement;
  return {
    renderTimeoutMs: parseDuration(config.render.timeout),
    minSyncIntervalMs: parseDuration(config.sync.minInterval) ?? 5000,
    statusHeartbeatMs: parseDuration(config.sync.statusHeartbeat ?? "5m") ?? 300_000,
    alertDedupWindowMs: parseDuration(config.alerts.dedupWindow) ?? 600_000,
    breakGlassMaxSeconds: seconds(parseDuration(breakGlass.maxDuration) ?? 4 * 3600 * 1000),
    breakGlassDefaultSeconds: seconds(parseDuration(breakGlass.defaultDuration) ?? 3600 * 1000),
    certCheckIntervalMs: Math.max(1000, parseDuration(config.webhook.certCheckInterval ?? "1h") ?? 3_600_000),
  };
}
