/**
 * A real Kubernetes control plane for tests and `gitgate dev` (the envtest pattern): etcd,
 * kube-apiserver and kube-controller-manager on free loopback ports, token identities, one
 * kubeconfig per identity. No scheduler or kubelet: Pods stay Pending. kube-apiserver presents a
 * client certificate to every admission webhook (its admission config's kubeconfig), as a cluster
 * running gitgate with webhook.clientCA is set up.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinaries, type AssetOptions, type ControlPlaneBinaries } from "./assets.js";
import { createClientCA, createClientCert, type CertKey } from "./client-certs.js";
import {
  ENV_DIR_PREFIX,
  freePort,
  logTail,
  startProcess,
  startWatchdog,
  stopProcess,
  sweepStaleEnvironments,
  writeOwner,
  type Supervised,
} from "./processes.js";

export interface Identity {
  /** Key used in `kubeconfigs` and `tokens`. */
  id: string;
  username: string;
  groups: string[];
  /** Bind the username to cluster-admin so that only admission can stop it. */
  clusterAdmin?: boolean;
}

export const GITGATE_NAMESPACE = "gitgate-system";
export const GITGATE_SA_USERNAME = `system:serviceaccount:${GITGATE_NAMESPACE}:gitgate`;

/** admin (system:masters); alice, a human with no special groups; gitgate's service account; an
 * on-call engineer in the break-glass group; a platform engineer in an exempt group. */
export const DEFAULT_IDENTITIES: Identity[] = [
  { id: "admin", username: "admin", groups: ["system:masters"] },
  { id: "user", username: "alice", groups: [], clusterAdmin: true },
  {
    id: "gitgate",
    username: GITGATE_SA_USERNAME,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${GITGATE_NAMESPACE}`],
    clusterAdmin: true,
  },
  { id: "oncall", username: "bob", groups: ["sre-oncall"], clusterAdmin: true },
  { id: "platform", username: "carol", groups: ["platform-admins"], clusterAdmin: true },
];

export interface ControlPlaneOptions extends AssetOptions {
  identities?: Identity[];
  /** The CN of kube-apiserver's webhook client certificate (default WEBHOOK_CLIENT_NAME). */
  webhookClientName?: string;
  /** Start kube-controller-manager when available (default true). */
  controllerManager?: boolean;
  binaries?: ControlPlaneBinaries;
  /** Extra kube-apiserver flags. */
  apiserverArgs?: string[];
  /**
   * Set up for a real node (src/testenv/node.ts): kube-apiserver listens on all interfaces and
   * advertises `address` (pods cannot reach the host's 127.0.0.1), Node authorization,
   * ServiceAccount admission, webhook calls to endpoints, and every controller.
   */
  forNode?: { address: string; nodeName: string };
}

/** The pod and service ranges of a control plane started `forNode`. */
export const CLUSTER_CIDR = "10.244.0.0/16";
export const SERVICE_CIDR = "10.96.0.0/16";

/** The subject CN of the client certificate kube-apiserver presents to webhooks. */
export const WEBHOOK_CLIENT_NAME = "kube-apiserver-webhook-client";

/** What kube-apiserver authenticates to admission webhooks with. */
export interface WebhookClient {
  /** PEM file of the CA that signed kube-apiserver's client certificate (gitgate's webhook.clientCA). */
  caPath: string;
  ca: CertKey;
  /** kube-apiserver's client certificate (CN `commonName`), for tests that post as it. */
  cert: string;
  key: string;
  commonName: string;
}

export interface ControlPlane {
  server: string;
  /** PEM bundle that verifies the API server's certificate. */
  caPem: string;
  dir: string;
  binaries: ControlPlaneBinaries;
  /** Path of a kubeconfig file per identity id. */
  kubeconfigs: Record<string, string>;
  tokens: Record<string, string>;
  identities: Identity[];
  webhookClient: WebhookClient;
  stop(): Promise<void>;
}

function tokenFileLine(token: string, identity: Identity, uid: number): string {
  const groups = identity.groups.join(",");
  return `${token},${identity.username},${uid}${groups ? `,"${groups}"` : ""}`;
}

export function kubeconfigYaml(server: string, caPem: string, user: string, token: string): string {
  const ca = Buffer.from(caPem).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: testenv",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    "users:",
    `- name: ${JSON.stringify(user)}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: testenv",
    "  context:",
    "    cluster: testenv",
    `    user: ${JSON.stringify(user)}`,
    "current-context: testenv",
    "",
  ].join("\n");
}

