/**
 * gitgate as users run it (issue #14): a real node (src/testenv/node.ts), gitgate's own image built
 * from the Dockerfile (src/testenv/image.ts), `helm install` of chart/. Two replicas Ready, one
 * leader, webhooks served through the Service by the pods, a developer's `kubectl scale` of a
 * GitApp-managed Deployment denied in-cluster, the synced Deployment Available and the GitApp
 * Healthy, an ssh:// GitApp fetched by the pods with the image's git and ssh (issue #15), the tour's
 * demo apps synced with each pod's memory, and `helm uninstall` leaving no webhook configuration.
 * Prints its figures.
 */
import { strict as assert } from "node:assert";
import { execFile, spawn } from "node:child_process";
import { access, link, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { createServingCert } from "../src/certs/index.js";
import { buildImage, type BuiltImage } from "../src/testenv/image.js";
import { kubectl } from "../src/testenv/kubectl.js";
import {
  BRIDGE_GATEWAY,
  hostAddress,
  nodeLeftovers,
  PAUSE_IMAGE,
  startNodeCluster,
  type NodeCluster,
} from "../src/testenv/node.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { demoGitApps } from "../src/cli/cmd-dev.js";
import { examplesDir, readTree } from "../src/testenv/files.js";
import { generateKey, startSshServer, type SshServer } from "../src/testenv/sshd.js";
import { pinnedTools, type PinnedTools } from "../src/testenv/tools.js";
import { assertDenied } from "./harness/denied.js";
import { startEnv, waitFor, type TestEnv } from "./harness/env.js";

const ROOT = new URL("..", import.meta.url).pathname;
const CHART = join(ROOT, "chart");
const NS = "gitgate-system";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let cluster: NodeCluster;
let image: BuiltImage;
let tools: PinnedTools;
let work: string;
let git: GitServer | undefined;
let sshd: SshServer | undefined;
const started = Date.now();
const figures: Record<string, string> = {};

function helm(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: work,
    HELM_CONFIG_HOME: join(work, "helm", "config"),
    HELM_CACHE_HOME: join(work, "helm", "cache"),
    HELM_DATA_HOME: join(work, "helm", "data"),
    KUBECONFIG: cluster.cp.kubeconfigs.admin,
  };
  return new Promise((resolve) => {
    execFile(tools.helm, args, { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const k = (identity: string, args: string[], stdin?: string): Promise<Run> =>
  kubectl(cluster.cp.binaries.kubectl, cluster.cp.kubeconfigs[identity] ?? "", args, stdin);

async function json<T>(args: string[]): Promise<T> {
  const r = await k("admin", [...args, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

interface Pod {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  status: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}
const ready = (p: Pod): boolean =>
  p.status.phase === "Running" &&
  p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

async function gitgatePods(): Promise<Pod[]> {
  return (await json<{ items: Pod[] }>(["-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=gitgate"]))
    .items;
}

/** On failure, the GitApp, the workloads and gitgate's logs in the error. */
async function withDiagnostics<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const parts = await Promise.all([
      k("admin", ["get", "gitapps", "-A", "-o", "yaml"]),
      k("admin", ["get", "all", "-A", "-o", "wide"]),
      k("admin", ["-n", NS, "logs", "-l", "app.kubernetes.io/name=gitgate", "--tail=40", "--prefix"]),
    ]);
    const dump = parts.map((p) => p.stdout + p.stderr).join("\n---\n");
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${dump}`);
  }
}

/**
 * Admission load, bounded in count and time: developers (alice) scaling the managed Deployment,
 * which gitgate must refuse, and an exempt writer (admin, system:masters) annotating it, which
 * gitgate must admit. Both go through the webhooks (the object carries gitgate's label).
 */
interface LoadCounts {
  denied: number;
  deniedErrors: number;
  allowed: number;
  written: number;
  writeErrors: number;
  firstErrors: string[];
}
function startLoad(maxSeconds = 300): { stop: () => Promise<LoadCounts> } {
  const counts: LoadCounts = {
    denied: 0,
    deniedErrors: 0,
    allowed: 0,
    written: 0,
    writeErrors: 0,
    firstErrors: [],
  };
  const began = Date.now();
  const deadline = began + maxSeconds * 1000;
  let loading = true;
  const more = (i: number): boolean => loading && i < 5000 && Date.now() < deadline;
  const note = (r: Run): void => {
    if (counts.firstErrors.length < 3)
      counts.firstErrors.push(
        `+${((Date.now() - began) / 1000).toFixed(1)} s, exit ${r.code}: ${(r.stderr + r.stdout).trim().slice(0, 300)}`,
      );
  };
  const developer = async (): Promise<void> => {
    for (let i = 0; more(i); i++) {
      const r = await k("user", ["-n", "web", "scale", "deployment", "web", "--replicas=3"]);
      if (r.code === 0) counts.allowed++;
      else if (r.stderr.includes('admission webhook "scale.gitgate.io" denied the request')) counts.denied++;
      else {
        counts.deniedErrors++;
        note(r);
      }
    }
  };
  const writer = async (): Promise<void> => {
    for (let i = 0; more(i); i++) {
      const r = await k("admin", [
        "-n",
        "web",
        "annotate",
        "deployment",
        "web",
        "--overwrite",
        `load.example/seq=${i}`,
      ]);
      if (r.code === 0) counts.written++;
      else {
        counts.writeErrors++;
        note(r);
      }
    }
  };
  const running = [developer(), developer(), writer()];
  return {
    stop: async () => {
      loading = false;
      await Promise.all(running);
      return counts;
    },
  };
}

const describeLoad = (c: LoadCounts): string =>
  `developer denied ${c.denied}, developer admission errors ${c.deniedErrors}, developer allowed ${c.allowed}; ` +
  `exempt writes ok ${c.written}, exempt write errors ${c.writeErrors}`;

/** A pod's memory cgroup directory (cgroup v1, cgroupfs driver), under whichever QoS class it has. */
async function podCgroup(uid: string): Promise<string | undefined> {
  const root = "/sys/fs/cgroup/memory/kubepods";
  for (const qos of ["", "burstable", "besteffort"]) {
    const dir = join(root, qos, `pod${uid}`);
    if (
      await readdir(dir).then(
        () => true,
        () => false,
      )
    )
      return dir;
  }
  return undefined;
}

/** /proc/<pid>/maps of the pod's gitgate process (a host process here), found through its cgroup. */
async function podMainMaps(uid: string): Promise<string> {
  const dir = await podCgroup(uid);
  if (!dir) return "no cgroup found";
  const containers = await readdir(dir, { withFileTypes: true });
  for (const c of containers.filter((e) => e.isDirectory())) {
    const pids = await readFile(join(dir, c.name, "cgroup.procs"), "utf8").catch(() => "");
    for (const pid of pids.split("\n").filter((l) => l !== "")) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmdline.includes("dist/src/cli/main.js")) return readFile(`/proc/${pid}/maps`, "utf8");
    }
  }
  return "no gitgate process found";
}

/** A pod's memory from its cgroup: usage and RSS in MiB. */
async function podMemory(uid: string): Promise<string> {
  const dir = await podCgroup(uid);
  if (!dir) return "no cgroup found";
  const usage = Number(await readFile(join(dir, "memory.usage_in_bytes"), "utf8"));
  const stat = await readFile(join(dir, "memory.stat"), "utf8");
  const rss = Number(/^total_rss (\d+)$/m.exec(stat)?.[1] ?? 0);
  // The kubelet's working set: usage less inactive file pages.
  const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
  const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
  return `working set ${mib(Math.max(0, usage - inactive))} MiB, usage ${mib(usage)} MiB, rss ${mib(rss)} MiB`;
}

describe("in-cluster: gitgate's image, helm install on a real node", { timeout: 600_000 }, () => {
  let installedAt = 0;

  before(async () => {
    tools = await pinnedTools();
    work = await mkdtemp(join(tmpdir(), "gitgate-in-cluster-"));
    // The image builds while the node starts (both take tens of seconds).
    const [c, built] = await Promise.all([
      startNodeCluster(),
      buildImage({ output: join(work, "gitgate.tar"), storageRoot: join(work, "buildah") }),
    ]);
    cluster = c;
    image = built;
    figures["node cluster start (s)"] = c.startSeconds.toFixed(1);
    figures["image build (s)"] = built.seconds.toFixed(1);
    await rm(join(work, "buildah"), { recursive: true, force: true });
    const importStart = Date.now();
    await cluster.node.importImage(join(work, "gitgate.tar"));
    figures["image import (s)"] = ((Date.now() - importStart) / 1000).toFixed(1);
  });

  after(async () => {
    await sshd?.stop();
    await git?.stop();
    const stopping = Date.now();
    await cluster?.stop();
    figures["node cluster stop (s)"] = ((Date.now() - stopping) / 1000).toFixed(1);
    if (work) await rm(work, { recursive: true, force: true });
    figures["in-cluster suite (s)"] = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`in-cluster figures: ${JSON.stringify(figures)}`);
    assert.deepEqual(await nodeLeftovers(), [], "the stopped node left host state behind");
  });

  it("helm install: two replicas Running and Ready with the built image, one leader", async () => {
    const [repository, tag] = [
      image.reference.replace(/:[^:/]+$/, ""),
      image.reference.split(":").at(-1) ?? "",
    ];
    // mTLS as in production: gitgate accepts only kube-apiserver's webhook client certificate.
    const ca = await k(
      "admin",
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "apiserver-webhook-client", namespace: NS },
            data: { "ca.crt": cluster.cp.webhookClient.ca.cert },
          },
        ],
      }),
    );
    assert.equal(ca.code, 0, ca.stderr);
    installedAt = Date.now();
    const res = await helm([
      "install",
      "gitgate",
      CHART,
      "-n",
      NS,
      "--create-namespace",
      "--set",
      `image.repository=${repository}`,
      "--set",
      `image.tag=${tag}`,
      "--set",
      "image.pullPolicy=Never",
      "--set",
      "config.tenancy.platformNamespaces={default,gitgate-demo}",
      "--set",
      "webhook.clientCA.configMapName=apiserver-webhook-client",
      // The rotation test makes a certificate due; the replicas notice within 5 s.
      "--set",
      "webhook.certCheckInterval=5s",
    ]);
    assert.equal(res.code, 0, res.stderr);
    const pods = await waitFor(
      "two gitgate pods Ready",
      async () => {
        const all = await gitgatePods();
        return all.length === 2 && all.every(ready) ? all : undefined;
      },
      180_000,
    );
    figures["helm install to 2/2 Ready (s)"] = ((Date.now() - installedAt) / 1000).toFixed(1);
    const spec = await json<{ spec: { containers: Array<{ image: string }> } }>([
      "-n",
      NS,
      "get",
      "pod",
      pods[0]?.metadata.name ?? "",
    ]);
    assert.equal(spec.spec.containers[0]?.image, image.reference);

    const lease = await waitFor("a leader", async () => {
      const l = await json<{ spec: { holderIdentity?: string } }>([
        "-n",
        NS,
        "get",
        "lease",
        "gitgate-leader",
      ]);
      return l.spec.holderIdentity ? l : undefined;
    });
    assert.ok(
      pods.some((p) => p.metadata.name === lease.spec.holderIdentity),
      `leader ${lease.spec.holderIdentity} is one of ${pods.map((p) => p.metadata.name).join(", ")}`,
    );

    // Memory of each gitgate pod, from its cgroup (kubelet's summary reports no pod memory here).
    for (const p of pods) {
      figures[`memory ${p.metadata.name}`] = await podMemory(p.metadata.uid);
      // The image's LD_PRELOAD took: node runs on jemalloc (Dockerfile, bench/README.md "Soak").
      const maps = await podMainMaps(p.metadata.uid);
      assert.match(maps, /\/usr\/local\/lib\/libjemalloc\.so\.2/, `${p.metadata.name}: jemalloc mapped`);
    }
  });

  it("registers its webhooks and serves them through the Service", async () => {
    const hooks = await json<{
      webhooks: Array<{
        name: string;
        clientConfig: { caBundle?: string; service?: { name: string; namespace: string } };
      }>;
    }>(["get", "validatingwebhookconfiguration", "gitgate-validate"]);
    const scale = hooks.webhooks.find((w) => w.name === "scale.gitgate.io");
    assert.ok(scale?.clientConfig.caBundle, "scale.gitgate.io has a caBundle");
    assert.deepEqual(
      scale.clientConfig.service && [scale.clientConfig.service.namespace, scale.clientConfig.service.name],
      [NS, "gitgate"],
    );
    const endpoints = await json<{ subsets?: Array<{ addresses?: unknown[] }> }>([
      "-n",
      NS,
      "get",
      "endpoints",
      "gitgate",
    ]);
    assert.equal(endpoints.subsets?.[0]?.addresses?.length, 2, "both pods behind the Service");
  });

  it("syncs a GitApp from a Git server on the bridge; a developer's kubectl scale is denied in-cluster", async () => {
    git = await startGitServer({ host: BRIDGE_GATEWAY });
    const deployment = [
      "apiVersion: apps/v1",
      "kind: Deployment",
      "metadata: {name: web}",
      "spec:",
      "  replicas: 1",
      "  selector: {matchLabels: {app: web}}",
      "  template:",
      "    metadata: {labels: {app: web}}",
      "    spec:",
      `      containers: [{name: web, image: "${PAUSE_IMAGE}", imagePullPolicy: Never}]`,
      "",
    ].join("\n");
    const { commit } = await git.createRepo("web", { "app/deployment.yaml": deployment });
    const repoURL = git.repoURL("web");
    const app = JSON.stringify({
      apiVersion: "gitgate.io/v1alpha1",
      kind: "GitApp",
      metadata: { name: "web", namespace: "default" },
      spec: {
        source: { repoURL, revision: "main", path: "app" },
        destination: { namespace: "web" },
        // Health is looked at when gitgate reconciles: soon after the Deployment is Available.
        sync: { interval: "5s", createNamespace: true },
      },
    });
    const applied = await k("admin", ["apply", "-f", "-"], app);
    assert.equal(applied.code, 0, applied.stderr);
    const synced = Date.now();
    await withDiagnostics(() =>
      waitFor(
        "GitApp web Healthy at the commit",
        async () => {
          const a = await json<{ status?: { revision?: string; health?: string } }>([
            "-n",
            "default",
            "get",
            "gitapp",
            "web",
          ]);
          return a.status?.revision === commit && a.status.health === "Healthy" ? a : undefined;
        },
        120_000,
      ),
    );
    figures["GitApp applied to Healthy (s)"] = ((Date.now() - synced) / 1000).toFixed(1);
    const d = await json<{ status: { conditions?: Array<{ type: string; status: string }> } }>([
      "-n",
      "web",
      "get",
      "deployment",
      "web",
    ]);
    assert.equal(d.status.conditions?.find((c) => c.type === "Available")?.status, "True");

    const r = await k("user", ["-n", "web", "scale", "deployment", "web", "--replicas=3"]);
    assertDenied(r, "scale.gitgate.io", /^Deployment web\/web is managed by Git: spec\.replicas is 1 in /);
    assert.ok(r.stderr.includes(`${repoURL} app/deployment.yaml@${commit.slice(0, 7)}`), r.stderr);
    assert.match(r.stderr, /request has 3\. Change it in Git, or use break-glass\./);
  });

  it("syncs a GitApp over ssh:// in the pod (git and ssh in the image); a wrong host key fails clearly, syncs nothing", async () => {
    assert.ok(git, "the Git server of the sync test");
    // Pods reach the host at its interface address; sshd serves the Git server's repositories.
    sshd = await startSshServer({ host: hostAddress() });
    const { commit } = await git.createRepo("over-ssh", {
      "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-ssh}\ndata: {value: '1'}\n",
    });
    const repoURL = `ssh://root@${sshd.host}:${sshd.port}${git.repoPath("over-ssh")}`;
    const secret = (name: string, knownHosts: string): string =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: "default" },
        stringData: { sshPrivateKey: sshd?.clientKey.privateKey ?? "", known_hosts: knownHosts },
      });
    const gitApp = (name: string, creds: string): string =>
      JSON.stringify({
        apiVersion: "gitgate.io/v1alpha1",
        kind: "GitApp",
        metadata: { name, namespace: "default" },
        spec: {
          source: { repoURL, revision: "main", path: "app", credentialsSecret: creds },
          destination: { namespace: name },
          sync: { interval: "5s", createNamespace: true },
        },
      });
    // The same name in known_hosts with another key: the server's key is not trusted.
    const otherKey = (await generateKey(work, "other_host_key")).publicKey.split(" ");
    const wrongHosts = `[${sshd.host}]:${sshd.port} ${otherKey[0]} ${otherKey[1]}`;
    for (const doc of [
      secret("ssh-creds", sshd.knownHosts()),
      secret("ssh-wrong-host", wrongHosts),
      gitApp("over-ssh", "ssh-creds"),
      gitApp("ssh-wrong-host", "ssh-wrong-host"),
    ]) {
      const r = await k("admin", ["apply", "-f", "-"], doc);
      assert.equal(r.code, 0, r.stderr);
    }
    interface App {
      status?: { revision?: string; conditions?: Array<{ type: string; reason?: string; message?: string }> };
    }
    const app = (name: string): Promise<App> => json<App>(["-n", "default", "get", "gitapp", name]);
    const sshStart = Date.now();
    await withDiagnostics(() =>
      waitFor(
        "GitApp over-ssh synced at the commit",
        async () => ((await app("over-ssh")).status?.revision === commit ? true : undefined),
        120_000,
      ),
    );
    figures["ssh: GitApp applied to synced (s)"] = ((Date.now() - sshStart) / 1000).toFixed(1);
    const cm = await json<{ data: { value: string } }>(["-n", "over-ssh", "get", "configmap", "from-ssh"]);
    assert.equal(cm.data.value, "1");
    assert.ok((await sshd.connections()) > 0, "the fetch went through sshd");

    const failed = await withDiagnostics(() =>
      waitFor(
        "GitApp ssh-wrong-host fails on the host key",
        async () => {
          const a = await app("ssh-wrong-host");
          return a.status?.conditions?.find((c) => c.type === "Synced" && c.reason === "HostKeyMismatch")
            ? a
            : undefined;
        },
        120_000,
      ),
    );
    const synced = failed.status?.conditions?.find((c) => c.type === "Synced");
    assert.match(
      synced?.message ?? "",
      /^fetch failed: host key mismatch for ssh:\/\/\S+: the SSH server's key is not the one in the credentials secret's known_hosts/,
    );
    assert.equal(failed.status?.revision, undefined, "nothing was synced");
    const ns = await k("admin", ["get", "namespace", "ssh-wrong-host"]);
    assert.notEqual(ns.code, 0, "no namespace created for the refused app");
    assert.doesNotMatch(JSON.stringify(failed.status), /PRIVATE KEY/);
  });

  it("syncs the tour's demo apps (examples/apps) in-cluster; prints each gitgate pod's memory", async () => {
    assert.ok(git, "the Git server of the sync test");
    // The demo repo as `npm start` makes it, and the tour's own GitApps (cmd-dev.ts).
    const demo = await git.createRepo("demo", await readTree(examplesDir(), "apps"));
    const apps = demoGitApps(git.repoURL("demo"));
    const r = await k(
      "admin",
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "gitgate-demo" } }, ...apps],
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    interface App {
      metadata: { name: string };
      status?: { revision?: string; conditions?: Array<{ type: string; status: string }> };
    }
    const demoStart = Date.now();
    const synced = await withDiagnostics(() =>
      waitFor(
        "the demo apps Synced at the demo commit",
        async () => {
          const list = await json<{ items: App[] }>(["-n", "gitgate-demo", "get", "gitapps"]);
          const done = list.items.filter(
            (a) =>
              a.status?.revision === demo.commit &&
              a.status.conditions?.some((c) => c.type === "Synced" && c.status === "True"),
          );
          return done.length === apps.length ? done : undefined;
        },
        180_000,
      ),
    );
    figures["demo apps: applied to all Synced (s)"] = ((Date.now() - demoStart) / 1000).toFixed(1);
    assert.deepEqual(synced.map((a) => a.metadata.name).sort(), apps.map((a) => a.metadata.name).sort());
    // The tour's apps, all GitApps of this file synced: gitgate's footprint as it runs.
    for (const p of await gitgatePods()) {
      const memory = await podMemory(p.metadata.uid);
      figures[`memory with demo apps synced ${p.metadata.name}`] = memory;
      console.log(`memory of ${p.metadata.name} with the demo apps synced: ${memory}`);
    }
  });

  it("fails over: the leader pod killed under admission load, the other replica leads", async () => {
    interface Lease {
      spec: { holderIdentity?: string };
    }
    const leaseHolder = async (): Promise<string> =>
      (await json<Lease>(["-n", NS, "get", "lease", "gitgate-leader"])).spec.holderIdentity ?? "";
    const leader = await leaseHolder();
    const pod = await json<{ status: { containerStatuses?: Array<{ containerID?: string }> } }>([
      "-n",
      NS,
      "get",
      "pod",
      leader,
    ]);
    const containerID = pod.status.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, "") ?? "";
    assert.ok(containerID, `container of the leader ${leader}`);

    const load = startLoad();
    await new Promise((r) => setTimeout(r, 2000));
    const killedAt = Date.now();
    // A crash, not a shutdown: SIGKILL (the Lease is not released), then the pod object goes at once
    // so that kubelet does not restart it under the same name (which would lead again at once).
    await cluster.node.ctr(["tasks", "kill", "--signal", "SIGKILL", containerID]);
    const deleted = await k("admin", [
      "-n",
      NS,
      "delete",
      "pod",
      leader,
      "--grace-period=0",
      "--force",
      "--wait=false",
    ]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const next = await waitFor(
      "another replica leading",
      async () => {
        const holder = await leaseHolder();
        return holder && holder !== leader ? holder : undefined;
      },
      90_000,
    );
    const leaderless = (Date.now() - killedAt) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    const counts = await load.stop();
    figures["failover: seconds without a leader"] = leaderless.toFixed(1);
    figures["failover: load"] = describeLoad(counts);
    if (counts.firstErrors.length)
      figures["failover: first admission errors"] = counts.firstErrors.join(" || ");
    assert.notEqual(next, leader);
    assert.equal(counts.allowed, 0, "no scale went through while the leader was down");
    assert.ok(counts.denied > 0 && counts.written > 0, "gitgate kept answering");
    const deployment = await json<{ spec: { replicas: number } }>(["-n", "web", "get", "deployment", "web"]);
    assert.equal(deployment.spec.replicas, 1);
  });

  it("rolling upgrade under admission load: no failed admission, nothing denied admitted", async () => {
    // Settle after the failover: two Ready pods, no terminating one.
    await waitFor(
      "2/2 Ready before the upgrade",
      async () => {
        const all = await gitgatePods();
        return all.length === 2 && all.every(ready) ? all : undefined;
      },
      120_000,
    );
    const before = new Set((await gitgatePods()).map((p) => p.metadata.name));
    const load = startLoad();
    await new Promise((r) => setTimeout(r, 3000));
    const upgradeStart = Date.now();
    // A changed pod annotation: a new pod template, so the Deployment rolls both pods.
    const res = await helm([
      "upgrade",
      "gitgate",
      CHART,
      "-n",
      NS,
      "--reuse-values",
      "--set",
      `podAnnotations.upgraded=u${Date.now()}`,
      "--wait",
      "--timeout",
      "240s",
    ]);
    assert.equal(res.code, 0, res.stderr);
    const rolled = await waitFor(
      "only new pods, 2/2 Ready",
      async () => {
        const all = await gitgatePods();
        return all.length === 2 && all.every((p) => ready(p) && !before.has(p.metadata.name))
          ? all
          : undefined;
      },
      240_000,
    );
    const upgradeSeconds = (Date.now() - upgradeStart) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    const counts = await load.stop();
    figures["upgrade: seconds (helm upgrade to old pods gone)"] = upgradeSeconds.toFixed(1);
    figures["upgrade: load"] = describeLoad(counts);
    if (counts.firstErrors.length) figures["upgrade: first errors"] = counts.firstErrors.join(" || ");
    assert.equal(counts.allowed, 0, "a developer's scale went through during the upgrade");
    assert.equal(
      counts.deniedErrors + counts.writeErrors,
      0,
      `failed admissions: ${counts.firstErrors.join(" || ")}`,
    );
    assert.ok(counts.denied > 0 && counts.written > 0, "load ran");
    const lease = await json<{ spec: { holderIdentity?: string } }>([
      "-n",
      NS,
      "get",
      "lease",
      "gitgate-leader",
    ]);
    assert.ok(
      rolled.some((p) => p.metadata.name === lease.spec.holderIdentity),
      `leader ${lease.spec.holderIdentity} is a new pod`,
    );
  });

  it("rotates the serving certificate in the running pods under load, no failed admission", async () => {
    interface Secret {
      metadata: Record<string, unknown>;
      data: Record<string, string>;
    }
    const secretName = "gitgate-webhook-tls";
    const unb64 = (t = ""): string => Buffer.from(t, "base64").toString("utf8");
    const served = async (ip: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: ip, port: 9443, rejectUnauthorized: false }, () => {
          const raw = socket.getPeerCertificate().raw;
          socket.end();
          resolve(new X509Certificate(raw).fingerprint256);
        });
        socket.setTimeout(5000, () => socket.destroy(new Error(`TLS to ${ip} timed out`)));
        socket.once("error", reject);
      });
    const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;
    const secret = await json<Secret>(["-n", NS, "get", "secret", secretName]);
    const original = fingerprint(unb64(secret.data["tls.crt"]));
    // A serving certificate from the same CA, valid 10 days: due for renewal (30 days before expiry).
    const due = createServingCert(
      { cert: unb64(secret.data["ca.crt"]), key: unb64(secret.data["ca.key"]) },
      [`gitgate.${NS}.svc`, `gitgate.${NS}.svc.cluster.local`],
      [],
      10,
    );
    const load = startLoad();
    await new Promise((r) => setTimeout(r, 3000));
    const rotateStart = Date.now();
    const replaced = await k(
      "admin",
      ["replace", "-f", "-"],
      JSON.stringify({
        ...secret,
        data: {
          ...secret.data,
          "tls.crt": Buffer.from(due.cert).toString("base64"),
          "tls.key": Buffer.from(due.key).toString("base64"),
        },
      }),
    );
    assert.equal(replaced.code, 0, "replacing the certificate Secret");
    const dueFingerprint = fingerprint(due.cert);
    // A replica renews it (webhook.certCheckInterval=5s), and both serve the renewed one.
    const renewed = await waitFor(
      "both pods serving a renewed certificate",
      async () => {
        const now = await json<Secret>(["-n", NS, "get", "secret", secretName]);
        const current = fingerprint(unb64(now.data["tls.crt"]));
        if (current === dueFingerprint || current === original) return undefined;
        const ips = (
          await json<{ items: Array<{ status: { podIP?: string } }> }>([
            "-n",
            NS,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/name=gitgate",
          ])
        ).items.map((p) => p.status.podIP ?? "");
        const servedNow = await Promise.all(ips.map((ip) => served(ip).catch(() => "")));
        return servedNow.length === 2 && servedNow.every((f) => f === current) ? current : undefined;
      },
      90_000,
    );
    const rotateSeconds = (Date.now() - rotateStart) / 1000;
    await new Promise((r) => setTimeout(r, 5000));
    const counts = await load.stop();
    figures["rotation: seconds until both pods serve the renewed certificate"] = rotateSeconds.toFixed(1);
    figures["rotation: load"] = describeLoad(counts);
    if (counts.firstErrors.length) figures["rotation: first errors"] = counts.firstErrors.join(" || ");
    assert.notEqual(renewed, original);
    assert.equal(counts.allowed, 0, "a developer's scale went through during the rotation");
    assert.equal(
      counts.deniedErrors + counts.writeErrors,
      0,
      `failed admissions: ${counts.firstErrors.join(" || ")}`,
    );
    assert.ok(counts.denied > 0 && counts.written > 0, "load ran");
  });

  it("health for real: a bad image makes the GitApp Degraded with a reason; a fix commit makes it Healthy", async () => {
    assert.ok(git, "the Git server of the sync test");
    const server = git;
    const manifest = (image: string): string =>
      [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: api}",
        "spec:",
        "  replicas: 1",
        "  progressDeadlineSeconds: 15",
        "  selector: {matchLabels: {app: api}}",
        "  template:",
        "    metadata: {labels: {app: api}}",
        "    spec:",
        `      containers: [{name: api, image: "${image}", imagePullPolicy: Never}]`,
        "",
      ].join("\n");
    // Never pulled and not on the node: the container stays in ErrImageNeverPull.
    await server.createRepo("api", { "app/deployment.yaml": manifest("example.invalid/missing:1") });
    const applied = await k(
      "admin",
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "gitgate.io/v1alpha1",
        kind: "GitApp",
        metadata: { name: "api", namespace: "default" },
        spec: {
          source: { repoURL: server.repoURL("api"), revision: "main", path: "app" },
          destination: { namespace: "api" },
          sync: { interval: "5s", createNamespace: true },
        },
      }),
    );
    assert.equal(applied.code, 0, applied.stderr);
    interface App {
      status?: {
        revision?: string;
        health?: string;
        conditions?: Array<{ type: string; reason?: string; message?: string }>;
      };
    }
    const app = (): Promise<App> => json<App>(["-n", "default", "get", "gitapp", "api"]);
    const degradedStart = Date.now();
    const degraded = await withDiagnostics(() =>
      waitFor(
        "GitApp api Degraded",
        async () => {
          const a = await app();
          return a.status?.health === "Degraded" ? a : undefined;
        },
        120_000,
      ),
    );
    figures["health: applied to Degraded (s)"] = ((Date.now() - degradedStart) / 1000).toFixed(1);
    const readyCond = degraded.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(readyCond?.reason, "Degraded");
    assert.match(
      readyCond?.message ?? "",
      /^Degraded: Deployment api\/api: ReplicaSet "api-[a-z0-9]+" has timed out progressing\.$/,
    );

    const fix = await server.commit("api", { "app/deployment.yaml": manifest(PAUSE_IMAGE) }, "fix the image");
    const fixStart = Date.now();
    const healthy = await withDiagnostics(() =>
      waitFor(
        "GitApp api Healthy at the fix",
        async () => {
          const a = await app();
          return a.status?.revision === fix && a.status.health === "Healthy" ? a : undefined;
        },
        120_000,
      ),
    );
    figures["health: fix commit to Healthy (s)"] = ((Date.now() - fixStart) / 1000).toFixed(1);
    assert.equal(healthy.status?.conditions?.find((c) => c.type === "Ready")?.reason, "Healthy");
  });

  it("helm uninstall leaves no webhook configuration", async () => {
    const res = await helm(["uninstall", "gitgate", "-n", NS, "--wait", "--timeout", "120s"]);
    assert.equal(res.code, 0, res.stderr);
    for (const kind of ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]) {
      const list = await json<{ items: Array<{ metadata: { name: string } }> }>(["get", kind]);
      assert.deepEqual(
        list.items.map((i) => i.metadata.name).filter((n) => n.includes("gitgate")),
        [],
        `${kind} left after uninstall`,
      );
    }
  });

  it("the README's install path, as written: its ctr and helm lines bring up 2/2 Ready", async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Running against a cluster"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    // Commands, continuation lines joined, comments dropped.
    const commands = block
      .replace(/\\\n\s*/g, "")
      .split("\n")
      .map((l) => l.replace(/\s+#.*$/, "").trim())
      .filter(Boolean);
    const version = (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string })
      .version;
    assert.deepEqual(commands, [
      "npm run image -- --output gitgate.tar",
      "ctr -n k8s.io images import gitgate.tar",
      "helm install gitgate ./chart -n gitgate-system --create-namespace " +
        `--set image.repository=gitgate,image.tag=${version},image.pullPolicy=Never`,
    ]);
    // The first line is what built this suite's archive (scripts/image.ts → buildImage with
    // --output); the other two run verbatim, in a directory holding that archive and ./chart.
    assert.equal(image.reference, `docker.io/library/gitgate:${version}`);
    const dir = await mkdtemp(join(work, "readme-"));
    await link(join(work, "gitgate.tar"), join(dir, "gitgate.tar"));
    await symlink(CHART, join(dir, "chart"));
    const env: NodeJS.ProcessEnv = {
      PATH: [dirname(tools.helm), process.env.PATH].join(":"),
      HOME: work,
      HELM_CONFIG_HOME: join(work, "helm", "config"),
      HELM_CACHE_HOME: join(work, "helm", "cache"),
      HELM_DATA_HOME: join(work, "helm", "data"),
      KUBECONFIG: cluster.cp.kubeconfigs.admin,
      // ctr's own variable for a containerd that is not at /run/containerd/containerd.sock.
      CONTAINERD_ADDRESS: cluster.node.containerdSocket,
    };
    const started = Date.now();
    for (const command of commands.slice(1)) {
      const r = await new Promise<Run>((resolve) =>
        execFile("bash", ["-c", command], { cwd: dir, env, timeout: 180_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? 1 : 0, stdout, stderr }),
        ),
      );
      assert.equal(r.code, 0, `${command}\n${r.stderr}`);
    }
    const pods = await withDiagnostics(() =>
      waitFor(
        "two gitgate pods Ready after the README's install",
        async () => {
          const all = await gitgatePods();
          return all.length === 2 && all.every(ready) ? all : undefined;
        },
        180_000,
      ),
    );
    figures["README install path to 2/2 Ready (s)"] = ((Date.now() - started) / 1000).toFixed(1);
    assert.equal(pods.length, 2);
    const hooks = await json<{ webhooks: Array<{ clientConfig: { caBundle?: string } }> }>([
      "get",
      "validatingwebhookconfiguration",
      "gitgate-validate",
    ]);
    assert.ok(
      hooks.webhooks.every((w) => w.clientConfig.caBundle),
      "webhooks registered with a caBundle",
    );
    const res = await helm(["uninstall", "gitgate", "-n", NS, "--wait", "--timeout", "120s"]);
    assert.equal(res.code, 0, res.stderr);
  });
});

