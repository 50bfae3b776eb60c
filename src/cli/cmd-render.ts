/** `gitgate render <path>`: the objects gitgate would apply, stamped as it would stamp them. */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import yaml from "js-yaml";
import { render } from "../render/render.js";
import { resolveTools, toolsFromEnv } from "../testenv/tools.js";

export interface RenderFlags {
  repo?: string;
  namespace: string;
  releaseName?: string;
  values?: string[];
  output: "yaml" | "json";
}

function gitTopLevel(dir: string): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, "rev-parse", "--show-toplevel"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return undefined;
  }
}

export async function renderCommand(path: string, flags: RenderFlags): Promise<void> {
  const abs = resolve(path);
  const repoDir = resolve(flags.repo ?? gitTopLevel(abs) ?? abs);
  const rel = abs === repoDir ? "." : abs.slice(repoDir.length + 1);
  const tools = await resolveTools(toolsFromEnv());
  const result = await render(
    { repoDir, path: rel, namespace: flags.namespace, helm: { releaseName: flags.releaseName, valueFiles: flags.values } },
    { tools },
  );
  const objects = result.objects.map((o) => o.object);
  if (flags.output === "json") {
    process.stdout.write(JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }, null, 2) + "\n");
    return;
  }
  process.stdout.write(
    result.objects.map((o) => `# Source: ${o.file}${o.line ? `:${o.line}` : ""}\n${yaml.dump(o.object, { noRefs: true, lineWidth: -1 })}`).join("---\n"),
  );
}
