/**
 * Stand-in images for the tour's apps (examples/apps), so that `gitgate dev --with-node` runs them
 * on a real node where nothing can be pulled. They are NOT the real images: each is this machine's
 * node binary (and the libraries `ldd` lists) running a few lines of JavaScript that serve HTTP on
 * the port and probe paths the manifests use. They carry the exact names the manifests use, so the
 * manifests stay the real ones and `IfNotPresent` (a tag other than latest) pulls nothing.
 *
 * One archive, one layer shared by all three (containerd stores it once), one config per image.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { normalizedReference, putNode } from "./image.js";

const run = promisify(execFile);

export interface StandIn {
  /** The image name the manifest uses. */
  image: string;
  /** Entrypoint of the real image (the manifest's command or args apply on top). */
  entrypoint: string[];
  workingDir: string;
}

/** The tour's images: guestbook (port 80), podinfo (9898, /readyz), http-echo (-listen=:5678). */
export const STAND_INS: readonly StandIn[] = [
  { image: "gcr.io/heptio-images/ks-guestbook-demo:0.2", entrypoint: ["/guestbook"], workingDir: "/" },
  // The manifest runs `./podinfo --port=9898` in the real image's working dir.
  { image: "ghcr.io/stefanprodan/podinfo:6.7.1", entrypoint: ["./podinfo"], workingDir: "/home/app" },
  { image: "hashicorp/http-echo:1.0", entrypoint: ["/http-echo"], workingDir: "/" },
];

/** Paths of the server script in the layer: its name tells it which app it stands in for. */
const SCRIPT_PATHS = ["/guestbook", "/home/app/podinfo", "/http-echo"];

/**
 * The server: HTTP 200 on every path (ok on /readyz and /healthz), the port and text from the
 * flags the manifests pass (--port=N, -listen=:N, -text=…), exit on SIGTERM (it runs as PID 1).
 */
export const STAND_IN_SERVER = `#!/usr/local/bin/node
"use strict";
// A stand-in built by gitgate's test environment (src/testenv/standins.ts), not the real image.
const http = require("node:http");
const role = require("node:path").basename(process.argv[1] || "");
let port = role === "http-echo" ? 5678 : role === "podinfo" ? 9898 : 80;
let text = "stand-in for " + role + " (gitgate's test environment; not the real image)";
for (const arg of process.argv.slice(2).slice(0, 16)) {
  const p = /^--?(?:port|listen)=:?(\\d{1,5})$/.exec(arg);
  if (p) port = Number(p[1]);
  const t = /^-text=([^\\n]{0,1000})$/.exec(arg);
  if (t) text = t[1];
}
const server = http.createServer((req, res) => {
  const probe = req.url === "/readyz" || req.url === "/healthz";
  res.writeHead(200, { "content-type": "text/plain" });
  res.end((probe ? "ok" : text) + "\\n");
});
server.listen(port, "0.0.0.0", () => console.log(role + " stand-in listening on " + port));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
`;

const digestOf = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

async function layerRootfs(rootfs: string): Promise<void> {
  await putNode(rootfs);
  for (const path of SCRIPT_PATHS) {
    await mkdir(dirname(join(rootfs, path)), { recursive: true });
    await writeFile(join(rootfs, path), STAND_IN_SERVER, { mode: 0o755 });
  }
  await mkdir(join(rootfs, "tmp"), { recursive: true });
  await chmod(join(rootfs, "tmp"), 0o1777);
}

/** The OCI image config of one stand-in over the shared layer. */
export function standInConfig(s: StandIn, layerDigest: string): Record<string, unknown> {
  return {
    architecture: "amd64",
    os: "linux",
    config: {
      Entrypoint: s.entrypoint,
      WorkingDir: s.workingDir,
      Env: ["PATH=/usr/local/bin:/usr/bin:/bin"],
      Labels: { "io.gitgate.stand-in": "true" },
    },
    rootfs: { type: "layers", diff_ids: [layerDigest] },
  };
}

/** Writes one OCI archive holding all stand-ins (for `ctr -n k8s.io images import`). */
export async function writeStandInArchive(archive: string): Promise<string[]> {
  const work = await mkdtemp(join(tmpdir(), "gitgate-standins-"));
  try {
    const rootfs = join(work, "rootfs");
    await layerRootfs(rootfs);
    const layout = join(work, "layout");
    await mkdir(join(layout, "blobs", "sha256"), { recursive: true });
    const tar = join(work, "layer.tar");
    await run("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", rootfs, "-cf", tar, "."]);
    const blob = async (data: Buffer): Promise<{ digest: string; size: number }> => {
      const digest = digestOf(data);
      await writeFile(join(layout, "blobs", "sha256", digest.slice(7)), data);
      return { digest, size: data.length };
    };
    const layer = await blob(await readFile(tar));
    await rm(tar);
    const manifests = [];
    const names: string[] = [];
    for (const s of STAND_INS) {
      const config = await blob(Buffer.from(JSON.stringify(standInConfig(s, layer.digest))));
      const manifest = await blob(
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
          }),
        ),
      );
      const name = normalizedReference(s.image);
      names.push(name);
      manifests.push({
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        platform: { architecture: "amd64", os: "linux" },
        annotations: { "io.containerd.image.name": name },
      });
    }
    await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await writeFile(join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, manifests }));
    await run("tar", ["-C", layout, "-cf", archive, "."]);
    return names;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
