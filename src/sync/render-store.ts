/**
 * Renders kept on disk, one file per GitApp, so a restarted gitgate primes its index from JSON
 * instead of reading and parsing every manifest (or running helm and kustomize) again — the
 * manifest cache Argo CD's repo-server keeps for the same reason. Only the renderer's output is
 * kept: what it becomes (stamps, scopes, a tenant's checks) is computed again by this version of
 * gitgate on every load. A file is used only for the exact render input it was written for (the
 * worktree path names the commit), and anything unreadable is ignored: the app is rendered again.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { messageOf } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { RenderedObject } from "./prepare.js";

/** Bumped when the file's shape changes; files of another format are ignored. */
const FORMAT = 1;
/** Larger files are not read back (render.maxObjects × a large object; the app renders instead). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

interface StoredFile {
  format: number;
  app: string;
  id: string;
  objects: RenderedObject[];
}

/** Whether parsed JSON is a stored render of this app and input, shaped as the renderer returns it. */
export function storedObjects(parsed: unknown, app: string, id: string): RenderedObject[] | undefined {
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const file = parsed as Partial<StoredFile>;
  if (file.format !== FORMAT || file.app !== app || file.id !== id || !Array.isArray(file.objects))
    return undefined;
  const wellFormed = file.objects.every(
    (o: unknown) =>
      typeof o === "object" &&
      o !== null &&
      typeof (o as RenderedObject).file === "string" &&
      ((o as RenderedObject).line === undefined || typeof (o as RenderedObject).line === "number") &&
      typeof (o as RenderedObject).object === "object" &&
      (o as RenderedObject).object !== null &&
      !Array.isArray((o as RenderedObject).object),
  );
  return wellFormed ? file.objects : undefined;
}

export class RenderStore {
  /** The newest save per app not yet on disk; a later save replaces it. */
  private readonly pending = new Map<string, StoredFile | null>();
  private writing: Promise<void> = Promise.resolve();
  /** The id each app's file holds, once this process saved or read it (bounded by the GitApps). */
  private readonly known = new Map<string, string>();

  /** `renderer`: what else decides a render's output (tool versions, limits), part of every id. */
  constructor(
    private readonly dir: string,
    private readonly renderer: string,
    private readonly logger: Logger,
  ) {}

  /** The id of one render input: the same id, the same output. */
  idOf(input: unknown): string {
    return JSON.stringify([this.renderer, input]);
  }

  async load(app: string, id: string): Promise<RenderedObject[] | undefined> {
    // Saved or read by this process already: the file holds that id, and anything else is a new
    // input (a new commit) the file cannot hold. Only a start reads a file; a sync never re-reads it.
    const known = this.known.get(app);
    if (known !== undefined && known !== id) return undefined;
    const path = this.pathOf(app);
    try {
      if ((await stat(path)).size > MAX_FILE_BYTES) return undefined;
      const objects = storedObjects(JSON.parse(await readFile(path, "utf8")), app, id);
      if (objects) this.known.set(app, id);
      return objects;
    } catch {
      return undefined; // none yet, or unreadable: render
    }
  }

  save(app: string, id: string, objects: RenderedObject[]): void {
    this.known.set(app, id);
    this.pending.set(app, { format: FORMAT, app, id, objects });
    this.schedule();
  }

  /** The app is gone (or no longer served here). */
  forget(app: string): void {
    this.known.delete(app);
    this.pending.set(app, null);
    this.schedule();
  }

  /** Resolves when every save and forget so far is on disk. */
  flushed(): Promise<void> {
    return this.writing;
  }

  private schedule(): void {
    // One writer at a time: a file's saves land in order, and writes never crowd the renders.
    this.writing = this.writing.then(() => this.drain());
  }

  private async drain(): Promise<void> {
    for (const [app, file] of [...this.pending]) {
      this.pending.delete(app);
      const path = this.pathOf(app);
      try {
        if (file === null) {
          await rm(path, { force: true });
          continue;
        }
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        const scratch = `${path}.${process.pid}.tmp`;
        await writeFile(scratch, JSON.stringify(file), { mode: 0o600 });
        await rename(scratch, path); // readers see the old file or the new one, never half of one
      } catch (err) {
        this.logger.debug(
          { app, err: messageOf(err) },
          "render not stored; a restart renders this app again",
        );
      }
    }
  }

  private pathOf(app: string): string {
    return join(this.dir, `${createHash("sha256").update(app).digest("hex").slice(0, 32)}.json`);
  }
}
