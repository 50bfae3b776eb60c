/**
 * Whether a GitApp's destination can be synced, decided before anything is fetched: a refusal ends
 * the reconcile with a condition saying why, and nothing is indexed, applied or pruned.
 */
import { destinationCluster, type EffectiveSpec, type GitApp } from "../api/gitapp.js";
import { terminal, transient, type GitgateError } from "../errors.js";

/** What the registry knows about a registered cluster right now. */
export interface ClusterView {
  reachable: boolean;
  lastError?: string;
}

/**
 * A tenant's GitApp (one that acts as its ServiceAccount) may not name a remote cluster: that
 * identity exists on the hub only, and the remote cluster's RBAC cannot judge it. Unknown clusters
 * and unreachable ones are refused (never pruned against).
 */
export function destinationRefusal(
  app: GitApp,
  spec: Pick<EffectiveSpec, "actAs">,
  clusterOf: (name: string) => ClusterView | undefined,
): GitgateError | undefined {
  const name = destinationCluster(app);
  if (name === undefined) return undefined;
  if (spec.actAs)
    return terminal(
      "RemoteClusterRefused",
      `destination cluster "${name}": only GitApps in a platform namespace may name a registered cluster ` +
        `(a tenant's ServiceAccount ${spec.actAs} exists on this cluster only)`,
    );
  const view = clusterOf(name);
  if (!view)
    return terminal(
      "ClusterUnknown",
      `destination cluster "${name}" is not registered: no valid Secret labelled gitgate.io/secret-type=cluster ` +
        "in gitgate's namespace has that name; nothing is synced",
    );
  if (!view.reachable)
    return transient(
      "ClusterUnreachable",
      `destination cluster "${name}" is unreachable${view.lastError ? `: ${view.lastError}` : ""}; nothing is synced or pruned until it answers`,
    );
  return undefined;
}
