/**
 * The directories of a checked-out revision, for the gitDirectories generator: walked to the depth
 * the deepest pattern needs, `.git` and symlinks never followed, and capped in count so that a hostile
 * repository cannot make the walk unbounded.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { terminal } from "../errors.js";

export const MAX_DIRECTORIES = 10_000;

/** Every directory under `root` down to `depth` segments, as `/`-separated relative paths. */
export async function listDirectories(root: string, depth: number): Promise<string[]> {
  const out: string[] = [];
  let level = [""];
  for (let d = 0; d < depth && level.length > 0; d++) {
    const next: string[] = [];
    for (const rel of level) {
      const entries = await readdir(rel ? join(root, rel) : root, { withFileTypes: true });
      for (const e of entries) {
        // A Dirent of a symlink is not a directory: links are never followed.
        if (!e.isDirectory() || e.name === ".git") continue;
        const path = rel ? `${rel}/${e.name}` : e.name;
        next.push(path);
        if (out.length + next.length > MAX_DIRECTORIES)
          throw terminal(
            "TooManyDirectories",
            `the repository has more than ${MAX_DIRECTORIES} directories within ${depth} levels`,
          );
      }
    }
    out.push(...next);
    level = next;
  }
  return out;
}

/** How deep the patterns reach (segments of the longest). */
export function depthOf(patterns: ReadonlyArray<{ path: string }>): number {
  return Math.max(0, ...patterns.map((p) => p.path.split("/").length));
}
