/** Reads a directory tree into the `{path: content}` map the test Git server commits. */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

export async function readTree(dir: string, prefix = ""): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files[join(prefix, relative(dir, path))] = await readFile(path, "utf8");
    }
  };
  await walk(dir);
  return files;
}

/** examples/apps of this package, from src/testenv (tsx) or dist/src/testenv (built). */
export function examplesDir(): string {
  const here = new URL(".", import.meta.url).pathname;
  return here.includes("/dist/src/")
    ? new URL("../../../examples/apps/", import.meta.url).pathname
    : new URL("../../examples/apps/", import.meta.url).pathname;
}
