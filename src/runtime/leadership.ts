/**
 * Who may write: with leader election on, the holder of the Lease; without it, this process alone.
 * The controller asks `isLeader()` whenever it is about to write; a change of leadership resyncs
 * every GitApp (a new leader applies, a follower only renders).
 */
import type { ClusterClient } from "../cluster/client.js";
import { LeaderElector } from "../cluster/leader.js";
import type { GitgateConfig } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import type { Leadership } from "../sync/controller.js";

export interface RuntimeLeadership extends Leadership {
  /** Starts campaigning (or, without election, leads at once); `onChange` runs on every change. */
  start(onChange: () => void): void;
  stop(): Promise<void>;
}

export function createLeadership(
  config: GitgateConfig,
  client: ClusterClient,
  identity: string,
  logger: Logger,
): RuntimeLeadership {
  if (!config.leaderElection.enabled)
    return { isLeader: () => true, start: (onChange) => onChange(), stop: () => Promise.resolve() };
  let elector: LeaderElector | undefined;
  return {
    // Not leading until the first Lease update succeeds.
    isLeader: () => elector?.isLeader() ?? false,
    start: (onChange) => {
      elector = new LeaderElector(
        client,
        { namespace: config.namespace, name: config.leaderElection.leaseName, identity },
        logger,
        () => onChange(),
      );
      elector.start();
    },
    stop: async () => {
      await elector?.stop();
    },
  };
}
