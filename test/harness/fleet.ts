/**
 * One gitgate and three real control planes: the hub (where gitgate, its GitApps, GitAppSets and
 * the cluster Secrets live) and two clusters to register, dev and staging; a Git server. gitgate's
 * webhook listens on a fixed loopback port so that `webhook.url` is known before it starts (each
 * remote API server calls back with its cluster in the path), with every API server's webhook client
 * CA in one bundle (mutual TLS as in production). Each API server presents its own certificate name
 * (`dev-apiserver`, `staging-apiserver`; the hub the default), and the cluster Secrets bind them to
 * their paths (`webhookClientNames`). The dashboard is on. Used by test/multicluster*.test.ts.
 */
import { createHmac } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GitApp } from "../../src/api/gitapp.js";
import { ClusterClient } from "../../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../../src/cluster/transport.js";
import { DEFAULT_CONFIG } from "../../src/config/load.js";
import type { GitgateConfig } from "../../src/config/schema.js";
import { createLogger, type LogLevel } from "../../src/log/logger.js";
import type { AlertEvent } from "../../src/manifest/event.js";
import { startRuntime, type Runtime } from "../../src/runtime/runtime.js";
import { call } from "../../src/testenv/admission-client.js";
import { kubeconfigYaml, startControlPlane, type ControlPlane } from "../../src/testenv/controlplane.js";
import { startGitServer, type GitServer } from "../../src/testenv/git-server.js";
import { kubectl } from "../../src/testenv/kubectl.js";
import { pinnedTools } from "../../src/testenv/tools.js";
import { startAll } from "./start-all.js";
import { condition, waitFor } from "./env.js";

export const NS = "gitgate-system";
export const REMOTES = ["dev", "staging"] as const;
export type Remote = (typeof REMOTES)[number];
/** The GitHub push webhook secret gitgate is configured with. */
const PUSH_SECRET = "fleet-push-secret";

