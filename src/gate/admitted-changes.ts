/**
 * Out-of-band changes this replica's admission webhook admitted (warn, audit, break-glass): who
 * changed which fields of which object. Drift found right after is attributed to that user, which
 * neither managedFields (field-manager names; nothing for a `scale` write on Kubernetes < 1.22) nor
 * the mutating webhook's annotation (not possible on subresources) can tell. In memory and bounded:
 * another replica, or a restart, falls back to those.
 */
export interface AdmittedChange {
  username: string;
  paths: readonly string[];
  at: number;
}

const MAX_ENTRIES = 10_000;
/** A record older than this no longer explains drift found now. */
const MAX_AGE_MS = 60 * 60_000;

export class AdmittedChanges {
  private readonly byKey = new Map<string, AdmittedChange>();

  record(key: string, username: string, paths: readonly string[], now = Date.now()): void {
    this.byKey.delete(key); // re-insert: Map order is then oldest first
    this.byKey.set(key, { username, paths, at: now });
    if (this.byKey.size > MAX_ENTRIES) {
      const oldest = this.byKey.keys().next().value;
      if (oldest !== undefined) this.byKey.delete(oldest);
    }
  }

  /** The user who was admitted changing one of these fields of the object, if recent. */
  changer(key: string, drifted: readonly string[], now = Date.now()): string | undefined {
    const change = this.byKey.get(key);
    if (!change || now - change.at > MAX_AGE_MS) return undefined;
    return drifted.some((p) => change.paths.includes(p)) ? change.username : undefined;
  }
}
