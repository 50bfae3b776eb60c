/**
 * Where the control-plane binaries come from: KUBEBUILDER_ASSETS when set (envtest layout: etcd,
 * kube-apiserver, kubectl, optionally kube-controller-manager), else the per-machine cache that
 * scripts/install-testenv.sh fills by building Debian's `kubernetes` source package once.
 */
import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inheritedEnvironment, readEnvironment } from "../config/load.js";
import { terminal } from "../errors.js";

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  /** Optional: without it namespaces never finish deleting and Deployments get no ReplicaSets. */
  kubeControllerManager?: string;
  kubectl: string;
}

export interface AssetOptions {
  /** KUBEBUILDER_ASSETS, passed in by the caller (only config and CLI read the environment). */
  kubebuilderAssets?: string;
  /** Cache root; default `$XDG_CACHE_HOME/gitgate` or `~/.cache/gitgate`. */
  cacheDir?: string;
}

export function assetOptionsFromEnv(env?: NodeJS.ProcessEnv): AssetOptions {
  const { kubebuilderAssets, cacheDir } = readEnvironment(env);
  return { kubebuilderAssets, cacheDir };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function binDir(opts: AssetOptions): string {
  return opts.kubebuilderAssets ?? join(opts.cacheDir ?? readEnvironment().cacheDir, "k8s", "bin");
}

/** Finds the binaries, or explains exactly what to install. */
export async function findBinaries(opts: AssetOptions): Promise<ControlPlaneBinaries> {
  const dir = binDir(opts);
  const bins = {
    etcd: join(dir, "etcd"),
    kubeApiserver: join(dir, "kube-apiserver"),
    kubeControllerManager: join(dir, "kube-controller-manager"),
    kubectl: join(dir, "kubectl"),
  };
  const missing: string[] = [];
  for (const [name, path] of Object.entries(bins)) {
    if (name === "kubeControllerManager") continue;
    if (!(await isExecutable(path))) missing.push(path);
  }
  if (missing.length > 0) {
    const how = opts.kubebuilderAssets
      ? `KUBEBUILDER_ASSETS=${opts.kubebuilderAssets} must hold etcd, kube-apiserver and kubectl`
      : "run `bash scripts/install-testenv.sh` (Debian: installs etcd-server and builds kube-apiserver once, ~6 min)";
    throw terminal("TestenvMissing", `control-plane binaries missing: ${missing.join(", ")}; ${how}`);
  }
  return {
    ...bins,
    kubeControllerManager: (await isExecutable(bins.kubeControllerManager))
      ? bins.kubeControllerManager
      : undefined,
  };
}

export function installScriptPath(): string {
  // src/testenv/assets.ts and dist/src/testenv/assets.js both sit two or three levels below the root.
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${join("dist", "src")}`)
    ? join(here, "..", "..", "..")
    : join(here, "..", "..");
  return join(root, "scripts", "install-testenv.sh");
}

/** Finds the binaries, running the installer first when they are missing (first `gitgate dev`). */
export async function ensureBinaries(
  opts: AssetOptions,
  onProgress: (line: string) => void,
): Promise<ControlPlaneBinaries> {
  try {
    return await findBinaries(opts);
  } catch (err) {
    if (opts.kubebuilderAssets) throw err;
  }
  onProgress("control-plane binaries not cached yet: running scripts/install-testenv.sh (once per machine)");
  const env = inheritedEnvironment(opts.cacheDir ? { GITGATE_CACHE: opts.cacheDir } : {});
  await new Promise<void>((resolve, reject) => {
    const child = spawn("bash", [installScriptPath()], { env, stdio: ["ignore", "inherit", "pipe"] });
    let buffered = "";
    child.stderr.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) onProgress(line);
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(terminal("TestenvMissing", `install-testenv.sh failed (exit ${code})`)),
    );
  });
  return findBinaries(opts);
}
