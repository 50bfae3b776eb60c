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
import { assetOptionsFromEnv, ensureBinaries } from "../testenv/assets.js";
import { startControlPlane, type ControlPlane } from "../testenv/controlplane.js";
import { examplesDir, readTree } from "../testenv/files.js";
import { startGitServer, type GitServer } from "../testenv/git-server.js";
import { startRuntime, unregisterWebhooks, type Runtime } from "../runtime/runtime.js";
import { localTools } from "./context.js";
import { paint } from "./style.js";
import { printChatLine } from "./chat-sink.js";

export interface DevFlags {
  kubeconfig?: string;
  logLevel?: LogLevel;
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

async function waitForApps(client: ClusterClient, timeoutMs: number): Promise<string[]> {
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
      const synced = (
        app?.status as { conditions?: Array<{ type: string; status: string }> } | undefined
      )?.conditions?.find((c) => c.type === "Synced");
      if (synced?.status !== "True") still.push(name);
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

/** The demo's GitApps, the platform's, in gitgate-demo. */
async function applyDemoApps(client: ClusterClient, repoURL: string): Promise<void> {
  for (const app of DEMO_APPS) {
    await client.apply(
      {
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
      },
      { fieldManager: "gitgate-dev", force: true },
    );
  }
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
      const force = setTimeout(() => {
        // The control plane's watchdog kills what is left and removes its data.
        say(paint.red(`stop took over ${STOP_BUDGET_MS / 1000} s; exiting now`));
        process.exit(code || 1);
      }, STOP_BUDGET_MS);
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      clearTimeout(force);
      say(`stopped in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  try {
    const assets = assetOptionsFromEnv();
    let cp: ControlPlane | undefined;
    let kubeconfig = flags.kubeconfig;
    let userKubeconfig = flags.kubeconfig;
    if (!kubeconfig) {
      const binaries = await ensureBinaries(assets, (line) => say(line));
      say("starting a local control plane (etcd, kube-apiserver, kube-controller-manager)…");
      cp = await startControlPlane({ ...assets, binaries });
      const plane = cp;
      cleanups.push(() => plane.stop());
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
