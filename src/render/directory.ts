/** Plain manifests: every *.yaml, *.yml and *.json under the app directory, recursively. */
import * as fs from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { terminal } from "../errors.js";
import { parseManifests, RENDER_MAX_NODES } from "../manifest/parse.js";
import { isInside, linkTarget, repoRelative } from "./contain.js";
import type { Limits, RenderedObject } from "./types.js";
import { mapLimit } from "../bounded/map-limit.js";

const MANIFEST_FILE = /\.(?:ya?ml|json)$/;

interface ManifestFile {
  /** Path as walked from the app dir (the sort key). */
  walked: string;
  /** Real path, checked to be inside the repository. */
  real: string;
}

/**
 * Lists manifest files, skipping hidden files and directories (.git, .github, editor files). Symlinks
 * are followed only when they resolve inside the repository; anything else is refused, not skipped,
 * so a repository cannot silently lose objects.
 */
async function listManifestFiles(root: string, appDir: string): Promise<ManifestFile[]> {
  const files: ManifestFile[] = [];
  const seenDirs = new Set<string>();
  const walk = async (dir: string, walked: string): Promise<void> => {
    const realDir = await realpath(dir);
    if (seenDirs.has(realDir)) return;
    seenDirs.add(realDir);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      const walkedPath = walked ? `${walked}/${entry.name}` : entry.name;
      let real = path;
      if (entry.isSymbolicLink()) {
        // Dangling links count by where they point, so one aimed outside is refused, not skipped.
        real = await linkTarget(path);
        if (!isInside(root, real)) {
          throw terminal(
            "PathEscapesRepo",
            `symlink ${repoRelative(root, path)} points outside the repository`,
          );
        }
      }
      // Only a link needs a stat: readdir's entry already says what anything else is.
      const info = entry.isSymbolicLink() ? await stat(real).catch(() => undefined) : entry;
      // A link to nowhere inside the repo may be a manifest renamed away: rendering without it
      // would prune its objects, so it fails the render instead.
      if (!info && entry.isSymbolicLink())
        throw terminal(
          "PathNotFound",
          `symlink ${repoRelative(root, path)} points to ${repoRelative(root, real)}, which does not exist`,
        );
      if (info?.isDirectory()) await walk(path, walkedPath);
      else if (info?.isFile() && MANIFEST_FILE.test(entry.name)) files.push({ walked: walkedPath, real });
    }
  };
  await walk(appDir, "");
  // Byte-wise order of the walked path: deterministic on every machine and locale.
  return files.sort((a, b) => (a.walked < b.walked ? -1 : a.walked > b.walked ? 1 : 0));
}

// The callback forms cost a quarter less CPU per small file than fs/promises' FileHandle path
// (measured: 4,000 manifests, 0.07 vs 0.09 ms each), and a restart reads every app's files.
const statFile = promisify(fs.stat);
const readText = promisify(fs.readFile);

/** Files read at once: libuv's pool has four threads, and a read waits mostly on the disk. */
const READ_CONCURRENCY = 8;

export async function renderDirectory(
  root: string,
  appDir: string,
  limits: Limits,
): Promise<RenderedObject[]> {
  const files = await listManifestFiles(root, appDir);
  let totalBytes = 0;
  // Sizes are checked (and counted against the total) before a file is read, so no read exceeds the caps.
  const texts = await mapLimit(files, READ_CONCURRENCY, async (file) => {
    const rel = repoRelative(root, file.real);
    const { size } = await statFile(file.real);
    if (size > limits.maxFileBytes) {
      throw terminal(
        "ManifestTooLarge",
        `${rel} is ${size} bytes, more than the limit of ${limits.maxFileBytes}`,
      );
    }
    totalBytes += size;
    if (totalBytes > limits.maxOutputBytes) {
      throw terminal(
        "RenderOutputTooLarge",
        `manifests under ${repoRelative(root, appDir)} exceed ${limits.maxOutputBytes} bytes`,
      );
    }
    return { rel, text: await readText(file.real, "utf8") };
  });
  const objects: RenderedObject[] = [];
  const budget = { left: RENDER_MAX_NODES };
  for (const { rel, text } of texts) {
    for (const doc of parseManifests(text, rel, { budget })) {
      objects.push({ object: doc.object, file: doc.file, line: doc.line });
      if (objects.length > limits.maxObjects) {
        throw terminal(
          "TooManyObjects",
          `${repoRelative(root, appDir)} renders more than ${limits.maxObjects} objects`,
        );
      }
    }
  }
  return objects;
}
