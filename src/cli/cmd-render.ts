/** `gitgate render <path>`: the objects gitgate would apply from a directory, like `helm template`. */
import yaml from "js-yaml";
import { renderDirectory } from "./local-render.js";

export interface RenderFlags {
  repo?: string;
  namespace: string;
  releaseName?: string;
  values?: string[];
  output: "yaml" | "json";
}

export async function renderCommand(path: string, flags: RenderFlags): Promise<void> {
  const result = await renderDirectory(path, flags);
  if (flags.output === "json") {
    const items = result.objects.map((o) => o.object);
    process.stdout.write(JSON.stringify({ apiVersion: "v1", kind: "List", items }, null, 2) + "\n");
    return;
  }
  const docs = result.objects.map(
    (o) =>
      `# Source: ${o.file}${o.line ? `:${o.line}` : ""}\n${yaml.dump(o.object, { noRefs: true, lineWidth: -1 })}`,
  );
  process.stdout.write(docs.join("---\n"));
}
