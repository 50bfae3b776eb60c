/**
 * `gitgate dev` (`npm start`): gitgate's main job on an embedded default. A local control plane,
 * a local Git server holding the demo repo from examples/, a chat sink printing alerts here, and
 * gitgate itself; then three commands to try. Ctrl-C stops everything.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { DEFAULT_CONFIG } from "../config/load.js";
import type { GitgateConfig } from "../config/schema.js";
import { createLogger, type LogLevel } from "../log/logger.js";
import type { ClusterClient } from "../cluster/client.js";
import type { KubeObject } from "../manifest/object.js";
import { assetOptionsFromEnv, ensureBinaries } from "../testenv/assets.js";
import { startControlPlane, type ControlPlane } from "../testenv/controlplane.js";
import { examplesDir, readTree } from "../testenv/files.js";
import { startNodeCluster } from "../testenv/node.js";
import { writeStandInArchive } from "../testenv/standins.js";
import { startGitServer, type GitServer } from "../testenv/git-server.js";
import { startRuntime, unregisterWebhooks, type Runtime } from "../runtime/runtime.js";
import { localTools } from "./context.js";
import { paint } from "./style.js";
import { printChatLine } from "./chat-sink.js";

export interface DevFlags {
  kubeconfig?: string;
  logLevel?: LogLevel;
  /** Also start a real node (kubelet, containerd) so the tour's apps run, on stand-in images. */
  withNode?: boolean;
}

const DEMO_APPS = [
  { name: "guestbook", path: "apps/guestbook", mode: "enforce" as const },
  { name: "podinfo", path: "apps/podinfo/overlays/prod", mode: "enforce" as const },
  {
    name: "echo",
    path: "apps/echo-chart",
    mode: "warn" as const,
    helm: { valueFiles: ["values-prod.yaml"] },
  },
];

async function startChatSink(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      printChatLine(body);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/chat` };
}

/** The demo apps not yet Synced (or, with `healthy`, not yet Healthy) when `timeoutMs` ran out. */
async function waitForApps(client: ClusterClient, timeoutMs: number, healthy = false): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = DEMO_APPS.map((a) => a.name);
  while (pending.length > 0 && Date.now() < deadline) {
    const still: string[] = [];
    for (const name of pending) {
      const app = await client.get({
        apiVersion: "gitgate.io/v1alpha1",
        kind: "GitApp",
        namespace: "gitgate-demo",
        name,
      });
      const status = app?.status as
        { health?: string; conditions?: Array<{ type: string; status: string }> } | undefined;
      const synced = status?.conditions?.find((c) => c.type === "Synced");
      if (synced?.status !== "True" || (healthy && status?.health !== "Healthy")) still.push(name);
    }
    pending = still;
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 300));
  }
  return pending;
}

/** gitgate's configuration for the demo: polling, the terminal as alert channel, mTLS when local. */
function demoConfig(cp: ControlPlane | undefined, chatURL: string): GitgateConfig {
  const config = structuredClone(DEFAULT_CONFIG);
  config.clusterName = cp ? "gitgate-dev" : "dev";
  config.leaderElection.enabled = false;
  // The demo's GitApps live in gitgate-demo and are the platform's (they create namespaces).
  config.tenancy = { platformNamespaces: ["gitgate-demo"] };
  config.sync.minInterval = "2s";
  config.enforcement.breakGlass.groups = ["sre-oncall"];
  config.alerts.channels = [{ name: "terminal", type: "webhook", url: chatURL }];
  // The demo syncs by polling (every 2 s); its push receiver takes only signed notifications.
  config.hooks.githubSecret = randomBytes(16).toString("hex");
  // The local control plane authenticates to webhooks with a client certificate: only its
  // AdmissionReviews count, as in a cluster set up per chart/README.md.
  if (cp) config.webhook.clientCA = cp.webhookClient.caPath;
  config.dashboard.enabled = true;
  return config;
}

/** The tour's GitApps (namespace gitgate-demo) on the demo repo (examples/ at its root). */
export function demoGitApps(repoURL: string): KubeObject[] {
  return DEMO_APPS.map((app) => ({
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name: app.name, namespace: "gitgate-demo" },
    spec: {
      source: {
        repoURL: repoURL,
        revision: "main",
        path: app.path,
        ...(app.helm ? { helm: app.helm } : {}),
      },
      destination: { namespace: app.name },
      sync: { interval: "2s", createNamespace: true },
      enforcement: { mode: app.mode },
    },
  }));
}

async function applyDemoApps(client: ClusterClient, repoURL: string): Promise<void> {
  for (const app of demoGitApps(repoURL))
    await client.apply(app, { fieldManager: "gitgate-dev", force: true });
}

/** The whole stop (gitgate, then the servers, then the control plane) takes at most this long. */
export const STOP_BUDGET_MS = 10_000;
/** gitgate's own part of it: in-flight admission requests answered, controllers stopped. */
const RUNTIME_STOP_MS = 5_000;

/** `work`, or undefined once `ms` have passed (the caller goes on without it). */
async function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** With a node, its stop (kubelet's pods, containerd, the host's network state) takes longer. */
export const NODE_STOP_BUDGET_MS = 60_000;

/**
 * The local control plane, with a real node when asked (the tour's apps then run, on stand-in
 * images imported into its containerd). Its stop goes into `cleanups`.
 */
async function startLocalCluster(
  withNode: boolean,
  say: (line: string) => void,
  cleanups: Array<() => Promise<void>>,
): Promise<ControlPlane> {
  const assets = assetOptionsFromEnv();
  const binaries = await ensureBinaries(assets, (line) => say(line));
  if (!withNode) {
    say("starting a local control plane (etcd, kube-apiserver, kube-controller-manager)…");
    const cp = await startControlPlane({ ...assets, binaries });
    cleanups.push(() => cp.stop());
    return cp;
  }
  say("starting a local control plane and a node (kubelet, containerd, kube-proxy)…");
  const cluster = await startNodeCluster({ ...assets, binaries });
  cleanups.push(() => cluster.stop());
  say(`node ${cluster.node.name} Ready in ${cluster.startSeconds.toFixed(0)} s`);
  const dir = await mkdtemp(join(tmpdir(), "gitgate-dev-standins-"));
  try {
    const archive = join(dir, "standins.tar");
    const names = await writeStandInArchive(archive);
    await cluster.node.importImage(archive);
    say(
      paint.yellow(
        "the demo's images cannot be pulled here: the node runs STAND-INS under their names " +
          "(a small HTTP server answering on the same ports and probes, not the real apps):",
      ),
    );
    for (const name of names) say(`  stand-in: ${name}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return cluster.cp;
}