/**
 * kube-apiserver's admission config (Kubernetes 1.20, apiserver.config.k8s.io/v1): both webhook
 * plugins read one kubeconfig whose user `*` (any webhook host) is a client certificate.
 */
async function writeWebhookClientConfig(
  dir: string,
  commonName: string,
): Promise<{ client: WebhookClient; configFile: string }> {
  const ca = createClientCA("gitgate-testenv-webhook-client-ca");
  const leaf = createClientCert(ca, commonName);
  const caPath = join(dir, "webhook-client-ca.crt");
  await writeFile(caPath, ca.cert);
  const b64 = (pem: string): string => Buffer.from(pem).toString("base64");
  const kubeconfig = join(dir, "webhook-client.kubeconfig");
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      users: [
        { name: "*", user: { "client-certificate-data": b64(leaf.cert), "client-key-data": b64(leaf.key) } },
      ],
    }),
    { mode: 0o600 },
  );
  const plugin = (name: string): object => ({
    name,
    configuration: {
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "WebhookAdmissionConfiguration",
      kubeConfigFile: kubeconfig,
    },
  });
  const configFile = join(dir, "admission-config.json");
  await writeFile(
    configFile,
    JSON.stringify({
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "AdmissionConfiguration",
      plugins: [plugin("ValidatingAdmissionWebhook"), plugin("MutatingAdmissionWebhook")],
    }),
  );
  return {
    client: { caPath, ca, cert: leaf.cert, key: leaf.key, commonName },
    configFile,
  };
}

async function waitReady(
  server: string,
  token: string,
  caPem: string,
  proc: Supervised,
  timeoutMs: number,
): Promise<void> {
  const { request } = await import("node:https");
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) break;
    last = await new Promise<string>((resolve) => {
      const req = request(
        `${server}/readyz`,
        { headers: { authorization: `Bearer ${token}` }, ca: caPem, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(String(res.statusCode));
        },
      );
      req.on("error", (err) => resolve(err.message));
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.end();
    });
    if (last === "200") return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`kube-apiserver not ready (${last}); log tail:\n${await logTail(proc)}`);
}