export interface Fleet {
  hub: ControlPlane;
  remote: Record<Remote, ControlPlane>;
  git: GitServer;
  gitgate: Runtime;
  /** The hub as admin. */
  admin: ClusterClient;
  webhookUrl: string;
  alerts: AlertEvent[];
  /** kubectl on one control plane as one of its identities (default the developer, alice). */
  k(cp: ControlPlane, args: string[], identity?: string): ReturnType<typeof kubectl>;
  /**
   * The Secret that registers a remote cluster (gitgate's token there), with extra labels, binding
   * its kube-apiserver's client certificate to its webhook path.
   */
  register(name: Remote, labels?: Record<string, string>): Promise<void>;
  getApp(name: string, namespace?: string): Promise<GitApp | undefined>;
  applyApp(name: string, spec: GitApp["spec"], namespace?: string): Promise<void>;
  /** Waits for Synced=True (at `at` when given). */
  synced(name: string, at?: string, timeoutMs?: number): Promise<GitApp>;
  /** A signed GitHub push event for `repoURL`'s main branch to gitgate's `/hooks/git`: its HTTP status. */
  push(repoURL: string, commit: string): Promise<number>;
  /** The fleet Deployment `<env>-web`'s spec.replicas on a cluster, or the kubectl error. */
  replicas(cp: ControlPlane, env: string): Promise<string>;
  /** Waits until gitgate's validating webhook configuration is on a remote cluster. */
  webhookRegistered(name: Remote): Promise<void>;
  /** A dashboard API answer as the hub's user alice (a bearer token, checked by TokenReview). */
  dashboard<T>(path: string): Promise<T>;
  /** Stops one remote control plane now (the rest stop in `stop`). */
  stopRemote(name: Remote): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function fleetConfig(webhookUrl: string, clientCA: string): GitgateConfig {
  const config = structuredClone(DEFAULT_CONFIG);
  config.clusterName = "hub";
  config.webhook.enabled = true;
  config.webhook.url = webhookUrl;
  config.webhook.clientCA = clientCA;
  config.leaderElection.enabled = false;
  config.tenancy = { platformNamespaces: ["default"] };
  config.sync.minInterval = "1s";
  config.enforcement.exemptGroups = ["system:masters"];
  config.hooks.githubSecret = PUSH_SECRET;
  config.dashboard.enabled = true;
  return config;
}

export async function startFleet(): Promise<Fleet> {
  const [hub, dev, staging, git, tools] = await startAll([
    startControlPlane(),
    startControlPlane({ webhookClientName: "dev-apiserver" }),
    startControlPlane({ webhookClientName: "staging-apiserver" }),
    startGitServer(),
    pinnedTools(),
  ] as const);
  const remote: Record<Remote, ControlPlane> = { dev, staging };
  const running = new Set<ControlPlane>([hub, dev, staging]);
  const cacheDir = await mkdtemp(join(tmpdir(), "gitgate-fleet-"));
  const admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: hub.kubeconfigs.admin })));
  const alerts: AlertEvent[] = [];
  const stopAll = async (gitgate?: Runtime): Promise<void> => {
    await gitgate?.stop().catch(() => undefined);
    admin.transport.close();
    await Promise.all([...running].map((cp) => cp.stop()));
    running.clear();
    await git.stop();
    await rm(cacheDir, { recursive: true, force: true });
  };
  let gitgate: Runtime;
  const port = await freePort();
  const webhookUrl = `https://127.0.0.1:${port}`;
  try {
    const clientCA = join(cacheDir, "webhook-clients.pem");
    const bundle = await Promise.all(
      [hub, dev, staging].map((cp) => readFile(cp.webhookClient.caPath, "utf8")),
    );
    await writeFile(clientCA, bundle.join(""));
    gitgate = await startRuntime({
      config: fleetConfig(webhookUrl, clientCA),
      logger: createLogger((process.env.GITGATE_TEST_LOG as LogLevel | undefined) ?? "silent"),
      kubeconfig: hub.kubeconfigs.gitgate,
      webhookAddress: `127.0.0.1:${port}`,
      dashboardAddress: "127.0.0.1:0",
      tools,
      cacheDir,
      alerts: { emit: (e) => alerts.push(e) },
      installCrds: true,
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  const getApp = async (name: string, namespace = "default"): Promise<GitApp | undefined> =>
    (await admin.get({ apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", namespace, name })) as
      GitApp | undefined;
  return {
    hub,
    remote,
    git,
    gitgate,
    admin,
    webhookUrl,
    alerts,
    k: (cp, args, identity = "user") => kubectl(cp.binaries.kubectl, cp.kubeconfigs[identity] ?? "", args),
    register: async (name, labels = {}) => {
      const cp = remote[name];
      const kubeconfig = kubeconfigYaml(cp.server, cp.caPem, "gitgate", cp.tokens.gitgate ?? "");
      await admin.apply(
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: {
            name: `cluster-${name}`,
            namespace: NS,
            labels: { ...labels, "gitgate.io/secret-type": "cluster" },
          },
          stringData: { name, kubeconfig, webhookClientNames: cp.webhookClient.commonName },
        },
        { fieldManager: "test", force: true },
      );
    },
    getApp,
    applyApp: async (name, spec, namespace = "default") => {
      await admin.apply(
        { apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", metadata: { name, namespace }, spec },
        { fieldManager: "test", force: true },
      );
    },
    synced: (name, at, timeoutMs = 60_000) =>
      waitFor(
        `GitApp ${name} synced${at ? ` at ${at.slice(0, 7)}` : ""}`,
        async () => {
          const app = await getApp(name);
          return condition(app, "Synced")?.status === "True" && (!at || app?.status?.revision === at)
            ? app
            : undefined;
        },
        timeoutMs,
      ),
    push: async (url, commit) => {
      const body = JSON.stringify({ ref: "refs/heads/main", after: commit, repository: { clone_url: url } });
      const signature = `sha256=${createHmac("sha256", PUSH_SECRET).update(body).digest("hex")}`;
      const answer = await call(`${webhookUrl}/hooks/git`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "push",
          "x-hub-signature-256": signature,
        },
        ca: gitgate.caPem ?? "",
        body,
      });
      return answer.status;
    },
    replicas: async (cp, env) => {
      const r = await kubectl(cp.binaries.kubectl, cp.kubeconfigs.user ?? "", [
        "-n",
        "web",
        "get",
        "deployment",
        `${env}-web`,
        "-o",
        "jsonpath={.spec.replicas}",
      ]);
      return r.code === 0 ? r.stdout.trim() : `error: ${r.stderr}`;
    },
    webhookRegistered: async (name) => {
      const cp = remote[name];
      const args = ["get", "validatingwebhookconfiguration", "gitgate-validate"];
      await waitFor(
        `${name}'s webhook registered`,
        async () => (await kubectl(cp.binaries.kubectl, cp.kubeconfigs.admin ?? "", args)).code === 0,
      );
    },
    dashboard: async <T>(path: string): Promise<T> => {
      const res = await fetch(`${gitgate.dashboardUrl ?? ""}${path}`, {
        headers: { authorization: `Bearer ${hub.tokens.user ?? ""}` },
      });
      if (res.status !== 200) throw new Error(`dashboard ${path}: ${res.status}`);
      return (await res.json()) as T;
    },
    stopRemote: async (name) => {
      running.delete(remote[name]);
      await remote[name].stop();
    },
    stop: () => stopAll(gitgate),
  };
}
