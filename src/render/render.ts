/**
 * Render an app directory of a checked-out commit into Kubernetes objects. Chosen by what `path`
 * holds: a kustomization → Kustomize, a Chart.yaml → Helm, otherwise plain manifests.
 */
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { terminal } from "../errors.js";
import { parseManifests, RENDER_MAX_NODES } from "../manifest/parse.js";
import { realRepoRoot, repoRelative, resolveInRepo } from "./contain.js";
import { renderDirectory } from "./directory.js";
import { runTool, sandboxEnv } from "./exec.js";
import { helmArgs, parseHelmOutput } from "./helm.js";
import { findKustomization, kustomizeCommand } from "./kustomize.js";
import {
  limitsOf,
  type Limits,
  type RenderKind,
  type RenderOptions,
  type RenderRequest,
  type RenderResult,
  type RenderedObject,
} from "./types.js";

export type * from "./types.js";

export async function detectKind(appDir: string): Promise<RenderKind> {
  if (await findKustomization(appDir)) return "kustomize";
  const chart = await stat(join(appDir, "Chart.yaml")).catch(() => undefined);
  return chart?.isFile() ? "helm" : "directory";
}

/** A per-render scratch dir (tool HOME, inline values), always removed afterwards. */
async function withScratch<T>(opts: RenderOptions, fn: (scratch: string) => Promise<T>): Promise<T> {
  const scratch = await mkdtemp(join(opts.tmpDir ?? tmpdir(), "gitgate-render-"));
  try {
    await mkdir(join(scratch, "bin"));
    return await fn(scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function renderHelm(
  req: RenderRequest,
  root: string,
  appDir: string,
  opts: RenderOptions,
  limits: Limits,
): Promise<RenderedObject[]> {
  const helm = opts.tools.helm;
  if (!helm) throw terminal("ToolNotFound", "no helm binary configured to render Helm charts");
  const valuesRoot = req.valuesRepoDir ? await realRepoRoot(req.valuesRepoDir) : undefined;
  const output = await withScratch(opts, async (scratch) =>
    runTool({
      name: "helm template",
      command: helm,
      args: await helmArgs(root, appDir, req.helm ?? {}, req.namespace, scratch, limits, valuesRoot),
      cwd: appDir,
      env: sandboxEnv(scratch),
      timeoutMs: limits.timeoutMs,
      maxOutputBytes: limits.maxOutputBytes,
      stripPrefixes: [root, scratch, ...(valuesRoot ? [valuesRoot] : [])],
      signal: opts.signal,
    }),
  );
  return parseHelmOutput(output, repoRelative(root, appDir));
}

async function renderKustomize(
  root: string,
  appDir: string,
  opts: RenderOptions,
  limits: Limits,
): Promise<RenderedObject[]> {
  const { command, args } = await kustomizeCommand(root, appDir, opts.tools);
  const output = await withScratch(opts, (scratch) =>
    runTool({
      name: "kustomize",
      command,
      args,
      cwd: appDir,
      env: sandboxEnv(scratch),
      timeoutMs: limits.timeoutMs,
      maxOutputBytes: limits.maxOutputBytes,
      stripPrefixes: [root, scratch],
      signal: opts.signal,
    }),
  );
  const appRel = repoRelative(root, appDir);
  // Kustomize output lines do not map to files; every object is attributed to the kustomization dir.
  return parseManifests(output, `${appRel} (kustomize output)`, { maxNodes: RENDER_MAX_NODES }).map(
    (doc) => ({
      object: doc.object,
      file: appRel,
    }),
  );
}

export async function render(req: RenderRequest, opts: RenderOptions): Promise<RenderResult> {
  const limits = limitsOf(opts);
  const root = await realRepoRoot(req.repoDir);
  const appDir = await resolveInRepo(root, root, req.path || ".", "path");
  if (!(await stat(appDir)).isDirectory()) {
    throw terminal("PathNotFound", `path ${repoRelative(root, appDir)} is not a directory`);
  }
  const kind = await detectKind(appDir);
  let objects: RenderedObject[];
  switch (kind) {
    case "kustomize":
      objects = await renderKustomize(root, appDir, opts, limits);
      break;
    case "helm":
      objects = await renderHelm(req, root, appDir, opts, limits);
      break;
    case "directory":
      objects = await renderDirectory(root, appDir, limits);
      break;
  }
  if (objects.length > limits.maxObjects) {
    throw terminal(
      "TooManyObjects",
      `${repoRelative(root, appDir)} renders ${objects.length} objects, more than ${limits.maxObjects}`,
    );
  }
  return { kind, objects };
}
