/** What the cluster-facing commands share: a client, tools, and rendering a GitApp as the reconciler would. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterClient } from "../cluster/client.js";
import { loadKubeConfig, Transport } from "../cluster/transport.js";
import { DEFAULT_CONFIG, readEnvironment, type Environment } from "../config/load.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { render } from "../render/render.js";
import { createGitSource } from "../source/git-source.js";
import { createChartSource } from "../source/chart/chart-source.js";
import { combinedSource } from "../source/chart/dispatch.js";
import { GITAPP_API_VERSION, GITAPP_KIND, type GitApp } from "../api/gitapp.js";
import { renderDesired } from "../sync/reconcile.js";
import { resolveTools, type Tools } from "../render/tools.js";
import { readCredentials } from "../runtime/credentials.js";

/**
 * helm and kubectl/kustomize as the environment names them, each replaced by the config file's
 * setting where given (`gitgate run`); looked up in the cache directory's pinned copy otherwise.
 */
export function localTools(
  settings: { helm?: string; kubectl?: string; kustomize?: string; cacheDir?: string } = {},
  env: Environment = readEnvironment(),
): Promise<Tools> {
  return resolveTools({
    ...env.tools,
    helm: settings.helm ?? env.tools.helm,
    kubectl: settings.kubectl ?? env.tools.kubectl,
    kustomize: settings.kustomize ?? env.tools.kustomize,
    cacheDir: settings.cacheDir ?? env.cacheDir,
  });
}

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
  try {
    const tools = await localTools();
    return await renderDesired(
      app,
      {
        client,
        source: combinedSource(
          createGitSource({ cacheRoot: join(cacheDir, "git"), proxy: readEnvironment().proxy }),
          createChartSource({ cacheRoot: join(cacheDir, "charts"), proxy: readEnvironment().proxy }),
        ),
        render: (req) => render(req, { tools }),
        credentials: (ns, name) => readCredentials(client, ns, name),
      },
      DEFAULT_CONFIG.enforcement.defaultMode,
    );
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}
