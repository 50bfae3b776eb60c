/**
 * The Helm chart (chart/) and the plain webhook manifests (webhook-config/): lint, schema, wiring
 * that must agree with gitgate's own code, the real kube-apiserver accepting the rendered objects,
 * install, least-privilege RBAC proven by running gitgate as the chart's ServiceAccount, upgrade,
 * and an uninstall that removes the webhook configurations before anything else.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import {
  mutatingWebhookConfiguration,
  validatingWebhookConfiguration,
  type WebhookConfigOptions,
} from "../src/admission/webhook-config.js";
import { startRuntime, type Runtime } from "../src/runtime/runtime.js";
import { ClusterClient } from "../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../src/cluster/transport.js";
import { Informer, type WatchEventType } from "../src/cluster/watch.js";
import { parseConfig } from "../src/config/load.js";
import type { GitgateConfig } from "../src/config/schema.js";
import { createLogger, silentLogger, type LogLevel } from "../src/log/logger.js";
import { isPlainObject, type KubeObject } from "../src/manifest/object.js";
import { kubeconfigYaml, startControlPlane, type ControlPlane } from "../src/testenv/controlplane.js";
import { examplesDir, readTree } from "../src/testenv/files.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { kubectl, runKubectl } from "../src/testenv/kubectl.js";
import { pinnedTools, type Tools } from "../src/testenv/tools.js";
import { waitFor } from "./harness/env.js";

const ROOT = new URL("..", import.meta.url).pathname;
const CHART = join(ROOT, "chart");
const FIXTURES = join(ROOT, "test", "fixtures", "packaging");
const NS = "gitgate-system";
const WEBHOOK_API = "admissionregistration.k8s.io/v1";
const HOOK = "helm.sh/hook";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let tools: Tools;
let helmHome: string;

/** No gitgate image is published: every render names one, as users must (`image: false` omits it). */
const IMAGE_VALUES = join(FIXTURES, "values-image.yaml");
const RENDERING = new Set(["template", "lint", "install", "upgrade"]);

/**
 * helm with its own config/cache dirs; `kubeconfig` only for commands that talk to a cluster.
 * Rendering commands get values-image.yaml as their first (lowest) values file.
 */
