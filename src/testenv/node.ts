/**
 * A real node for tests that need running Pods (opt-in; the node-less control plane stays the
 * default): containerd with the CNI bridge plugin, kubelet, kube-scheduler and kube-proxy next to a
 * control plane started `forNode`. One node per machine (fixed kubelet port, one bridge). Facts this
 * rests on: /work/shared/node-recipe.md (notably containerd's `restrict_oom_score_adj`).
 *
 * Host state a node creates — the bridge link, KUBE-* / CNI-* iptables chains, network namespaces,
 * mounts under its directory, kubepods cgroups, /var/log/pods, two sysctls — is undone by one script,
 * `cleanup.sh` in the node's directory. stop() runs it, and so do the watchdog (parent killed) and
 * sweepStaleEnvironments (parent killed with its watchdog), like the control plane's processes.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  CLUSTER_CIDR,
  startControlPlane,
  type ControlPlane,
  type ControlPlaneOptions,
} from "./controlplane.js";
import { acquireNodeLock } from "./node-lock.js";
import {
  ENV_DIR_PREFIX,
  logTail,
  runCleanupScript,
  startProcess,
  startWatchdog,
  stopProcess,
  sweepStaleEnvironments,
  writeOwner,
  type Supervised,
} from "./processes.js";

export const NODE_NAME = "gitgate-node";
/** The bridge the CNI plugin creates; pods reach the host at BRIDGE_GATEWAY. */
export const BRIDGE = "gitgate0";
export const POD_SUBNET = "10.244.0.0/24";
export const BRIDGE_GATEWAY = "10.244.0.1";
export const PAUSE_IMAGE = "localhost/gitgate-testenv/pause:3.4";
const NODE_DIR_PREFIX = `${ENV_DIR_PREFIX}node-`;
/** runc, iptables, ip and mount live here; a PATH without them would fail every pod. */
const SBIN = "/usr/local/sbin:/usr/sbin:/sbin";
const CNI_NETWORK = "gitgate-testenv";

export interface NodeBinaries {
  kubelet: string;
  kubeScheduler: string;
  kubeProxy: string;
  /** Static pause binary (build/pause/linux/pause.c), built by scripts/install-testenv.sh. */
  pause: string;
  containerd: string;
  ctr: string;
}

export interface Node {
  name: string;
  /** The host's address: kubelet's node IP, where kube-apiserver listens for pods. */
  address: string;
  /** The bridge's address: a server for pods listens here. */
  gateway: string;
  dir: string;
  containerdSocket: string;
  /** `ctr -n k8s.io` against this node's containerd. */
  ctr(args: string[]): Promise<string>;
  /** Imports an OCI or Docker archive into the CRI's image store (pods with pullPolicy Never use it). */
  importImage(archive: string): Promise<void>;
  stop(): Promise<void>;
}

