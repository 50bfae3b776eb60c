/**
 * gitgate's image from the project's own Dockerfile where nothing can be pulled or downloaded (the
 * machines tests run on): buildah with vfs storage, the Dockerfile's inputs replaced by build args.
 *   - NODE_IMAGE: a base made FROM scratch of this machine's node, the libraries `ldd` lists, the CA
 *     bundle and passwd/group with uid 1000 (`node`), as node's official image has;
 *   - APP_STAGE=app-prebuilt: dist/ compiled here, production node_modules from `npm ci --omit=dev`;
 *   - TOOLS_STAGE=tools-prebuilt: the pinned helm (the tests' own) and kustomize as `kubectl kustomize`;
 *   - SSH_STAGE=ssh-prebuilt: this machine's git, ssh and /bin/sh (git runs GIT_SSH_COMMAND through
 *     it) with the libraries `ldd` lists, for ssh:// and scp-like sources, and its jemalloc;
 * `npm run image` (scripts/image.ts) calls buildImage; the in-cluster test imports its archive.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import {
  chmod,
  copyFile,
  cp,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pinnedTools } from "./tools.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const CONTAINERS_DIR = "/var/lib/containers";

export interface ImageOptions {
  /** Image name; default `gitgate:<package version>`. */
  tag?: string;
  /** Also write an OCI archive here (for `ctr -n k8s.io images import`). */
  output?: string;
  /** buildah's storage root; default buildah's own (/var/lib/containers/storage). */
  storageRoot?: string;
  log?: (line: string) => void;
}

