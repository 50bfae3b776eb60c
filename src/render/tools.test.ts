import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { GitgateError } from "../errors.js";
import { readEnvironment } from "../config/load.js";
import { extractLayer, layerZipPath, resolveTools } from "./tools.js";

const run = promisify(execFile);
let scratch = "";

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "gitgate-tools-test-"));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function fakeTool(dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, "#!/bin/sh\necho fake\n");
  await chmod(path, 0o755);
  return path;
}

void describe("tool settings from the environment", () => {
  void it("reads only the gitgate variables, PATH and the cache location", () => {
    const env = readEnvironment({
      GITGATE_HELM: "/opt/helm",
      GITGATE_KUBECTL_KUSTOMIZE: "/opt/kubectl",
      PATH: "/bin",
      XDG_CACHE_HOME: "/c",
    });
    assert.deepEqual(env.tools, {
      helm: "/opt/helm",
      kubectl: "/opt/kubectl",
      kustomize: undefined,
      searchPath: "/bin",
    });
    assert.equal(env.cacheDir, "/c/gitgate");
    assert.equal(readEnvironment({ GITGATE_CACHE: "/g", XDG_CACHE_HOME: "/c" }).cacheDir, "/g");
    assert.equal(readEnvironment({ HOME: "/home/u" }).cacheDir, "/home/u/.cache/gitgate");
  });
});

void describe("resolveTools", () => {
  void it("prefers explicit paths, then PATH", async () => {
    const explicit = await fakeTool(join(scratch, "explicit"), "my-helm");
    const onPath = join(scratch, "path");
    const pathHelm = await fakeTool(onPath, "helm");
    const pathKubectl = await fakeTool(onPath, "kubectl");
    const kustomize = await fakeTool(onPath, "kustomize");
    const searchPath = `${join(scratch, "missing")}:${onPath}`;
    assert.deepEqual(await resolveTools({ helm: explicit, searchPath, cacheDir: scratch }), {
      helm: explicit,
      kubectl: pathKubectl,
    });
    assert.deepEqual(await resolveTools({ searchPath, kustomize: "kustomize", cacheDir: scratch }), {
      helm: pathHelm,
      kubectl: pathKubectl,
      kustomize,
    });
  });

  void it("needs no kubectl beside a standalone kustomize (an image with helm and kustomize)", async () => {
    const dir = join(scratch, "image-bin");
    const helm = await fakeTool(dir, "helm");
    const kustomize = await fakeTool(dir, "kustomize");
    // A layer zip that does not exist proves the pinned layer is never opened.
    const layerZip = join(scratch, "no-layer.zip");
    assert.deepEqual(
      await resolveTools({ searchPath: dir, kustomize: "kustomize", layerZip, cacheDir: scratch }),
      {
        helm,
        kustomize,
      },
    );
  });

  void it("refuses an explicit path that is not executable", async () => {
    await writeFile(join(scratch, "not-exec"), "");
    await assert.rejects(
      resolveTools({ helm: join(scratch, "not-exec"), kubectl: "/bin/true", cacheDir: scratch }),
      (err: unknown) =>
        err instanceof GitgateError && err.reason === "ToolNotFound" && /GITGATE_HELM=/.test(err.message),
    );
  });

  void it("falls back to the pinned layer binaries, which are helm 3.17 and kubectl 1.32 / kustomize 5.5", async () => {
    const cacheDir = join(scratch, "cache");
    const tools = await resolveTools({ cacheDir });
    assert.ok(tools.helm.startsWith(join(cacheDir, "tools")));
    assert.match((await run(tools.helm, ["version", "--short"])).stdout, /^v3\.17\./);
    const kubectl = (await run(tools.kubectl ?? "kubectl", ["version", "--client"])).stdout;
    assert.ok(tools.kubectl?.startsWith(join(cacheDir, "tools")));
    assert.match(kubectl, /Client Version: v1\.32\./);
    assert.match(kubectl, /Kustomize Version: v5\.5\./);
    // A second call reuses the extraction.
    assert.deepEqual(await resolveTools({ cacheDir }), tools);
  });

  void it("extracts atomically when several processes race", async () => {
    const cacheDir = join(scratch, "race");
    const toolsModule = fileURLToPath(new URL("./tools.ts", import.meta.url));
    const script = `import(${JSON.stringify(toolsModule)}).then(async (m) => console.log(await m.extractLayer(m.layerZipPath(), ${JSON.stringify(cacheDir)})))`;
    const runs = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ["--import", "tsx", "-e", script], { cwd: process.cwd() })),
    );
    const dirs = new Set(runs.map((r) => r.stdout.trim()));
    assert.equal(dirs.size, 1);
    assert.deepEqual(
      await readdir(join(cacheDir, "tools")),
      [...dirs].map((d) => d.split("/").pop()),
    );
    assert.equal(await extractLayer(layerZipPath(), cacheDir), [...dirs][0]);
  });
});