function helm(argv: string[], kubeconfig?: string, opts: { image?: boolean } = {}): Promise<Run> {
  const [command = "", ...rest] = argv;
  const args = opts.image !== false && RENDERING.has(command) ? [command, "-f", IMAGE_VALUES, ...rest] : argv;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: helmHome,
    HELM_CONFIG_HOME: join(helmHome, "config"),
    HELM_CACHE_HOME: join(helmHome, "cache"),
    HELM_DATA_HOME: join(helmHome, "data"),
    KUBECONFIG: kubeconfig ?? join(helmHome, "no-cluster"),
  };
  return new Promise((resolve) => {
    execFile(tools.helm, args, { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function helmOk(args: string[], kubeconfig?: string): Promise<string> {
  const res = await helm(args, kubeconfig);
  assert.equal(res.code, 0, `helm ${args.join(" ")} failed:\n${res.stderr}`);
  return res.stdout;
}

function parseDocs(text: string): KubeObject[] {
  return yaml.loadAll(text).filter((d): d is KubeObject => isPlainObject(d) && typeof d.kind === "string");
}

async function render(args: string[] = [], release = "gitgate", namespace = NS): Promise<KubeObject[]> {
  return parseDocs(await helmOk(["template", release, CHART, "-n", namespace, ...args]));
}

function find(objects: KubeObject[], kind: string, opts: { hook?: boolean } = {}): KubeObject {
  const found = objects.find(
    (o) => o.kind === kind && Boolean(o.metadata.annotations?.[HOOK]) === Boolean(opts.hook),
  );
  assert.ok(found, `no ${kind}${opts.hook ? " hook" : ""} in the rendered chart`);
  return found;
}

function configOf(objects: KubeObject[]): GitgateConfig {
  const data = find(objects, "ConfigMap").data as Record<string, string>;
  return parseConfig(yaml.load(data["config.yaml"] ?? ""), "chart ConfigMap");
}

/** The webhook configurations gitgate itself would register for this config, without caBundle. */
function expectedWebhooks(config: GitgateConfig): KubeObject[] {
  const service = config.webhook.service;
  assert.ok(service, "the chart must set webhook.service");
  const opts: WebhookConfigOptions = {
    namePrefix: config.webhook.namePrefix,
    caBundle: "",
    clientConfig: { service },
    ownNamespace: config.namespace,
    failurePolicy: config.webhook.failurePolicy,
    timeoutSeconds: config.webhook.timeoutSeconds,
  };
  return [validatingWebhookConfiguration(opts), mutatingWebhookConfiguration(opts)].map(withoutCaBundle);
}

function withoutCaBundle(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  for (const hook of copy.webhooks as Array<{ clientConfig: Record<string, unknown> }>)
    delete hook.clientConfig.caBundle;
  return copy;
}

/** The parts of rendered objects the wiring test reads. */
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  image: string;
  args: string[];
  ports: unknown[];
  env: EnvVar[];
  readinessProbe: { httpGet: unknown };
  livenessProbe: { httpGet: unknown };
  volumeMounts: Array<{ name: string; mountPath: string }>;
  securityContext: unknown;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: {
    spec: {
      containers: Container[];
      volumes: Array<{ name: string; emptyDir?: object; configMap?: { name: string } }>;
      securityContext: { runAsNonRoot?: boolean };
      terminationGracePeriodSeconds: number;
    };
  };
}
interface ServiceSpec {
  ports: unknown[];
  selector: Record<string, string>;
}
interface MonitorEndpoint {
  port: string;
  path: string;
  scheme: string;
  tlsConfig: { ca: { secret: unknown } };
}

const specOf = <T>(obj: KubeObject): T => obj.spec as T;

function container(deployment: KubeObject): Container {
  const c = specOf<DeploymentSpec>(deployment).template.spec.containers[0];
  assert.ok(c, "the Deployment has a container");
  return c;
}

/** An address kube-apiserver can be sent to through an Endpoints object (loopback is refused). */
function hostAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

before(async () => {
  tools = await pinnedTools();
  helmHome = await mkdtemp(join(tmpdir(), "gitgate-helm-"));
});
after(async () => {
  if (helmHome) await rm(helmHome, { recursive: true, force: true });
});

describe("chart, rendered without a cluster", () => {
  it("passes helm lint, also --strict with every option set", async () => {
    const plain = await helmOk(["lint", CHART]);
    assert.match(plain, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const full = await helmOk(["lint", "--strict", CHART, "-f", join(FIXTURES, "values-full.yaml")]);
    assert.match(full, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it("without image.repository fails at once, saying how to get an image and what to set", async () => {
    // (helm lint lets `required` pass on purpose; template and install fail.)
    const res = await helm(["template", "gitgate", CHART], undefined, { image: false });
    assert.notEqual(res.code, 0, "helm template without an image");
    assert.match(res.stderr, /image\.repository is required: no gitgate image is published\./);
    assert.match(res.stderr, /npm run image -- --output gitgate\.tar/);
    assert.match(res.stderr, /set image\.repository and image\.tag/);
    const named = await render(["--set", "image.repository=registry.example.com/team/gitgate"]);
    const chartVersion = /^appVersion: "?([^"\n]+)"?$/m.exec(
      await readFile(join(CHART, "Chart.yaml"), "utf8"),
    )?.[1];
    assert.equal(
      container(find(named, "Deployment")).image,
      `registry.example.com/team/gitgate:${chartVersion}`,
    );
  });

  it("rejects values of the wrong type, unknown keys and inline alert URLs, naming the key", async () => {
    const wrongType = await helm([
      "template",
      "gitgate",
      CHART,
      "-f",
      join(FIXTURES, "values-wrong-type.yaml"),
    ]);
    assert.notEqual(wrongType.code, 0);
    assert.match(wrongType.stderr, /replicaCount: Invalid type\. Expected: integer, given: string/);
    const lint = await helm(["lint", CHART, "-f", join(FIXTURES, "values-wrong-type.yaml")]);
    assert.notEqual(lint.code, 0);
    assert.match(lint.stdout + lint.stderr, /replicaCount: Invalid type/);
    const unknown = await helm([
      "template",
      "gitgate",
      CHART,
      "-f",
      join(FIXTURES, "values-unknown-key.yaml"),
    ]);
    assert.match(unknown.stderr, /Additional property replicas is not allowed/);
    const inline = await helm([
      "template",
      "gitgate",
      CHART,
      "-f",
      join(FIXTURES, "values-plain-alert-url.yaml"),
    ]);
    assert.match(inline.stderr, /alerts\.channels\.0: urlFrom is required/);
    assert.match(inline.stderr, /Additional property url is not allowed/);
  });

  it("renders a config file that gitgate's own schema accepts, owning namespace, Service, names", async () => {
    const config = configOf(await render());
    assert.equal(config.namespace, NS);
    assert.deepEqual(config.webhook.service, { name: "gitgate", namespace: NS, port: 443 });
    assert.equal(config.webhook.port, 9443);
    assert.equal(config.webhook.namePrefix, "gitgate");
    assert.equal(config.webhook.certSecret, "gitgate-webhook-tls");
    assert.equal(config.webhook.certCheckInterval, "1h", "webhook.certCheckInterval reaches the config");
    assert.deepEqual(config.leaderElection, { enabled: true, leaseName: "gitgate-leader" });

    const full = configOf(await render(["-f", join(FIXTURES, "values-full.yaml")], "prod", "platform"));
    assert.equal(full.namespace, "platform");
    assert.deepEqual(full.webhook.service, { name: "gate", namespace: "platform", port: 8443 });
    assert.equal(full.webhook.failurePolicy, "Ignore");
    assert.equal(full.enforcement.defaultMode, "warn");
    assert.equal(full.render.maxFileBytes, 8388608);
    assert.deepEqual(full.alerts.channels[1]?.urlFrom, {
      secretName: "gitgate-alerts",
      key: "audit-url",
      namespace: "audit",
    });
    assert.ok(
      full.alerts.channels.every((c) => c.url === undefined),
      "no alert URL in the ConfigMap",
    );
  });

  it("templates exactly the webhook configurations gitgate registers, so its apply takes them over", async () => {
    for (const [args, release, namespace] of [
      [[], "gitgate", NS],
      [["-f", join(FIXTURES, "values-full.yaml")], "prod", "platform"],
    ] as const) {
      const objects = await render([...args], release, namespace);
      const [validating, mutating] = expectedWebhooks(configOf(objects));
      const rendered = [
        find(objects, "ValidatingWebhookConfiguration"),
        find(objects, "MutatingWebhookConfiguration"),
      ];
      assert.deepEqual(
        rendered.map((o) => o.metadata.name),
        [validating?.metadata.name, mutating?.metadata.name],
      );
      assert.deepEqual(rendered[0]?.webhooks, validating?.webhooks);
      assert.deepEqual(rendered[1]?.webhooks, mutating?.webhooks);
    }
  });

  it("keeps webhook-config/ identical to what gitgate registers for the default install", async () => {
    const expected = expectedWebhooks(configOf(await render()));
    for (const [file, want] of [
      ["validating.yaml", expected[0]],
      ["mutating.yaml", expected[1]],
    ] as const) {
      const [doc] = parseDocs(await readFile(join(ROOT, "webhook-config", file), "utf8"));
      assert.deepEqual(doc, want, `webhook-config/${file} differs from src/admission/webhook-config.ts`);
    }
  });

  it("has pre-delete hooks with the webhook configurations' names and no webhooks", async () => {
    const objects = await render();
    for (const kind of ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]) {
      const hook = find(objects, kind, { hook: true });
      assert.equal(hook.metadata.name, find(objects, kind).metadata.name);
      assert.equal(hook.metadata.annotations?.[HOOK], "pre-delete");
      assert.equal(
        hook.metadata.annotations?.["helm.sh/hook-delete-policy"],
        "before-hook-creation,hook-succeeded",
      );
      assert.deepEqual(hook.webhooks, []);
    }
  });

  it("templates a NetworkPolicy for the HTTPS port, limited to networkPolicy.from when set", async () => {
    const open = find(await render(), "NetworkPolicy");
    const spec = open.spec as {
      podSelector: unknown;
      policyTypes: string[];
      ingress: Array<Record<string, unknown>>;
    };
    assert.deepEqual(spec.policyTypes, ["Ingress"]);
    const service = specOf<ServiceSpec>(find(await render(), "Service"));
    assert.deepEqual(spec.podSelector, { matchLabels: service.selector });
    assert.deepEqual(spec.ingress, [{ ports: [{ port: "https", protocol: "TCP" }] }]);
    const limited = find(
      await render(["--set", "networkPolicy.from[0].ipBlock.cidr=10.0.0.0/24"]),
      "NetworkPolicy",
    );
    assert.deepEqual((limited.spec as typeof spec).ingress[0]?.from, [{ ipBlock: { cidr: "10.0.0.0/24" } }]);
    const off = await render(["--set", "networkPolicy.enabled=false"]);
    assert.ok(!off.some((o) => o.kind === "NetworkPolicy"));
  });

  it("serves the dashboard only when dashboard.enabled: config, container port, its own Service, NetworkPolicy", async () => {
    const off = await render();
    assert.equal(configOf(off).dashboard.enabled, false);
    assert.ok(!off.some((o) => o.kind === "Service" && o.metadata.name === "gitgate-dashboard"));
    const on = await render(["--set", "dashboard.enabled=true"]);
    assert.deepEqual(configOf(on).dashboard, {
      enabled: true,
      address: "0.0.0.0:8080",
      secureCookie: true,
      activityEntries: 500,
      streamsPerUser: 4,
      failedLoginsPerMinute: 10,
    });
    assert.deepEqual(container(find(on, "Deployment")).ports, [
      { name: "https", containerPort: 9443, protocol: "TCP" },
      { name: "dashboard", containerPort: 8080, protocol: "TCP" },
    ]);
    const service = on.find((o) => o.kind === "Service" && o.metadata.name === "gitgate-dashboard");
    assert.deepEqual((service?.spec as { ports: unknown }).ports, [
      { name: "http", port: 80, targetPort: "dashboard", protocol: "TCP" },
    ]);
    const policy = find(on, "NetworkPolicy").spec as { ingress: unknown[] };
    assert.deepEqual(policy.ingress[1], { ports: [{ port: "dashboard", protocol: "TCP" }] });
    // The object tree lists Pods, ReplicaSets and Jobs; the activity is read back from Events.
    const listRules = (objects: typeof on): string[] =>
      (
        (
          objects.find((o) => o.kind === "ClusterRole" && o.metadata.name === "gitgate") as unknown as {
            rules: Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[] }>;
          }
        ).rules ?? []
      )
        .filter((r) => r.verbs.length === 1 && r.verbs[0] === "list")
        .flatMap((r) => (r.resources ?? []).map((res) => `${r.apiGroups?.[0] ?? ""}/${res}`));
    assert.deepEqual(listRules(on), ["/pods", "/events", "apps/replicasets", "batch/jobs"]);
    assert.deepEqual(listRules(off), []);
  });

  it("wires the Deployment: probes, ports, downward API, cache dir, security context", async () => {
    const objects = await render();
    const deployment = find(objects, "Deployment");
    const spec = specOf<DeploymentSpec>(deployment).template.spec;
    const c = container(deployment);
    assert.equal(specOf<DeploymentSpec>(deployment).replicas, 2);
    assert.deepEqual(c.args, ["run", "--config=/etc/gitgate/config.yaml"]);
    assert.deepEqual(c.ports, [{ name: "https", containerPort: 9443, protocol: "TCP" }]);
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "https", scheme: "HTTPS" });
    assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "https", scheme: "HTTPS" });
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
    assert.equal(env.POD_NAME, "metadata.name");
    assert.equal(env.POD_NAMESPACE, "metadata.namespace");
    const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.mountPath, m.name]));
    assert.equal(mounts[env.GITGATE_CACHE ?? ""], "cache");
    assert.equal(mounts["/tmp"], "tmp");
    assert.equal(mounts["/etc/gitgate"], "config");
    const volumes = Object.fromEntries(spec.volumes.map((v) => [v.name, v]));
    assert.ok(volumes.cache?.emptyDir && volumes.tmp?.emptyDir);
    assert.equal(volumes.config?.configMap?.name, find(objects, "ConfigMap").metadata.name);
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.ok(spec.terminationGracePeriodSeconds > 5, "longer than gitgate's 5 s drain");
    assert.ok(c.resources.requests?.cpu && c.resources.limits?.memory);

    const service = find(objects, "Service");
    assert.deepEqual(specOf<ServiceSpec>(service).ports, [
      { name: "https", port: 443, targetPort: "https", protocol: "TCP" },
    ]);
    assert.deepEqual(
      specOf<ServiceSpec>(service).selector,
      specOf<DeploymentSpec>(deployment).selector.matchLabels,
    );
    const pdb = find(objects, "PodDisruptionBudget");
    assert.equal(specOf<{ minAvailable: number }>(pdb).minAvailable, 1);
    assert.equal(pdb.apiVersion, "policy/v1");
    assert.equal(
      find(await render(["--kube-version", "1.20.2"]), "PodDisruptionBudget").apiVersion,
      "policy/v1beta1",
    );

    const full = await render(["-f", join(FIXTURES, "values-full.yaml")]);
    const fullEnv = container(find(full, "Deployment")).env.map((e) => e.name);
    assert.ok(
      fullEnv.includes("GITGATE_GITHUB_WEBHOOK_SECRET") && fullEnv.includes("GITGATE_GITLAB_WEBHOOK_TOKEN"),
    );
    assert.equal(
      container(find(full, "Deployment")).image,
      `registry.example.com/platform/gitgate@sha256:${"0123456789abcdef".repeat(4)}`,
    );
  });

  it("renders the ServiceMonitor only when enabled and monitoring.coreos.com/v1 is served", async () => {
    const kinds = async (args: string[]): Promise<string[]> => (await render(args)).map((o) => o.kind);
    assert.ok(!(await kinds([])).includes("ServiceMonitor"));
    assert.ok(!(await kinds(["--set", "serviceMonitor.enabled=true"])).includes("ServiceMonitor"));
    const api = ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"];
    assert.ok(!(await kinds(api)).includes("ServiceMonitor"));
    const monitor = find(await render(["--set", "serviceMonitor.enabled=true", ...api]), "ServiceMonitor");
    const [endpoint] = specOf<{ endpoints: MonitorEndpoint[] }>(monitor).endpoints;
    assert.deepEqual([endpoint?.port, endpoint?.path, endpoint?.scheme], ["https", "/metrics", "https"]);
    assert.deepEqual(endpoint?.tlsConfig.ca.secret, { name: "gitgate-webhook-tls", key: "ca.crt" });
  });
});