export interface BuiltImage {
  /** As buildah names it (localhost/gitgate:0.1.0). */
  local: string;
  /** As Kubernetes names `gitgate:0.1.0` (docker.io/library/gitgate:0.1.0): the archive's name. */
  reference: string;
  archive?: string;
  seconds: number;
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; log?: (l: string) => void } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (opts.log) for (const line of d.toString().split("\n").filter(Boolean)) opts.log(line);
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${err.slice(-4000)}`)),
    );
  });
}

/** Kubernetes' name for an image reference without a registry (`gitgate:1` → docker.io/library/gitgate:1). */
export function normalizedReference(tag: string): string {
  const [first = ""] = tag.split("/");
  const hasRegistry =
    tag.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasRegistry) return tag;
  return tag.includes("/") ? `docker.io/${tag}` : `docker.io/library/${tag}`;
}

async function packageVersion(): Promise<string> {
  return (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
}

/** The shared libraries `ldd` lists for a binary (absolute paths). */
async function libraries(binary: string): Promise<string[]> {
  const out = await run("ldd", [binary]);
  return [...out.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1] ?? "").filter(Boolean);
}

/** Copies a file of this machine into a root filesystem, at its own path or `inImage`. */
export function rootfsCopier(rootfs: string): (host: string, inImage?: string) => Promise<void> {
  return async (host, inImage = host) => {
    await mkdir(dirname(join(rootfs, inImage)), { recursive: true });
    await copyFile(host, join(rootfs, inImage));
  };
}

/** This machine's node as /usr/local/bin/node, with the libraries it needs. */
export async function putNode(rootfs: string): Promise<void> {
  const put = rootfsCopier(rootfs);
  await put(process.execPath, "/usr/local/bin/node");
  await chmod(join(rootfs, "usr/local/bin/node"), 0o755);
  for (const lib of await libraries(process.execPath)) await put(lib);
}

/** A root filesystem for the base image: node, its libraries, CA bundle, users, /tmp. */
async function baseRootfs(rootfs: string): Promise<void> {
  const put = rootfsCopier(rootfs);
  await putNode(rootfs);
  await put("/etc/ssl/certs/ca-certificates.crt");
  await writeFile(
    join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000::/home/node:/sbin/nologin\n",
  );
  await writeFile(join(rootfs, "etc/group"), "root:x:0:\nnode:x:1000:\n");
  await mkdir(join(rootfs, "tmp"), { recursive: true });
  await chmod(join(rootfs, "tmp"), 0o1777);
  await mkdir(join(rootfs, "home/node"), { recursive: true });
}

/** kustomize as gitgate runs it (`kustomize build [flags] DIR`), served by `kubectl kustomize`. */
const KUSTOMIZE_SHIM = `#!/usr/local/bin/node
// kustomize build ARGS... → kubectl kustomize ARGS... (no standalone kustomize on this machine).
const { spawnSync } = require("node:child_process");
const [cmd, ...rest] = process.argv.slice(2);
if (cmd !== "build") { process.stderr.write("only 'kustomize build' is provided\\n"); process.exit(2); }
const r = spawnSync("/usr/local/bin/kubectl", ["kustomize", ...rest], { stdio: "inherit" });
if (r.error) process.stderr.write("kustomize (kubectl kustomize): " + r.error.message + "\\n");
process.exit(r.status ?? 1);
`;

/** Host binaries SSH sources need (src/source/ssh.ts), by their path in the image. */
const SSH_BINARIES: ReadonlyArray<[host: string, inImage: string]> = [
  ["/usr/bin/git", "/usr/bin/git"],
  ["/usr/bin/ssh", "/usr/bin/ssh"],
  ["/bin/sh", "/bin/sh"],
];

const JEMALLOC_IN_IMAGE = "/usr/local/lib/libjemalloc.so.2";

/**
 * This machine's jemalloc (Debian's libjemalloc2, which scripts/install-testenv.sh installs), or
 * undefined. The benches preload it into gitgate as the image does.
 */
export function hostJemalloc(): string | undefined {
  return ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]
    .map((dir) => join(dir, "libjemalloc.so.2"))
    .find((path) => existsSync(path));
}

/** prebuilt/ssh/: git, ssh, /bin/sh, jemalloc and their libraries, laid out as in the image. */
async function sshRootfs(root: string): Promise<void> {
  const put = rootfsCopier(root);
  const libs = new Set<string>();
  for (const [host, inImage] of SSH_BINARIES) {
    await put(host, inImage);
    await chmod(join(root, inImage), 0o755);
    for (const lib of await libraries(host)) libs.add(lib);
  }
  // The allocator node runs on (the Dockerfile's LD_PRELOAD), at the path the Debian stage puts it.
  const jemalloc = hostJemalloc();
  if (!jemalloc)
    throw new Error("libjemalloc.so.2 not found: apt-get install libjemalloc2 (scripts/install-testenv.sh)");
  await put(jemalloc, JEMALLOC_IN_IMAGE);
  for (const lib of await libraries(jemalloc)) libs.add(lib);
  for (const lib of libs) await put(lib);
  // git runs its own subcommands (index-pack, …) from its exec path.
  await mkdir(join(root, "usr/lib/git-core"), { recursive: true });
  await symlink("../../bin/git", join(root, "usr/lib/git-core/git"));
}

async function buildContext(ctx: string, log: (l: string) => void): Promise<void> {
  for (const f of ["Dockerfile", "package.json", "package-lock.json"])
    await copyFile(join(ROOT, f), join(ctx, f));
  await cp(join(ROOT, "chart", "crds"), join(ctx, "chart", "crds"), { recursive: true });
  const app = join(ctx, "prebuilt", "app");
  await mkdir(app, { recursive: true });
  log("compiling dist/ (tsc -p tsconfig.build.json)");
  await run(process.execPath, [
    join(ROOT, "node_modules", "typescript", "bin", "tsc"),
    "-p",
    join(ROOT, "tsconfig.build.json"),
    "--outDir",
    join(app, "dist"),
    "--sourceMap",
    "false",
  ]);
  log("production node_modules (npm ci --omit=dev)");
  for (const f of ["package.json", "package-lock.json"]) await copyFile(join(ROOT, f), join(app, f));
  await run(
    "npm",
    [
      "ci",
      "--omit=dev",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--loglevel=error",
    ],
    { cwd: app },
  );
  const tools = join(ctx, "prebuilt", "tools");
  await mkdir(tools, { recursive: true });
  const pinned = await pinnedTools();
  if (!pinned.helm) throw new Error("no pinned helm (see src/testenv/tools.ts)");
  await copyFile(pinned.helm, join(tools, "helm"));
  await copyFile(pinned.kubectl, join(tools, "kubectl"));
  await writeFile(join(tools, "kustomize"), KUSTOMIZE_SHIM);
  for (const t of ["helm", "kubectl", "kustomize"]) await chmod(join(tools, t), 0o755);
  log("git, ssh and /bin/sh for SSH sources (this machine's, with their libraries)");
  await sshRootfs(join(ctx, "prebuilt", "ssh"));
}

/** Sets the containerd image name in an OCI archive's index, so `ctr images import` needs no flags. */
async function nameArchive(archive: string, reference: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "gitgate-oci-index-"));
  try {
    await run("tar", ["-xf", archive, "-C", work]);
    const index = JSON.parse(await readFile(join(work, "index.json"), "utf8")) as {
      manifests: Array<{ annotations?: Record<string, string> }>;
    };
    for (const m of index.manifests)
      m.annotations = { ...m.annotations, "io.containerd.image.name": reference };
    await writeFile(join(work, "index.json"), JSON.stringify(index));
    // Rewritten whole: GNU tar's --delete also dropped the entry after index.json (oci-layout).
    await run("tar", ["-cf", archive, "-C", work, "oci-layout", "index.json", "blobs"]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function buildImage(opts: ImageOptions = {}): Promise<BuiltImage> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const tag = opts.tag ?? `gitgate:${await packageVersion()}`;
  const storage = [
    "--storage-driver",
    "vfs",
    ...(opts.storageRoot ? ["--root", opts.storageRoot, "--runroot", join(opts.storageRoot, "run")] : []),
  ];
  const buildah = (args: string[]): Promise<string> => run("buildah", [...storage, ...args], { log });
  // buildah keeps a blob-info cache in /var/lib/containers whatever --root says: a build with its
  // own storage root removes it again when it created it.
  const hadContainersDir = await stat(CONTAINERS_DIR).then(
    () => true,
    () => false,
  );
  const work = await mkdtemp(join(tmpdir(), "gitgate-image-"));
  try {
    const nodeVersion = process.version;
    const base = `localhost/gitgate-node-base:${nodeVersion}`;
    log(`base image ${base} (FROM scratch: ${process.execPath}, its libraries, CA bundle, uid 1000)`);
    await baseRootfs(join(work, "base", "rootfs"));
    await writeFile(
      join(work, "base", "Containerfile"),
      "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nUSER 1000:1000\n",
    );
    await buildah([
      "bud",
      "--layers=false",
      "-t",
      base,
      "-f",
      join(work, "base", "Containerfile"),
      join(work, "base"),
    ]);
    const ctx = join(work, "context");
    await mkdir(ctx);
    await buildContext(ctx, log);
    log(`buildah bud -t ${tag} (the project's Dockerfile, prebuilt stages)`);
    await buildah([
      "bud",
      "--build-arg",
      `NODE_IMAGE=${base}`,
      "--build-arg",
      "APP_STAGE=app-prebuilt",
      "--build-arg",
      "TOOLS_STAGE=tools-prebuilt",
      "--build-arg",
      "SSH_STAGE=ssh-prebuilt",
      "-t",
      tag,
      "-f",
      join(ctx, "Dockerfile"),
      ctx,
    ]);
    const local = tag.includes("/") ? tag : `localhost/${tag}`;
    const reference = normalizedReference(tag);
    let archive: string | undefined;
    if (opts.output) {
      archive = opts.output;
      await rm(archive, { force: true });
      await buildah(["push", local, `oci-archive:${archive}:${tag}`]);
      await nameArchive(archive, reference);
      log(`wrote ${archive} (ctr -n k8s.io images import ${archive} → ${reference})`);
    }
    return { local, reference, archive, seconds: (Date.now() - started) / 1000 };
  } finally {
    await rm(work, { recursive: true, force: true });
    if (opts.storageRoot && !hadContainersDir) await rm(CONTAINERS_DIR, { recursive: true, force: true });
  }
}
