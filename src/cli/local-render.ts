/** Renders a local directory the way gitgate would (for `render`, `diff` and `check`). */
import { execFileSync } from "node:child_process";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { ClusterClient } from "../cluster/client.js";
import { withApplyDefaults } from "../manifest/defaults.js";
import type { KubeObject } from "../manifest/object.js";
import { render } from "../render/render.js";
import type { RenderResult } from "../render/types.js";
import { terminal } from "../errors.js";
import { localTools } from "./context.js";

function gitTopLevel(dir: string): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, "rev-parse", "--show-toplevel"], {
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

export interface LocalRenderOptions {
  repo?: string;
  namespace: string;
  releaseName?: string;
  values?: string[];
}

/** The repository root is the git top level (else the directory): rendering may not leave it. */
export async function renderDirectory(path: string, opts: LocalRenderOptions): Promise<RenderResult> {
  const abs = resolve(path);
  // Checked here, with the path as given: past this point a missing path reads as a missing
  // "repository checkout" and a file as "path . is not a directory".
  const info = await stat(abs).catch((): undefined => undefined);
  if (!info) throw terminal("PathNotFound", `${path}: no such directory`);
  if (!info.isDirectory())
    throw terminal(
      "PathNotFound",
      `${path} is not a directory (give the directory that holds the manifests)`,
    );
  const repoDir = resolve(opts.repo ?? gitTopLevel(abs) ?? abs);
  const rel = abs === repoDir ? "." : abs.slice(repoDir.length + 1);
  const tools = await localTools();
  return render(
    {
      repoDir,
      path: rel,
      namespace: opts.namespace,
      helm: { releaseName: opts.releaseName, valueFiles: opts.values },
    },
    { tools },
  );
}

/** Rendered objects with namespaces defaulted by the cluster's discovery, ready to compare with live ones. */
export async function renderLocal(
  client: ClusterClient,
  path: string,
  opts: LocalRenderOptions,
): Promise<KubeObject[]> {
  const { namespace } = opts;
  const result = await renderDirectory(path, opts);
  const out: KubeObject[] = [];
  for (const { object } of result.objects) {
    const obj = withApplyDefaults(object);
    const info = await client.discovery.resource(obj.apiVersion, obj.kind);
    if (info.namespaced) obj.metadata.namespace ??= namespace;
    else delete obj.metadata.namespace;
    out.push(obj);
  }
  return out;
}
