/**
 * Restart to ready: at start, each GitApp listed is rendered at the revision its status records —
 * what was last applied, so what is on the cluster — and indexed, unless a reconcile indexed it
 * first. A follower's render: a full SHA needs no ref lookup, and a worktree still in the cache
 * needs no fetch. The queue's reconciles (a few workers, each also diffing, judging health and
 * writing status) then move each app to its current revision; without this the webhook waited
 * for the last of them (docs/architecture.md, "Restart to ready").
 */
import { appKey, effectiveSpec, type GitApp } from "../api/gitapp.js";
import type { DesiredIndex } from "../gate/desired-index.js";
import { messageOf } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { renderDesired, type ReconcileDeps } from "./reconcile.js";

export interface PrimeDeps {
  index: Pick<DesiredIndex, "wasRendered" | "replaceApp">;
  /** Renders one app as a follower (reconcile.ts renderDesired with the reconcile's own deps, so its render cache is shared). */
  render: (app: GitApp) => Promise<DesiredEntry[]>;
  /** Apps this controller will not sync (refused destination): left to the reconcile, which records why. */
  refused: (app: GitApp) => boolean;
  /** Still wanted: false once the controller stops or the app is gone. */
  wanted: (key: string) => boolean;
  logger: Logger;
  concurrency: number;
}

export interface PrimeResult {
  primed: number;
  /** Already indexed by a reconcile, deleted, or refused: nothing to do. */
  skipped: number;
  /** Left to the reconcile, which retries and records the error. */
  failed: number;
  ms: number;
}

export async function primeIndex(apps: GitApp[], deps: PrimeDeps): Promise<PrimeResult> {
  const started = Date.now();
  const result: PrimeResult = { primed: 0, skipped: 0, failed: 0, ms: 0 };
  const queue = apps.filter((app) => !app.metadata.deletionTimestamp);
  result.skipped += apps.length - queue.length;
  let next = 0;
  const one = async (app: GitApp): Promise<void> => {
    const ref = { namespace: app.metadata.namespace ?? "", name: app.metadata.name ?? "" };
    const key = appKey(ref);
    if (!deps.wanted(key) || deps.index.wasRendered(key) || deps.refused(app)) {
      result.skipped++;
      return;
    }
    try {
      const entries = await deps.render(app);
      // Checked again after the render: a reconcile that indexed meanwhile has the newer revision.
      if (!deps.wanted(key) || deps.index.wasRendered(key)) {
        result.skipped++;
        return;
      }
      const { conflicts } = deps.index.replaceApp(ref, entries);
      if (conflicts.length > 0)
        deps.logger.debug({ app: key, conflicts: conflicts.length }, "primed with conflicts");
      result.primed++;
    } catch (err) {
      result.failed++;
      deps.logger.debug({ app: key, err: messageOf(err) }, "index not primed; the reconcile will render it");
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, deps.concurrency) }, async () => {
      while (next < queue.length) await one(queue[next++] as GitApp);
    }),
  );
  result.ms = Date.now() - started;
  return result;
}

/** The PrimeDeps of a controller's reconcile deps. */
export function primeDepsOf(
  deps: ReconcileDeps,
  index: PrimeDeps["index"],
  opts: Pick<PrimeDeps, "wanted" | "concurrency">,
): PrimeDeps {
  const { settings } = deps;
  return {
    index,
    render: (app) => renderDesired(app, deps, settings.defaultMode, settings.enforcement),
    refused: (app) =>
      deps.refuseDestination?.(app, effectiveSpec(app, settings.defaultMode, 0, settings.enforcement)) !==
      undefined,
    logger: deps.logger,
    ...opts,
  };
}