interface GitAppStatus {
  revision?: string;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
}

/** A GitApp in namespace default, applied as admin. */
async function applyGitApp(admin: ClusterClient, name: string, spec: Record<string, unknown>): Promise<void> {
  await admin.apply(
    { apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", metadata: { name, namespace: "default" }, spec },
    { fieldManager: "test", force: true },
  );
}

/** Waits until the GitApp's Synced condition has this status; returns it with the status. */
async function waitSyncedCondition(
  admin: ClusterClient,
  name: string,
  want: "True" | "False",
): Promise<{ status: GitAppStatus; condition: NonNullable<GitAppStatus["conditions"]>[number] }> {
  return waitFor(`GitApp ${name} Synced=${want}`, async () => {
    const live = await admin.get({
      apiVersion: "gitgate.io/v1alpha1",
      kind: "GitApp",
      namespace: "default",
      name,
    });
    const status = (live?.status ?? {}) as GitAppStatus;
    const condition = status.conditions?.find((c) => c.type === "Synced" && c.status === want);
    return condition ? { status, condition } : undefined;
  });
}

describe("chart against a real kube-apiserver", () => {
  let cp: ControlPlane;
  let git: GitServer;
  let admin: ClusterClient;
  let cacheDir: string;
  let gitgate: Runtime | undefined;
  let saKubeconfig: string;
  let installedConfig: GitgateConfig;
  const address = hostAddress();
  const k = (kubeconfig: string, args: string[], stdin?: string): ReturnType<typeof kubectl> =>
    kubectl(cp.binaries.kubectl, kubeconfig, args, stdin);

  before(async () => {
    // Only admin is known to the token file: nothing else is bound to cluster-admin, so the chart's
    // ServiceAccount has exactly the chart's RBAC. alice is a human without exemptions.
    // --enable-aggregator-routing: webhook calls to a Service go to its Endpoints, so the API server
    // reaches gitgate through the chart's Service, as in a cluster.
    [cp, git] = await Promise.all([
      startControlPlane({
        identities: [
          { id: "admin", username: "admin", groups: ["system:masters"] },
          { id: "alice", username: "alice", groups: [], clusterAdmin: true },
        ],
        apiserverArgs: ["--enable-aggregator-routing=true"],
      }),
      startGitServer(),
    ]);
    admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
    cacheDir = await mkdtemp(join(tmpdir(), "gitgate-cache-"));
  });
  after(async () => {
    admin?.transport.close();
    // The API server first: its keep-alive connections to gitgate's webhook server then close, so
    // gitgate's stop (which waits for open connections) returns at once.
    await Promise.all([cp?.stop(), git?.stop()]);
    await gitgate?.stop().catch(() => undefined);
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  it("accepts `helm template` output with kubectl apply --dry-run=server (CRDs applied for real)", async () => {
    const adminKc = cp.kubeconfigs.admin ?? "";
    await runKubectl(cp.binaries.kubectl, adminKc, ["apply", "-f", join(CHART, "crds")]);
    await runKubectl(cp.binaries.kubectl, adminKc, ["create", "namespace", "gitgate-dryrun"]);
    for (const values of [[], ["-f", join(FIXTURES, "values-full.yaml")]]) {
      const manifest = await helmOk([
        "template",
        "dry",
        CHART,
        "-n",
        "gitgate-dryrun",
        "--kube-version",
        "1.20.2",
        "--no-hooks",
        ...values,
      ]);
      const res = await k(adminKc, ["apply", "--dry-run=server", "-f", "-"], manifest);
      assert.equal(res.code, 0, res.stderr);
      const accepted = res.stdout.trim().split("\n");
      assert.equal(accepted.length, parseDocs(manifest).length, res.stdout);
      assert.ok(
        accepted.every((line) => / (created|configured|unchanged) \(server dry run\)$/.test(line)),
        res.stdout,
      );
    }
    const hooks = await helmOk([
      "template",
      "dry",
      CHART,
      "-n",
      "gitgate-dryrun",
      "--show-only",
      "templates/webhooks-uninstall.yaml",
    ]);
    const plain = [
      await readFile(join(ROOT, "webhook-config", "validating.yaml"), "utf8"),
      await readFile(join(ROOT, "webhook-config", "mutating.yaml"), "utf8"),
    ];
    for (const manifest of [hooks, plain.join("\n---\n")]) {
      const res = await k(adminKc, ["apply", "--dry-run=server", "-f", "-"], manifest);
      assert.equal(res.code, 0, res.stderr);
    }
  });

  it("helm install without image.repository fails before creating a workload", async () => {
    const adminKc = cp.kubeconfigs.admin ?? "";
    const res = await helm(["install", "gitgate", CHART, "-n", NS, "--create-namespace"], adminKc, {
      image: false,
    });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /image\.repository is required: no gitgate image is published\./);
    const releases = await helmOk(["list", "-n", NS, "-a", "-q"], adminKc);
    assert.equal(releases.trim(), "", "no release recorded");
    const deployments = await admin.list({ apiVersion: "apps/v1", kind: "Deployment", namespace: NS });
    assert.deepEqual(deployments.items, [], "no Deployment created");
  });

  it("helm install creates every object of the release", async () => {
    const adminKc = cp.kubeconfigs.admin ?? "";
    // Without a reachable address for Endpoints, a failing webhook call must not block the sync.
    const extra = address ? [] : ["--set", "webhook.failurePolicy=Ignore"];
    // The test's GitApps live in "default": declared a platform namespace (chart README, Tenancy).
    const tenancy = ["--set", "config.tenancy.platformNamespaces={default}"];
    const out = await helmOk(
      ["install", "gitgate", CHART, "-n", NS, "--create-namespace", ...tenancy, ...extra],
      adminKc,
    );
    assert.match(out, /STATUS: deployed/);
    assert.match(out, /kind: GitApp/, "NOTES.txt shows how to create a first GitApp");
    const manifest = parseDocs(await helmOk(["get", "manifest", "gitgate", "-n", NS], adminKc));
    assert.deepEqual(manifest.map((o) => o.kind).sort(), [
      "ClusterRole",
      "ClusterRole",
      "ClusterRoleBinding",
      "ClusterRoleBinding",
      "ConfigMap",
      "Deployment",
      "MutatingWebhookConfiguration",
      "NetworkPolicy",
      "PodDisruptionBudget",
      "Role",
      "RoleBinding",
      "Service",
      "ServiceAccount",
      "ValidatingWebhookConfiguration",
    ]);
    for (const obj of manifest) {
      const live = await admin.get({
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name ?? "",
      });
      assert.ok(live, `${obj.kind} ${obj.metadata.name} exists`);
    }
    assert.ok(
      await admin.get({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        name: "gitapps.gitgate.io",
      }),
    );
    // No hook objects are left behind by install.
    const hooks = await admin.list({ apiVersion: WEBHOOK_API, kind: "ValidatingWebhookConfiguration" });
    assert.deepEqual(
      hooks.items.map((o) => o.metadata.name),
      ["gitgate-validate"],
    );
  });

  it("grants enough RBAC: gitgate as the chart's ServiceAccount (no cluster-admin) syncs a GitApp", async () => {
    const res = await admin.raw({
      method: "POST",
      path: `/api/v1/namespaces/${NS}/serviceaccounts/gitgate/token`,
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 3600 },
      },
    });
    assert.equal(res.status, 201, res.text);
    const token = (res.body as { status: { token: string } }).status.token;
    saKubeconfig = join(cp.dir, "kubeconfig-chart-sa.yaml");
    await writeFile(saKubeconfig, kubeconfigYaml(cp.server, cp.caPem, "gitgate-sa", token), { mode: 0o600 });

    // Least privilege: what the ServiceAccount must not be able to do.
    for (const [verb, resource, extra] of [
      ["*", "*", ["--all-namespaces"]],
      ["create", "clusterrolebindings", []],
      ["create", "validatingwebhookconfigurations", []],
      ["patch", "validatingwebhookconfigurations/someone-elses", []],
      ["create", "customresourcedefinitions", []],
      ["bind", "clusterroles", []],
      ["create", "pods", ["-n", "default"]],
      ["list", "pods", ["--all-namespaces"]],
      ["update", "leases/other", ["-n", NS]],
    ] as const) {
      const can = await k(saKubeconfig, ["auth", "can-i", verb, resource, ...extra]);
      assert.equal(can.stdout.trim(), "no", `the chart's ServiceAccount can ${verb} ${resource}`);
    }
    assert.equal(
      (await k(saKubeconfig, ["auth", "can-i", "create", "deployments", "-n", "anywhere"])).stdout.trim(),
      "yes",
    );

    // gitgate with the config file the chart installed, in in-cluster mode (Service clientConfig,
    // serving certificate for the Service's DNS names), authenticating with the ServiceAccount token.
    const configMap = await admin.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: NS,
      name: "gitgate-config",
    });
    const config = parseConfig(
      yaml.load((configMap?.data as Record<string, string>)["config.yaml"] ?? ""),
      "installed ConfigMap",
    );
    installedConfig = structuredClone(config);
    assert.equal(config.leaderElection.enabled, true);
    config.sync.minInterval = "1s";
    const level = (process.env.GITGATE_TEST_LOG as LogLevel | undefined) ?? "silent";
    gitgate = await startRuntime({
      config,
      logger: level === "silent" ? silentLogger : createLogger(level),
      kubeconfig: saKubeconfig,
      inCluster: true,
      webhookAddress: `${address ?? "127.0.0.1"}:0`,
      tools,
      cacheDir,
      installCrds: false,
      podName: "gitgate-packaging-test",
      alerts: { emit() {} },
    });
    assert.equal(gitgate.identity.username, `system:serviceaccount:${NS}:gitgate`);
    if (address) {
      // What the endpoints controller would write for a ready pod (no kubelet here).
      const port = Number(new URL(gitgate.url ?? "").port);
      await admin.create({
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: "gitgate", namespace: NS },
        subsets: [{ addresses: [{ ip: address }], ports: [{ name: "https", port, protocol: "TCP" }] }],
      });
    }

    const { commit } = await git.createRepo("deploy", await readTree(examplesDir(), "apps"));
    await applyGitApp(admin, "guestbook", {
      source: { repoURL: git.repoURL("deploy"), revision: "main", path: "apps/guestbook" },
      destination: { namespace: "guestbook" },
      sync: { interval: "1h", createNamespace: true },
    });
    const { status: app } = await waitSyncedCondition(admin, "guestbook", "True");
    assert.equal(app.revision, commit);
    for (const [kind, name] of [
      ["ConfigMap", "guestbook-config"],
      ["Service", "guestbook-ui"],
    ] as const) {
      assert.ok(
        await admin.get({ apiVersion: "v1", kind, namespace: "guestbook", name }),
        `${kind} ${name} applied`,
      );
    }
    const deployment = await admin.get({
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: "guestbook",
      name: "guestbook-ui",
    });
    assert.equal(deployment?.metadata.labels?.["gitgate.io/app"], "default.guestbook");

    // Leader Lease, certificate Secret and webhook configurations: written with the chart's RBAC.
    const lease = await admin.get({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      namespace: NS,
      name: "gitgate-leader",
    });
    assert.equal((lease?.spec as { holderIdentity?: string }).holderIdentity, "gitgate-packaging-test");
    const secret = await admin.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: NS,
      name: "gitgate-webhook-tls",
    });
    const data = (secret?.data ?? {}) as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), ["ca-bundle.crt", "ca.crt", "ca.key", "tls.crt", "tls.key"]);
    const validating = await admin.get({
      apiVersion: WEBHOOK_API,
      kind: "ValidatingWebhookConfiguration",
      name: "gitgate-validate",
    });
    const hooks = validating?.webhooks as Array<{ clientConfig: { caBundle?: string; service?: unknown } }>;
    assert.ok(
      hooks.every((h) => h.clientConfig.caBundle === data["ca-bundle.crt"]),
      "gitgate injected its CA",
    );
    assert.ok(
      validating?.metadata.managedFields?.some((m) => m.manager === "gitgate" && m.operation === "Apply"),
    );
    const labelled = await admin.get({ apiVersion: "v1", kind: "Namespace", name: "kube-system" });
    assert.equal(labelled?.metadata.labels?.["gitgate.io/webhook"], "ignore");
  });

  it("a kind outside rbac.managedResources fails the sync, saying which value to extend", async () => {
    await git.createRepo("forbidden", {
      "apps/priority/priorityclass.yaml": [
        "apiVersion: scheduling.k8s.io/v1",
        "kind: PriorityClass",
        "metadata: {name: gitgate-test-high}",
        "value: 1000",
      ].join("\n"),
    });
    await applyGitApp(admin, "priority", {
      source: { repoURL: git.repoURL("forbidden"), revision: "main", path: "apps/priority" },
      destination: { namespace: "default" },
      sync: { interval: "1h" },
    });
    const { condition: synced } = await waitSyncedCondition(admin, "priority", "False");
    assert.equal(synced.reason, "Forbidden");
    assert.match(synced.message ?? "", /may not list PriorityClass \(scheduling\.k8s\.io\/v1\)/);
    assert.match(synced.message ?? "", /rbac\.managedResources/);
    assert.equal(
      await admin.get({
        apiVersion: "scheduling.k8s.io/v1",
        kind: "PriorityClass",
        name: "gitgate-test-high",
      }),
      undefined,
    );
  });

  it("admission reaches gitgate through the chart's Service and caBundle", async (t) => {
    // Skipped only on a machine without one (scripts/run-tests.mjs fails such a run under CI).
    if (!address) return t.skip("no non-loopback IPv4 address for an Endpoints object");
    const alice = cp.kubeconfigs.alice ?? "";
    const scale = await k(alice, ["-n", "guestbook", "scale", "deployment/guestbook-ui", "--replicas=5"]);
    assert.notEqual(scale.code, 0, scale.stdout);
    assert.match(
      scale.stderr,
      /admission webhook "scale\.gitgate\.io" denied the request: Deployment guestbook\/guestbook-ui is managed by Git: spec\.replicas is 1 in .*, request has 5\./,
    );
  });

  it("helm upgrade keeps the caBundle, and gitgate cannot re-create a deleted webhook configuration", async () => {
    const adminKc = cp.kubeconfigs.admin ?? "";
    const before = await admin.get({
      apiVersion: WEBHOOK_API,
      kind: "ValidatingWebhookConfiguration",
      name: "gitgate-validate",
    });
    await admin.delete({
      apiVersion: WEBHOOK_API,
      kind: "MutatingWebhookConfiguration",
      name: "gitgate-mutate",
    });
    const sa = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: saKubeconfig })));
    try {
      // What a gitgate pod still running after `helm uninstall` would do: server-side apply with
      // the caBundle. Creating needs the create verb, which the chart does not grant.
      const [, mutating] = expectedWebhooks(installedConfig);
      await assert.rejects(
        sa.apply(mutating as KubeObject, { fieldManager: "gitgate", force: true }),
        /forbidden/i,
      );
    } finally {
      sa.transport.close();
    }
    const extra = address ? [] : ["--set", "webhook.failurePolicy=Ignore"];
    await helmOk(["upgrade", "gitgate", CHART, "-n", NS, ...extra], adminKc);
    const validating = await admin.get({
      apiVersion: WEBHOOK_API,
      kind: "ValidatingWebhookConfiguration",
      name: "gitgate-validate",
    });
    assert.deepEqual(validating?.webhooks, before?.webhooks, "upgrade changed the live webhooks");
    const mutating = await admin.get({
      apiVersion: WEBHOOK_API,
      kind: "MutatingWebhookConfiguration",
      name: "gitgate-mutate",
    });
    const bundle = (before?.webhooks as Array<{ clientConfig: { caBundle?: string } }>)[0]?.clientConfig
      .caBundle;
    assert.ok(bundle);
    assert.equal(
      (mutating?.webhooks as Array<{ clientConfig: { caBundle?: string } }>)[0]?.clientConfig.caBundle,
      bundle,
      "re-created with the CA (lookup)",
    );
  });

  it("helm uninstall deletes the webhook configurations first, then every other object", async () => {
    // gitgate keeps running, as its pods do while Helm deletes the release.
    const adminKc = cp.kubeconfigs.admin ?? "";
    const manifest = parseDocs(await helmOk(["get", "manifest", "gitgate", "-n", NS], adminKc));
    // Watch every kind of the release; a DELETED event carries the resourceVersion (etcd revision)
    // of the deletion, a total order across kinds.
    const events: Array<{ type: WatchEventType; obj: KubeObject }> = [];
    const informers = [...new Set(manifest.map((o) => `${o.apiVersion}|${o.kind}`))].map((id) => {
      const [apiVersion = "", kind = ""] = id.split("|");
      return new Informer(
        admin,
        { apiVersion, kind },
        (type, obj) => events.push({ type, obj }),
        silentLogger,
      );
    });
    informers.forEach((i) => i.start());
    await Promise.all(informers.map((i) => i.hasSynced()));
    events.length = 0;
    try {
      const out = await helmOk(["uninstall", "gitgate", "-n", NS], adminKc);
      assert.match(out, /release "gitgate" uninstalled/);
      for (const obj of manifest) {
        await waitFor(`${obj.kind} ${obj.metadata.name} deleted`, async () => {
          const live = await admin.get({
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            namespace: obj.metadata.namespace,
            name: obj.metadata.name ?? "",
          });
          return live === undefined;
        });
      }
      await waitFor("every deletion observed", () =>
        Promise.resolve(events.filter((e) => e.type === "DELETED").length >= manifest.length),
      );
    } finally {
      informers.forEach((i) => i.stop());
    }
    const name = (o: KubeObject): string => `${o.kind}/${o.metadata.name}`;
    const firstDeletion = new Map<string, number>();
    for (const e of events) {
      if (e.type === "DELETED" && !firstDeletion.has(name(e.obj)))
        firstDeletion.set(name(e.obj), Number(e.obj.metadata.resourceVersion));
    }
    const webhooks = [
      "ValidatingWebhookConfiguration/gitgate-validate",
      "MutatingWebhookConfiguration/gitgate-mutate",
    ];
    const lastWebhookDeletion = Math.max(...webhooks.map((w) => firstDeletion.get(w) ?? Infinity));
    const others = manifest.map(name).filter((n) => !webhooks.includes(n));
    for (const other of others) {
      const at = firstDeletion.get(other);
      assert.ok(at !== undefined, `${other} deleted`);
      assert.ok(
        lastWebhookDeletion < at,
        `${other} was deleted (rv ${at}) before the webhook configurations (rv ${lastWebhookDeletion})`,
      );
    }
    // The pre-delete stand-ins existed only briefly and intercepted nothing.
    const standIns = events.filter((e) => e.type === "ADDED" && webhooks.includes(name(e.obj)));
    assert.equal(standIns.length, 2);
    assert.ok(standIns.every((e) => ((e.obj.webhooks as unknown[] | undefined) ?? []).length === 0));
    // The CRD stays (Helm never deletes crds/), and so do the GitApp and what it applied.
    assert.ok(
      await admin.get({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        name: "gitapps.gitgate.io",
      }),
    );
    assert.ok(
      await admin.get({
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: "guestbook",
        name: "guestbook-ui",
      }),
    );
  });
});
