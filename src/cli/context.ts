/** What the cluster-facing commands share: a client, tools, and rendering a GitApp as the reconciler would. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { discardAlerts } from "../manifest/event.js";
import { ClusterClient } from "../cluster/client.js";
import { loadKubeConfig, Transport } from "../cluster/transport.js";
import { DEFAULT_CONFIG } from "../config/load.js";
import { silentLogger } from "../log/logger.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { render } from "../render/render.js";
import { createGitSource } from "../source/git-source.js";
import { DesiredIndex } from "../gate/desired-index.js";
import { GITAPP_API_VERSION, GITAPP_KIND, type GitApp } from "../api/gitapp.js";
import { LiveState } from "../sync/live.js";
import { reconcile } from "../sync/reconcile.js";
import { resolveTools, toolsFromEnv } from "../testenv/tools.js";
import { readCredentials } from "../runtime/credentials.js";

export function connect(kubeconfig: string | undefined): ClusterClient {
  return new ClusterClient(new Transport(loadKubeConfig({ kubeconfig })));
}

export async function listGitApps(client: ClusterClient, namespace?: string): Promise<GitApp[]> {
  return (await client.list({ apiVersion: GITAPP_API_VERSION, kind: GITAPP_KIND, namespace }))
    .items as GitApp[];
}

/** `ns/name`, `gitapp/name` or `name` (in `defaultNs`). */
export function parseAppRef(ref: string, defaultNs: string): { namespace: string; name: string } {
  const bare = ref.replace(/^(gitapps?|gapp)(\.gitgate\.io)?\//i, "");
  const [namespace = "", name = ""] = bare.includes("/") ? bare.split("/", 2) : [defaultNs, bare];
  return { namespace, name };
}

/** The GitApp a reference names, or undefined when there is none. */
export async function getGitApp(
  client: ClusterClient,
  ref: string,
  defaultNs: string,
): Promise<GitApp | undefined> {
  const { namespace, name } = parseAppRef(ref, defaultNs);
  return (await client.get({ apiVersion: GITAPP_API_VERSION, kind: GITAPP_KIND, namespace, name })) as
    GitApp | undefined;
}

/** Renders the GitApp at the revision gitgate applied (or its spec's revision), without writing anything. */
export async function renderGitApp(client: ClusterClient, app: GitApp): Promise<DesiredEntry[]> {
  const cacheDir = await mkdtemp(join(tmpdir(), "gitgate-cli-"));
  const live = new LiveState(client, silentLogger, () => undefined);
  try {
    const tools = await resolveTools(toolsFromEnv());
    const ctx = await reconcile(app, "follower", {
      client,
      source: createGitSource({ cacheRoot: cacheDir }),
      render: (req) => render(req, { tools }),
      index: new DesiredIndex(),
      live,
      alerts: discardAlerts,
      logger: silentLogger,
      settings: {
        concurrency: 8,
        maxPruneShare: 1,
        defaultMode: DEFAULT_CONFIG.enforcement.defaultMode,
        minIntervalMs: 0,
      },
      credentials: (ns, name) => readCredentials(client, ns, name),
      isHeld: () => false,
    });
    if (ctx.error) throw ctx.error;
    return ctx.desired;
  } finally {
    live.stop();
    await rm(cacheDir, { recursive: true, force: true });
  }
}
