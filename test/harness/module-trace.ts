/**
 * Which modules a child process loads: an ESM resolve hook (module.register, run off-thread) appends
 * every URL it resolves to a file. Used to show that gitgate starts without @kubernetes/client-node.
 */
import { readFile } from "node:fs/promises";

/** Any module of the package. */
export const CLIENT_NODE = "/node_modules/@kubernetes/client-node/";

const HOOKS = `
import { appendFileSync } from "node:fs";
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(file, resolved.url + "\\n");
  return resolved;
}`;

/** Node arguments that trace the process's module resolutions into `file`. */
export function traceArgs(file: string): string[] {
  const hooks = `data:text/javascript,${encodeURIComponent(HOOKS)}`;
  const entry = [
    'import { register } from "node:module";',
    `register(${JSON.stringify(hooks)}, { data: { file: ${JSON.stringify(file)} } });`,
  ].join("\n");
  return ["--import", `data:text/javascript,${encodeURIComponent(entry)}`];
}

/** The URLs resolved so far (none when the file is not there yet). */
export async function loadedModules(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.split("\n").filter((l) => l !== "");
}
