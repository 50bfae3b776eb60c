/**
 * The API-write client for the through-kube-apiserver benchmark, run as a child process so that
 * gitgate (in the parent, answering webhooks and watching) never delays the client's event loop.
 * It alternates merge-PATCHes of a managed object and its unmanaged twin, one keep-alive
 * connection per kubeconfig, and reports each write's latency.
 */
import { ClusterClient } from "../../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../../src/cluster/transport.js";

export interface WriteRequest {
  kubeconfig: string;
  apiVersion: string;
  kind: string;
  namespace: string;
  managed: string;
  twin: string;
  count: number;
  tag: string;
  /** Only the managed object (probes). */
  managedOnly?: boolean;
}

export interface WriteResult {
  managed: number[];
  twin: number[];
}

const clients = new Map<string, ClusterClient>();

function clientFor(kubeconfig: string): ClusterClient {
  let client = clients.get(kubeconfig);
  if (!client) {
    client = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig })));
    clients.set(kubeconfig, client);
  }
  return client;
}

async function patch(client: ClusterClient, req: WriteRequest, name: string, tag: string): Promise<number> {
  const started = performance.now();
  await client.patch(
    { apiVersion: req.apiVersion, kind: req.kind, namespace: req.namespace, name },
    { metadata: { annotations: { "bench.gitgate.io/seq": tag } } },
    "merge",
  );
  return performance.now() - started;
}

export async function runWrites(req: WriteRequest): Promise<WriteResult> {
  const client = clientFor(req.kubeconfig);
  const result: WriteResult = { managed: [], twin: [] };
  for (let i = 0; i < req.count; i++) {
    const tag = `${req.tag}-${i}`;
    // Alternate which goes first, so neither side always follows the other's webhook traffic.
    const managedFirst = i % 2 === 0;
    if (managedFirst) result.managed.push(await patch(client, req, req.managed, tag));
    if (!req.managedOnly) result.twin.push(await patch(client, req, req.twin, tag));
    if (!managedFirst) result.managed.push(await patch(client, req, req.managed, tag));
  }
  return result;
}

if (process.send) {
  process.on("message", (msg: WriteRequest) => {
    runWrites(msg).then(
      (result) => process.send?.({ ok: true, result }),
      (err: unknown) =>
        process.send?.({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.send({ ready: true });
}