export async function devCommand(flags: DevFlags): Promise<void> {
  const say = (line: string): void => void process.stderr.write(`${paint.dim("[dev]")} ${line}\n`);
  const cleanups: Array<() => Promise<void>> = [];
  let stopping = false;
  // Cleanups run last-registered first: gitgate, the servers, then the control plane it talks to.
  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      const started = Date.now();
      say("stopping…");
      const budget = flags.withNode ? NODE_STOP_BUDGET_MS : STOP_BUDGET_MS;
      const force = setTimeout(() => {
        // The control plane's (and node's) watchdog kills what is left and removes its data.
        say(paint.red(`stop took over ${budget / 1000} s; exiting now`));
        process.exit(code || 1);
      }, budget);
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      clearTimeout(force);
      say(`stopped in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  try {
    if (flags.withNode && flags.kubeconfig)
      throw new Error(
        "--with-node starts its own control plane and node; it cannot be used with --kubeconfig",
      );
    let cp: ControlPlane | undefined;
    let kubeconfig = flags.kubeconfig;
    let userKubeconfig = flags.kubeconfig;
    if (!kubeconfig) {
      cp = await startLocalCluster(Boolean(flags.withNode), say, cleanups);
      kubeconfig = cp.kubeconfigs.gitgate;
      userKubeconfig = cp.kubeconfigs.user;
    }
    const git: GitServer = await startGitServer();
    cleanups.push(() => git.stop());
    const demo = await git.createRepo("demo", await readTree(examplesDir(), "apps"));
    say(`demo repo ${git.repoURL("demo")} at ${demo.commit.slice(0, 7)}`);
    const chat = await startChatSink();
    cleanups.push(() => new Promise((resolve) => chat.server.close(() => resolve())));

    const config = demoConfig(cp, chat.url);
    const cacheDir = await mkdtemp(join(tmpdir(), "gitgate-dev-"));
    cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
    const runtime: Runtime = await startRuntime({
      config,
      logger: createLogger(flags.logLevel ?? "warn"),
      kubeconfig,
      webhookAddress: "127.0.0.1:0",
      tools: await localTools(),
      cacheDir,
      installCrds: true,
      webhookName: "gitgate-dev",
      dashboardAddress: "127.0.0.1:0",
    });
    // Unregister first on the way out: a stopped gitgate must not leave a webhook that fails writes.
    cleanups.push(async () => {
      await within(
        RUNTIME_STOP_MS,
        unregisterWebhooks(runtime.client, "gitgate-dev").catch(() => undefined),
      );
      await within(RUNTIME_STOP_MS, runtime.stop());
    });

    await runtime.client
      .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "gitgate-demo" } })
      .catch(() => undefined);
    await applyDemoApps(runtime.client, git.repoURL("demo"));
    const pending = await waitForApps(runtime.client, 120_000);
    if (pending.length > 0)
      say(paint.red(`not synced yet: ${pending.join(", ")} (see: kubectl get gapp -A)`));
    else say(paint.green("all demo apps synced"));
    if (flags.withNode && pending.length === 0) {
      // Their pods run on the node (stand-in images): wait until the Deployments are Available.
      const unhealthy = await waitForApps(runtime.client, 180_000, true);
      if (unhealthy.length > 0) say(paint.red(`not Healthy yet: ${unhealthy.join(", ")}`));
      else say(paint.green("all demo apps Healthy: their pods run on the node (stand-in images)"));
    }
    printDashboard(runtime, cp);
    printTour(userKubeconfig ?? "", git, cp?.binaries.kubectl ?? "kubectl");
  } catch (err) {
    say(paint.red(`failed: ${err instanceof Error ? err.message : String(err)}`));
    await stop(1);
  }
}

/** The dashboard's URL, and a one-time login link as alice when the control plane is ours. */
function printDashboard(runtime: Runtime, cp: ControlPlane | undefined): void {
  if (!runtime.dashboardUrl) return;
  const token = cp?.tokens.user;
  const link = token && runtime.dashboardLoginLink ? runtime.dashboardLoginLink(token) : undefined;
  const lines = [
    `${paint.bold("Dashboard:")} ${runtime.dashboardUrl}   ${paint.dim("(log in with a Kubernetes bearer token)")}`,
    ...(link ? [`  as alice, once, within 10 minutes: ${link}`] : []),
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

/** The tour's undeclared change: a privileged container Git does not declare. */
export const SIDECAR_PATCH = JSON.stringify([
  {
    op: "add",
    path: "/spec/template/spec/containers/-",
    value: { name: "debug", image: "busybox", securityContext: { privileged: true } },
  },
]);

function printTour(kubeconfig: string, git: GitServer, kubectl: string): void {
  const k = `${kubectl} --kubeconfig ${kubeconfig}`;
  const lines = [
    "",
    paint.bold("gitgate is running. Try, in another terminal:"),
    "",
    `  export KUBECONFIG=${kubeconfig}   ${paint.dim("# as alice, a developer")}`,
    "",
    `${paint.bold("1. An out-of-band edit is denied, naming the Git file:")}`,
    `  ${k} -n guestbook scale deployment guestbook-ui --replicas=5`,
    "",
    `${paint.bold("2. So is a change to a field Git does not declare (a privileged sidecar):")}`,
    `  ${k} -n guestbook patch deployment guestbook-ui --type=json -p '${SIDECAR_PATCH}'`,
    "",
    `${paint.bold("3. A commit to the demo repo is synced:")}`,
    `  git clone -q ${git.repoURL("demo")} gitgate-demo && cd gitgate-demo \\`,
    `    && sed -i 's/replicas: 1/replicas: 2/' apps/guestbook/deployment.yaml \\`,
    `    && git -c user.name=you -c user.email=you@example.com commit -qam "guestbook: 2 replicas" && git push -q`,
    `  ${k} -n guestbook get deployment guestbook-ui -w`,
    "",
    `${paint.bold("4. In warn mode the edit is admitted with a warning (and an alert below):")}`,
    `  ${k} -n echo scale deployment echo-echo --replicas=3`,
    "",
    `  ${k} get gitapps -A    ${paint.dim("# sync, revision and drift state")}`,
    "",
    paint.dim("Alerts appear here. Ctrl-C stops everything."),
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
