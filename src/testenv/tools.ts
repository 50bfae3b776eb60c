/**
 * Tools as tests get them: the pinned helm and kubectl of the layer package, resolved by
 * render/tools.ts. Explicit overrides from the environment still win, but PATH is skipped so
 * tests use the layer's pinned versions rather than whatever kubectl the machine happens to have.
 */
import { readEnvironment } from "../config/load.js";
import { resolveTools, type Tools } from "../render/tools.js";

export type { Tools };

/** Tools as tests get them: kubectl always present. */
export type PinnedTools = Tools & { kubectl: string };

export async function pinnedTools(env?: NodeJS.ProcessEnv): Promise<PinnedTools> {
  const { tools: fromEnv, cacheDir } = readEnvironment(env);
  const opts = { ...fromEnv, cacheDir, searchPath: undefined };
  const tools = await resolveTools(opts);
  // Tests also drive kubectl itself, so it is resolved even beside a standalone kustomize.
  const kubectl = tools.kubectl ?? (await resolveTools({ ...opts, kustomize: undefined })).kubectl;
  return { ...tools, kubectl: kubectl ?? "" };
}