export interface NodeCluster {
  cp: ControlPlane;
  node: Node;
  /** Seconds from the first process to the Node being Ready. */
  startSeconds: number;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The machine's own IPv4 address (eth0, else the first non-internal one that is not the bridge). */
export function hostAddress(): string {
  const all = networkInterfaces();
  const pick = (name: string): string | undefined =>
    all[name]?.find((a) => a.family === "IPv4" && !a.internal)?.address;
  const address =
    pick("eth0") ??
    Object.keys(all)
      .filter((n) => n !== BRIDGE && !n.startsWith("veth"))
      .map(pick)
      .find(Boolean);
  if (!address) throw new Error("no non-loopback IPv4 address: a node needs one for pods to reach the API");
  return address;
}

async function which(name: string): Promise<string> {
  for (const dir of ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"]) {
    if (await exists(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} not found: run scripts/install-testenv.sh (it installs the node's packages)`);
}

export async function findNodeBinaries(controlPlaneBin: string): Promise<NodeBinaries> {
  const bin = dirname(controlPlaneBin);
  const out = {
    kubelet: join(bin, "kubelet"),
    kubeScheduler: join(bin, "kube-scheduler"),
    kubeProxy: join(bin, "kube-proxy"),
    pause: join(bin, "pause"),
    containerd: await which("containerd"),
    ctr: await which("ctr"),
  };
  for (const path of [out.kubelet, out.kubeScheduler, out.kubeProxy, out.pause]) {
    if (!(await exists(path))) throw new Error(`${path} missing: run scripts/install-testenv.sh`);
  }
  await which("runc");
  await which("iptables");
  await which("conntrack");
  if (!(await exists("/usr/lib/cni/bridge")))
    throw new Error("/usr/lib/cni/bridge missing: containernetworking-plugins");
  return out;
}

/** Undoes everything a node does to the host; safe to run twice and after a killed run. */
export function cleanupScript(dir: string): string {
  return `#!/bin/sh
# Written by src/testenv/node.ts: undoes this node's host state. Idempotent.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
dir='${dir}'
# Containers: every process in the kubepods cgroups, then this containerd's shims.
for f in $(find /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods -name cgroup.procs 2>/dev/null); do
  for p in $(cat "$f" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
done
for c in /proc/[0-9]*/cmdline; do
  p=\${c#/proc/}; p=\${p%/cmdline}
  [ "$p" = "$$" ] && continue
  case "$(tr '\\0' ' ' < "$c" 2>/dev/null)" in
    *containerd-shim*"$dir"*|*"$dir/"*) kill -9 "$p" 2>/dev/null ;;
  esac
done
sleep 1
# Shim sockets and CNI result caches of this containerd's tasks (containerd keeps them in /run/containerd/s, named by a hash of address/namespace/id).
for t in "$dir"/containerd/state/io.containerd.runtime.v2.task/k8s.io/*; do
  [ -d "$t" ] || continue
  h=$(printf '%s' "$dir/containerd.sock/k8s.io/$(basename "$t")" | sha256sum | cut -d' ' -f1)
  rm -f "/run/containerd/s/$h"
  rm -f /var/lib/cni/results/*-"$(basename "$t")"-*
done
# A shim started while the node stopped (a ReplicaSet replacing a deleted pod) can leave a socket
# whose task dir is gone: remove every one no process listens on any more (one node per machine).
live=$(ss -xlnH 2>/dev/null | awk '{print $5}')
for s in /run/containerd/s/*; do
  [ -S "$s" ] || continue
  printf '%s\\n' "$live" | grep -qxF "$s" || rm -f "$s"
done
rmdir /run/containerd/s /run/containerd 2>/dev/null
# Mounts under the node's directory (kubelet volumes, container root filesystems), deepest first.
for m in $(awk '{print $2}' /proc/self/mounts | grep "^$dir/" | sort -r); do umount -l "$m" 2>/dev/null; done
# Network namespaces of pod sandboxes, and the bridge.
for n in /run/netns/cni-*; do
  [ -e "$n" ] || continue
  umount -l "$n" 2>/dev/null; rm -f "$n"
done
ip link delete ${BRIDGE} 2>/dev/null
# iptables chains of kube-proxy, kubelet and the CNI plugins (and every rule that jumps to them).
for save in iptables-save ip6tables-save; do
  restore=\${save%-save}-restore
  for t in filter nat mangle; do
    if $save -t $t 2>/dev/null | grep -q -e KUBE- -e CNI-; then
      $save -t $t | grep -v -e KUBE- -e CNI- | $restore -T $t
    fi
  done
done
# Sysctls as they were before the node started.
if [ -f "$dir/sysctl.saved" ]; then
  while read -r key value; do [ -n "$value" ] && echo "$value" > "/proc/sys/$key" 2>/dev/null; done < "$dir/sysctl.saved"
fi
# cgroups kubelet created (cgroupfs driver), deepest first.
for root in /sys/fs/cgroup/*/kubepods; do
  [ -d "$root" ] && find "$root" -depth -type d -exec rmdir {} \\; 2>/dev/null
done
rm -rf /var/log/pods /var/log/containers /var/lib/cni/results/${CNI_NETWORK}-* 2>/dev/null
# libcni's result cache (the loopback network's too): whatever was not there before the node started.
for f in /var/lib/cni/results/*; do
  [ -e "$f" ] || continue
  grep -qxF "$(basename "$f")" "$dir/cni-results.before" 2>/dev/null || rm -f "$f"
done
# kubelet keeps its device-plugin socket here whatever --root-dir says.
rm -rf /var/lib/kubelet/device-plugins 2>/dev/null
rmdir /var/lib/kubelet /var/lib/cni/results /var/lib/cni /run/netns 2>/dev/null
exit 0
`;
}

const SAVED_SYSCTLS = ["net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet"];

function containerdConfig(dir: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"
[${cri}]
  sandbox_image = "${PAUSE_IMAGE}"
  # Root here may lack CAP_SYS_RESOURCE: without this every sandbox fails in runc.
  restrict_oom_score_adj = true
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${dir}/runc"
  [${cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni/net.d"
`;
}

function cniConfig(dir: string): string {
  return JSON.stringify({
    cniVersion: "0.4.0",
    name: CNI_NETWORK,
    plugins: [
      {
        type: "bridge",
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: POD_SUBNET, gateway: BRIDGE_GATEWAY }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: join(dir, "cni", "ipam"),
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  });
}

function kubeletConfig(dir: string, address: string): string {
  return JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address,
    port: 10250,
    readOnlyPort: 0,
    healthzPort: 0,
    cgroupDriver: "cgroupfs",
    volumePluginDir: join(dir, "volume-plugins"),
    failSwapOn: false,
    // Only kube-apiserver and the host reach it; logs, exec and stats need no kubelet client cert.
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: "AlwaysAllow" },
    nodeStatusUpdateFrequency: "2s",
    nodeStatusReportFrequency: "10s",
    syncFrequency: "10s",
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
  });
}

const sha256 = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/**
 * Writes an OCI image archive (for `ctr images import`) with one uncompressed layer holding
 * `files` (path in image → file on the host). Enough for the pause image; no container engine needed.
 */
export async function writeOciArchive(
  archive: string,
  name: string,
  files: Record<string, string>,
  entrypoint: string[],
): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "gitgate-oci-"));
  try {
    const rootfs = join(work, "rootfs");
    for (const [inImage, host] of Object.entries(files)) {
      await mkdir(dirname(join(rootfs, inImage)), { recursive: true });
      await run("cp", [host, join(rootfs, inImage)]);
    }
    const layout = join(work, "layout");
    await mkdir(join(layout, "blobs", "sha256"), { recursive: true });
    await run("tar", [
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-C",
      rootfs,
      "-cf",
      join(work, "layer.tar"),
      ".",
    ]);
    const layer = await readFile(join(work, "layer.tar"));
    const blob = async (data: Buffer): Promise<string> => {
      const digest = sha256(data);
      await writeFile(join(layout, "blobs", "sha256", digest.slice(7)), data);
      return digest;
    };
    const layerDigest = await blob(layer);
    const config = Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Entrypoint: entrypoint },
        rootfs: { type: "layers", diff_ids: [layerDigest] },
      }),
    );
    const configDigest = await blob(config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: configDigest,
          size: config.length,
        },
        layers: [
          { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length },
        ],
      }),
    );
    const manifestDigest = await blob(manifest);
    await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await writeFile(
      join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: manifestDigest,
            size: manifest.length,
            platform: { architecture: "amd64", os: "linux" },
            annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name },
          },
        ],
      }),
    );
    await run("tar", ["-C", layout, "-cf", archive, "."]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * What a node leaves on this machine, as readable lines; empty when the host is clean. For tests
 * after a node stopped (or its owner was killed).
 */
export async function nodeLeftovers(): Promise<string[]> {
  const out: string[] = [];
  const sh = (script: string): Promise<string> =>
    run("sh", ["-c", `PATH="$PATH:${SBIN}"; ${script}`]).catch(() => "");
  if ((await sh(`ip -o link show ${BRIDGE} 2>/dev/null`)).trim()) out.push(`link ${BRIDGE}`);
  for (const save of ["iptables-save", "ip6tables-save"]) {
    const chains = (await sh(`${save} 2>/dev/null | grep -e KUBE- -e CNI- | head -3`)).trim();
    if (chains) out.push(`${save}: ${chains.split("\n").join(" | ")}`);
  }
  const netns = (await readdir("/run/netns").catch(() => [] as string[])).filter((n) => n.startsWith("cni-"));
  if (netns.length) out.push(`netns ${netns.join(" ")}`);
  const mounts = (await readFile("/proc/self/mounts", "utf8"))
    .split("\n")
    .filter((l) => l.includes(NODE_DIR_PREFIX));
  if (mounts.length) out.push(`${mounts.length} mounts, e.g. ${mounts[0]}`);
  const dirs = (await readdir(tmpdir())).filter((n) => n.startsWith(NODE_DIR_PREFIX));
  if (dirs.length) out.push(`dirs ${dirs.join(" ")}`);
  const procs = (
    await sh(`grep -l -a "${NODE_DIR_PREFIX.replace(/-$/, "[-]")}" /proc/[0-9]*/cmdline 2>/dev/null`)
  )
    .split("\n")
    .filter((l) => l && !l.startsWith(`/proc/${process.pid}/`));
  if (procs.length) out.push(`processes ${procs.join(" ")}`);
  for (const path of ["/sys/fs/cgroup/memory/kubepods", "/var/log/pods", "/run/containerd"]) {
    if (await exists(path)) out.push(path);
  }
  return out;
}

/** Waits while another process runs a node on this machine (the kubelet port and the bridge are fixed). */
async function waitForOtherNode(timeoutMs = 900_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertNoOtherNode();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function assertNoOtherNode(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!name.startsWith(NODE_DIR_PREFIX)) continue;
    const owner = Number(await readFile(join(tmpdir(), name, "owner"), "utf8").catch(() => "0"));
    if (owner > 0 && owner !== process.pid) {
      try {
        process.kill(owner, 0);
      } catch {
        continue;
      }
      throw new Error(`another test node runs on this machine (${join(tmpdir(), name)}, pid ${owner})`);
    }
  }
}

async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  procs: Supervised[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead)
      throw new Error(`${dead.name} exited while waiting for ${what}; log tail:\n${await logTail(dead, 30)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const tails = await Promise.all(procs.map(async (p) => `--- ${p.name}\n${await logTail(p, 10)}`));
  throw new Error(`timed out waiting for ${what}\n${tails.join("\n")}`);
}

/** Starts containerd, kubelet, kube-scheduler and kube-proxy against `cp` (started `forNode`). */
export async function startNode(cp: ControlPlane, address: string): Promise<Node> {
  await sweepStaleEnvironments();
  await waitForOtherNode();
  const bins = await findNodeBinaries(cp.binaries.kubeApiserver);
  if (!cp.kubeconfigs.node || !cp.kubeconfigs.admin)
    throw new Error("the control plane was not started forNode (no node identity)");
  const dir = await mkdtemp(join(tmpdir(), NODE_DIR_PREFIX));
  // Copies in the node's directory: every process of the node names it on its command line, which
  // is how a sweep after a killed run recognises them.
  const kubeconfig = join(dir, "kubelet.kubeconfig");
  const admin = join(dir, "admin.kubeconfig");
  await copyFile(cp.kubeconfigs.node, kubeconfig);
  await copyFile(cp.kubeconfigs.admin, admin);
  await mkdir(join(dir, "logs"));
  await mkdir(join(dir, "cni", "net.d"), { recursive: true });
  await writeOwner(dir);
  const saved = await Promise.all(
    SAVED_SYSCTLS.map(
      async (key) => `${key} ${(await readFile(`/proc/sys/${key}`, "utf8").catch(() => "")).trim()}`,
    ),
  );
  await writeFile(join(dir, "sysctl.saved"), saved.join("\n") + "\n");
  await writeFile(join(dir, "cleanup.sh"), cleanupScript(dir));
  const cniResults = await readdir("/var/lib/cni/results").catch(() => [] as string[]);
  await writeFile(join(dir, "cni-results.before"), cniResults.map((n) => `${n}\n`).join(""));
  const watchdog = startWatchdog(dir);
  const procs: Supervised[] = [];
  const socket = join(dir, "containerd.sock");
  const ctr = (args: string[]): Promise<string> =>
    run(bins.ctr, ["--address", socket, "-n", "k8s.io", ...args]);

  const stop = async (): Promise<void> => {
    // Pods first, while kubelet and the CNI plugin can still tear their sandboxes down.
    await run(cp.binaries.kubectl, [
      `--kubeconfig=${admin}`,
      "delete",
      "pods",
      "--all-namespaces",
      "--all",
      "--grace-period=0",
      "--force",
      "--wait=false",
    ]).catch(() => undefined);
    for (const proc of [...procs].reverse()) await stopProcess(proc);
    await runCleanupScript(dir);
    await rm(dir, { recursive: true, force: true });
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      const gone = new Promise<void>((resolve) => watchdog.once("exit", () => resolve()));
      watchdog.ref();
      watchdog.kill("SIGKILL");
      await gone;
    }
  };

  try {
    await writeFile(join(dir, "containerd.toml"), containerdConfig(dir));
    await writeFile(join(dir, "cni", "net.d", "10-gitgate.conflist"), cniConfig(dir));
    procs.push(
      await startProcess(
        dir,
        "containerd",
        bins.containerd,
        ["--config", join(dir, "containerd.toml")],
        SBIN,
      ),
    );
    await waitUntil("containerd", async () => (await ctr(["version"]), true), 30_000, procs);

    const pauseArchive = join(dir, "pause.tar");
    await writeOciArchive(pauseArchive, PAUSE_IMAGE, { "/pause": bins.pause }, ["/pause"]);
    await ctr(["images", "import", pauseArchive]);

    await writeFile(join(dir, "kubelet.json"), kubeletConfig(dir, address));
    procs.push(
      await startProcess(
        dir,
        "kubelet",
        bins.kubelet,
        [
          `--config=${join(dir, "kubelet.json")}`,
          `--kubeconfig=${kubeconfig}`,
          "--container-runtime=remote",
          `--container-runtime-endpoint=unix://${socket}`,
          `--root-dir=${join(dir, "kubelet")}`,
          `--cert-dir=${join(dir, "kubelet-pki")}`,
          `--node-ip=${address}`,
          `--hostname-override=${NODE_NAME}`,
          "--v=1",
        ],
        SBIN,
      ),
    );
    procs.push(
      await startProcess(
        dir,
        "kube-scheduler",
        bins.kubeScheduler,
        [
          `--kubeconfig=${admin}`,
          "--leader-elect=false",
          "--bind-address=127.0.0.1",
          "--port=0",
          "--secure-port=0",
        ],
        SBIN,
      ),
    );
    procs.push(
      await startProcess(
        dir,
        "kube-proxy",
        bins.kubeProxy,
        [
          `--kubeconfig=${admin}`,
          "--proxy-mode=iptables",
          `--cluster-cidr=${CLUSTER_CIDR}`,
          `--hostname-override=${NODE_NAME}`,
          "--conntrack-max-per-core=0",
          "--conntrack-tcp-timeout-established=0",
          "--conntrack-tcp-timeout-close-wait=0",
          "--healthz-bind-address=127.0.0.1:10256",
          "--metrics-bind-address=127.0.0.1:10249",
        ],
        SBIN,
      ),
    );
    const kubectl = (args: string[]): Promise<string> =>
      run(cp.binaries.kubectl, [`--kubeconfig=${admin}`, ...args]);
    await waitUntil(
      `node ${NODE_NAME} Ready`,
      async () =>
        (await kubectl([
          "get",
          "node",
          NODE_NAME,
          "-o",
          "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        ])) === "True",
      120_000,
      procs,
    );
    // Pods need the default ServiceAccount (and its token) before they can be created.
    await waitUntil(
      "the default ServiceAccount's token",
      async () =>
        (await kubectl(["get", "serviceaccount", "default", "-o", "jsonpath={.secrets[0].name}"])) !== "",
      60_000,
      procs,
    );
    return {
      name: NODE_NAME,
      address,
      gateway: BRIDGE_GATEWAY,
      dir,
      containerdSocket: socket,
      ctr,
      importImage: async (archive) => {
        await ctr(["images", "import", archive]);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A control plane set up for a node, and the node. stop() stops both, node first. Holds the
 * machine's node lock (node-lock.ts) from start to stop.
 */
export async function startNodeCluster(opts: ControlPlaneOptions = {}): Promise<NodeCluster> {
  // One node per machine (fixed bridge and node names): wait for another test file's to stop.
  const lock = await acquireNodeLock();
  const started = Date.now();
  const address = hostAddress();
  let cp: ControlPlane;
  let node: Node;
  try {
    cp = await startControlPlane({ ...opts, forNode: { address, nodeName: NODE_NAME } });
  } catch (err) {
    await lock.release();
    throw err;
  }
  try {
    node = await startNode(cp, address);
  } catch (err) {
    await cp.stop();
    await lock.release();
    throw err;
  }
  return {
    cp,
    node,
    startSeconds: (Date.now() - started) / 1000,
    stop: async () => {
      try {
        await node.stop();
        await cp.stop();
      } finally {
        await lock.release();
      }
    },
  };
}
