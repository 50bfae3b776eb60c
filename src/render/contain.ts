/**
 * Containment: nothing a Git repository names — app path, value file, kustomize base, symlink — may
 * make gitgate read outside the checkout. Every check is on real paths (symlinks resolved).
 */
import { lstat, readdir, readlink, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { terminal } from "../errors.js";

export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Repo-relative path with forward slashes; "." for the root itself. */
export function repoRelative(root: string, path: string): string {
  return relative(root, path).split(sep).join("/") || ".";
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** The real path of the checkout root. */
export async function realRepoRoot(repoDir: string): Promise<string> {
  try {
    return await realpath(repoDir);
  } catch (err) {
    if (isNotFound(err)) throw terminal("PathNotFound", `repository checkout ${repoDir} does not exist`, err);
    throw err;
  }
}

/**
 * Resolves `rel` (relative to `base`, a real dir inside `root`) and returns its real path, refusing
 * anything that leaves the repository lexically (`..`, absolute) or through a symlink.
 */
export async function resolveInRepo(root: string, base: string, rel: string, what: string): Promise<string> {
  const lexical = resolve(base, rel);
  if (isAbsolute(rel) || !isInside(root, lexical)) {
    throw terminal("PathEscapesRepo", `${what} ${rel} is outside the repository`);
  }
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err) {
    if (isNotFound(err)) {
      throw terminal(
        "PathNotFound",
        `${what} ${repoRelative(root, lexical)} does not exist in the repository`,
        err,
      );
    }
    throw err;
  }
  if (!isInside(root, real)) {
    throw terminal("PathEscapesRepo", `${what} ${rel} resolves outside the repository through a symlink`);
  }
  return real;
}

/** Where a symlink points, as a real path when it resolves, else lexically (dangling links). */
export async function linkTarget(link: string): Promise<string> {
  try {
    return await realpath(link);
  } catch {
    return resolve(dirname(link), await readlink(link));
  }
}

/**
 * Throws PathEscapesRepo for the first symlink under `dir` (sorted walk) whose target leaves `root`.
 * Run before handing a directory to helm or kustomize, which follow symlinks themselves (helm's
 * `.Files.Get` reads hidden files too, so only .git is skipped).
 */
export async function refuseEscapingSymlinks(root: string, dir: string): Promise<void> {
  const seen = new Set<string>();
  const walk = async (current: string): Promise<void> => {
    const real = await realpath(current);
    if (seen.has(real)) return; // symlinked directories may form cycles
    seen.add(real);
    const entries = await readdir(current, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name === ".git") continue;
      const path = join(current, entry.name);
      if (entry.isSymbolicLink()) {
        const target = await linkTarget(path);
        if (!isInside(root, target)) {
          throw terminal(
            "PathEscapesRepo",
            `symlink ${repoRelative(root, path)} points outside the repository; helm and kustomize would follow it`,
          );
        }
        if ((await lstatOrUndefined(target))?.isDirectory()) await walk(path);
      } else if (entry.isDirectory()) {
        await walk(path);
      }
    }
  };
  await walk(dir);
}

async function lstatOrUndefined(path: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try {
    return await lstat(path);
  } catch {
    return undefined;
  }
}
