/**
 * The in-memory desired-state index the admission gate answers from. The reconciler replaces an
 * app's entries after each render, before apply, so that applying the new commit by hand is allowed.
 */
import type { AppRef, DesiredEntry, DesiredIndexReader } from "../manifest/desired.js";
import { appKey } from "../api/gitapp.js";
import { appLabelValue } from "../manifest/labels.js";

export class DesiredIndex implements DesiredIndexReader {
  private readonly entries = new Map<string, DesiredEntry>();
  private readonly byApp = new Map<string, Set<string>>();
  /** Apps known to exist; the index is complete when each has been rendered once. */
  private readonly expected = new Set<string>();
  private readonly rendered = new Set<string>();
  /** `gitgate.io/app` label value → app key, for the apps in `expected`. */
  private readonly labels = new Map<string, string>();

  get(key: string): DesiredEntry | undefined {
    return this.entries.get(key);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The first entry of another app than `app` that matches (a scan: for rare checks only). */
  findOther(app: AppRef, matches: (entry: DesiredEntry) => boolean): DesiredEntry | undefined {
    const id = appKey(app);
    for (const entry of this.entries.values()) if (appKey(entry.app) !== id && matches(entry)) return entry;
    return undefined;
  }

  entriesOf(app: AppRef): DesiredEntry[] {
    return [...(this.byApp.get(appKey(app)) ?? [])].flatMap((k) => this.entries.get(k) ?? []);
  }

  /**
   * Replaces the app's entries. An object claimed by another app keeps its first owner (conflicts
   * are reported by the reconciler, not silently overwritten).
   */
  replaceApp(app: AppRef, entries: DesiredEntry[]): { conflicts: string[] } {
    const id = appKey(app);
    const conflicts: string[] = [];
    const keys = new Set<string>();
    for (const key of this.byApp.get(id) ?? []) this.entries.delete(key);
    for (const entry of entries) {
      const owner = this.entries.get(entry.key);
      if (owner && appKey(owner.app) !== id) {
        conflicts.push(`${entry.key} (already managed by ${appKey(owner.app)})`);
        continue;
      }
      this.entries.set(entry.key, entry);
      keys.add(entry.key);
    }
    this.byApp.set(id, keys);
    this.rendered.add(id);
    return { conflicts };
  }

  /** Drops these keys from the app's entries (objects found owned by another app on the cluster). */
  release(app: AppRef, keys: ReadonlySet<string>): void {
    const owned = this.byApp.get(appKey(app));
    for (const key of keys) {
      if (!owned?.delete(key)) continue;
      this.entries.delete(key);
    }
  }

  removeApp(app: AppRef): void {
    const id = appKey(app);
    for (const key of this.byApp.get(id) ?? []) this.entries.delete(key);
    this.byApp.delete(id);
    this.expected.delete(id);
    this.rendered.delete(id);
    this.labels.delete(appLabelValue(app));
  }

  expect(app: AppRef): void {
    this.expected.add(appKey(app));
    this.labels.set(appLabelValue(app), appKey(app));
  }

  /** Whether the app (`namespace/name`) has been rendered, or its render attempted, since start. */
  wasRendered(key: string): boolean {
    return this.rendered.has(key);
  }

  awaits(appLabel: string): boolean {
    const id = this.labels.get(appLabel);
    return id !== undefined && !this.rendered.has(id);
  }

  /** Rendering failed before the app was ever indexed: don't hold readiness hostage to a broken repo. */
  markAttempted(app: AppRef): void {
    this.rendered.add(appKey(app));
  }

  isComplete(): boolean {
    for (const id of this.expected) if (!this.rendered.has(id)) return false;
    return true;
  }
}