/** etcd up, or its own error (a port taken meanwhile says "address already in use") instead of kube-apiserver's. */
async function waitEtcdListening(proc: Supervised, port: number): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && proc.child.exitCode === null) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd not listening on ${port}; log tail:\n${await logTail(proc)}`);
}

async function readCa(certDir: string, proc: Supervised): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const pem = await readFile(join(certDir, "apiserver.crt"), "utf8").catch(() => "");
    if (pem.includes("END CERTIFICATE")) return pem;
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`kube-apiserver wrote no serving certificate; log tail:\n${await logTail(proc)}`);
}

/** Bind conflicts are retried with fresh ports: another test file may take a port between draw and bind. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  await sweepStaleEnvironments();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startControlPlaneOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !err.message.includes("address already in use"))
        throw err;
    }
  }
}

async function startControlPlaneOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const binaries = opts.binaries ?? (await findBinaries(opts));
  const node = opts.forNode;
  const identities = [
    ...(opts.identities ?? DEFAULT_IDENTITIES),
    ...(node ? [{ id: "node", username: `system:node:${node.nodeName}`, groups: ["system:nodes"] }] : []),
  ];
  const dir = await mkdtemp(join(tmpdir(), ENV_DIR_PREFIX));
  await mkdir(join(dir, "logs"));
  await writeOwner(dir);
  const watchdog = startWatchdog(dir);
  const procs: Supervised[] = [];

  const stop = async (): Promise<void> => {
    for (const proc of [...procs].reverse()) await stopProcess(proc);
    await rm(dir, { recursive: true, force: true });
    // The shell defers SIGTERM until its `sleep 1` ends; SIGKILL ends it now, and stop() returns
    // only once nothing of this environment runs.
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      const gone = new Promise<void>((resolve) => watchdog.once("exit", () => resolve()));
      watchdog.ref(); // unref'd at start so it never holds the process open; here it must
      watchdog.kill("SIGKILL");
      await gone;
    }
  };

  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcd = await startProcess(dir, "etcd", binaries.etcd, [
      "--name=default",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--log-level=warn",
    ]);
    procs.push(etcd);
    await waitEtcdListening(etcd, etcdPort);

    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await writeFile(join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
    await writeFile(join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
    });
    const tokens: Record<string, string> = {};
    identities.forEach((identity) => (tokens[identity.id] = randomBytes(24).toString("hex")));
    const tokenFile = identities.map((identity, i) =>
      tokenFileLine(tokens[identity.id] ?? "", identity, 1000 + i),
    );
    await writeFile(join(dir, "tokens.csv"), tokenFile.join("\n") + "\n", { mode: 0o600 });

    const webhookClient = await writeWebhookClientConfig(dir, opts.webhookClientName ?? WEBHOOK_CLIENT_NAME);
    const certDir = join(dir, "certs");
    const apiserver = await startProcess(dir, "kube-apiserver", binaries.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--cert-dir=${certDir}`,
      `--secure-port=${apiPort}`,
      "--insecure-port=0",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${join(dir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(dir, "sa.key")}`,
      `--token-auth-file=${join(dir, "tokens.csv")}`,
      "--allow-privileged=true",
      ...(node
        ? [
            "--bind-address=0.0.0.0",
            `--advertise-address=${node.address}`,
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--enable-aggregator-routing=true",
            // The node's name does not resolve: kube-apiserver reaches kubelet at its IP.
            "--kubelet-preferred-address-types=InternalIP",
            `--service-cluster-ip-range=${SERVICE_CIDR}`,
          ]
        : [
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--disable-admission-plugins=ServiceAccount",
          ]),
      `--admission-control-config-file=${webhookClient.configFile}`,
      ...(opts.apiserverArgs ?? []),
    ]);
    procs.push(apiserver);
    // Pods reach kube-apiserver at the advertised address, which its certificate always names.
    const server = `https://${node?.address ?? "127.0.0.1"}:${apiPort}`;
    const caPem = await readCa(certDir, apiserver);
    await waitReady(server, tokens.admin ?? Object.values(tokens)[0] ?? "", caPem, apiserver, 90_000);

    const kubeconfigs: Record<string, string> = {};
    for (const identity of identities) {
      const path = join(dir, `kubeconfig-${identity.id}.yaml`);
      await writeFile(path, kubeconfigYaml(server, caPem, identity.username, tokens[identity.id] ?? ""), {
        mode: 0o600,
      });
      kubeconfigs[identity.id] = path;
    }

    const admins = identities.filter((i) => i.clusterAdmin).map((i) => i.username);
    if (admins.length > 0 && kubeconfigs.admin)
      await bindClusterAdmin(binaries.kubectl, kubeconfigs.admin, admins);

    if (opts.controllerManager !== false && binaries.kubeControllerManager && kubeconfigs.admin) {
      procs.push(
        await startProcess(dir, "kube-controller-manager", binaries.kubeControllerManager, [
          `--kubeconfig=${kubeconfigs.admin}`,
          "--leader-elect=false",
          ...(node
            ? [
                "--controllers=*",
                `--service-account-private-key-file=${join(dir, "sa.key")}`,
                `--root-ca-file=${join(certDir, "apiserver.crt")}`,
                "--use-service-account-credentials",
                "--allocate-node-cidrs",
                `--cluster-cidr=${CLUSTER_CIDR}`,
                `--service-cluster-ip-range=${SERVICE_CIDR}`,
                "--node-monitor-grace-period=20s",
                `--flex-volume-plugin-dir=${join(dir, "volume-plugins")}`,
              ]
            : [
                "--controllers=namespace,garbagecollector,clusterrole-aggregation,deployment,replicaset,statefulset,daemonset,job,persistentvolume-binder",
              ]),
          "--bind-address=127.0.0.1",
          "--secure-port=0",
          "--port=0",
        ]),
      );
    }
    return {
      server,
      caPem,
      dir,
      binaries,
      kubeconfigs,
      tokens,
      identities,
      webhookClient: webhookClient.client,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function bindClusterAdmin(kubectl: string, kubeconfig: string, usernames: string[]): Promise<void> {
  const binding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "gitgate-testenv-cluster-admins" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: usernames.map((name) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "User", name })),
  };
  const { runKubectl } = await import("./kubectl.js");
  await runKubectl(kubectl, kubeconfig, ["apply", "-f", "-"], JSON.stringify(binding));
}