const DEPLOYMENT = (name: string, replicas: number): string =>
  [
    "apiVersion: apps/v1",
    "kind: Deployment",
    `metadata: {name: ${name}}`,
    "spec:",
    `  replicas: ${replicas}`,
    `  selector: {matchLabels: {app: ${name}}}`,
    "  template:",
    `    metadata: {labels: {app: ${name}}}`,
    "    spec:",
    `      containers: [{name: main, image: "${PAUSE_IMAGE}", imagePullPolicy: Never}]`,
    "",
  ].join("\n");

describe("a killed run leaves nothing behind", { timeout: 300_000 }, () => {
  it("the watchdogs stop the node and the control plane and undo the host state", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gitgate-killed-node-"));
    try {
      const script = join(dir, "run.mts");
      await writeFile(
        script,
        [
          `import { startNodeCluster } from ${JSON.stringify(join(ROOT, "src", "testenv", "node.ts"))};`,
          "const c = await startNodeCluster();",
          "process.stdout.write(`READY ${c.node.dir} ${c.cp.dir}\\n`);",
          "setInterval(() => undefined, 1000);",
          "",
        ].join("\n"),
      );
      const child = spawn(process.execPath, ["--import", "tsx", script], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const [nodeDir = "", cpDir = ""] = await waitFor(
        "the child's node Ready",
        () => /READY (\S+) (\S+)/.exec(out)?.slice(1),
        180_000,
      );
      assert.notDeepEqual(await nodeLeftovers(), [], "a running node shows up as leftovers");
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
      const killedAt = Date.now();
      await waitFor(
        "the host clean again",
        async () => {
          const left = await nodeLeftovers();
          const dirs = await Promise.all(
            [nodeDir, cpDir].map((d) =>
              access(d).then(
                () => d,
                () => "",
              ),
            ),
          );
          return left.length === 0 && dirs.every((d) => !d) ? true : undefined;
        },
        60_000,
      );
      console.log(`killed-run cleanup took ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// Last: the harness reports a test process still alive a minute after its environment stopped.
describe("harness: startEnv({ node: true })", { timeout: 300_000 }, () => {
  let env: TestEnv | undefined;
  after(async () => {
    await env?.stop();
    assert.deepEqual(await nodeLeftovers(), [], "the harness's node left host state behind");
  });

  it("runs Pods: a Deployment gitgate syncs in-process becomes Available and the GitApp Healthy", async () => {
    env = await startEnv({ node: true });
    assert.ok(env.node);
    const { commit } = await env.git.createRepo("pods", { "app/deployment.yaml": DEPLOYMENT("pods", 2) });
    await env.applyGitApp("pods", {
      source: { repoURL: env.git.repoURL("pods"), revision: "main", path: "app" },
      destination: { namespace: "pods" },
      sync: { interval: "2s", createNamespace: true },
    });
    const running = env;
    await waitFor(
      "GitApp pods Healthy",
      async () => {
        const app = await running.getGitApp("pods");
        return app?.status?.revision === commit && app.status.health === "Healthy" ? app : undefined;
      },
      120_000,
    );
    const d = await env.get("apps/v1", "Deployment", "pods", "pods");
    assert.equal((d?.status as { availableReplicas?: number } | undefined)?.availableReplicas, 2);
  });
});
