/** `gitgate run`: the controller and webhooks until SIGTERM/SIGINT, then a graceful stop. */
import { applyEnv, loadConfigFile, readEnvironment } from "../config/load.js";
import { createLogger, type LogLevel } from "../log/logger.js";
import { localTools } from "./context.js";
import { startRuntime } from "../runtime/runtime.js";

export interface RunFlags {
  kubeconfig?: string;
  config?: string;
  webhookAddress?: string;
  identity?: string;
  webhook: boolean;
  installCrds: boolean;
  logLevel?: LogLevel;
}

export async function runCommand(flags: RunFlags): Promise<void> {
  const env = readEnvironment();
  const config = applyEnv(await loadConfigFile(flags.config));
  if (!flags.webhook) config.webhook.enabled = false;
  const logger = createLogger(flags.logLevel ?? config.logLevel);
  const cacheDir = config.sync.cacheDir ?? env.cacheDir;
  const { helm, kubectl, kustomize } = config.render;
  const tools = await localTools({ helm, kubectl, kustomize, cacheDir }, env);
  const inCluster = !flags.kubeconfig && env.inCluster;
  // Signals are handled from before the start: a SIGTERM while starting (its webhook may already
  // answer /readyz) is a graceful stop once started, not the default exit mid-write.
  const signals: { received?: string; stop?: (signal: string) => void } = {};
  const onSignal = (signal: string): void => {
    if (signals.stop) signals.stop(signal);
    else signals.received ??= signal;
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  const runtime = await startRuntime({
    config,
    logger,
    kubeconfig: flags.kubeconfig,
    inCluster,
    webhookAddress: flags.webhookAddress,
    identity: flags.identity,
    tools,
    cacheDir,
    installCrds: flags.installCrds && !inCluster,
    podName: env.podName,
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: readiness off, finishing in-flight requests");
    // In a cluster the readiness probe must fail (and endpoints update) before the listener closes.
    const drainMs = inCluster ? 5000 : 0;
    runtime.beginShutdown();
    setTimeout(() => {
      runtime
        .stop()
        .then(() => process.exit(0))
        .catch((err: unknown) => {
          logger.error({ err: String(err) }, "shutdown failed");
          process.exit(1);
        });
    }, drainMs);
  };
  signals.stop = stop;
  if (signals.received) stop(signals.received);
}
