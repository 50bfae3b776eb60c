/**
 * Out-of-band changes this replica's admission webhook admitted (warn, audit, break-glass): who
 * asked to set which fields of which object to which values. A claim only: the review may have been
 * forged (anyone who reaches the webhook port can post one) or the write may have failed later. So
 * drift is attributed to a claim only when the live object holds exactly the claimed values, and
 * only when one user's claims fit: two users claiming the same values (a forged copy of a real
 * change) attribute the drift to neither, and the reconciler falls back to the record on the object
 * and managedFields. Neither managedFields (field-manager names; nothing for a `scale` write before
 * Kubernetes 1.22) nor the mutating webhook's record (not possible on subresources) can tell this.
 * In memory and bounded: another replica, or a restart, falls back to those.
 */
import { digestOf } from "../manifest/digest.js";

/** A field and the value a request set it to (undefined: removed). */
export interface ClaimedField {
  path: string;
  value: unknown;
}

interface Claim {
  username: string;
  /** path → digest of the claimed value. */
  fields: ReadonlyMap<string, string>;
  at: number;
}

const MAX_KEYS = 10_000;
/** Claims kept per object: enough for a burst of edits, small enough to scan on every drift. */
const MAX_PER_KEY = 8;
/** A claim older than this no longer explains drift found now. */
const MAX_AGE_MS = 60 * 60_000;

export class AdmittedChanges {
  private readonly byKey = new Map<string, Claim[]>();

  record(key: string, username: string, fields: readonly ClaimedField[], now = Date.now()): void {
    const claims = this.byKey.get(key) ?? [];
    this.byKey.delete(key); // re-insert: Map order is then oldest first
    claims.push({ username, fields: new Map(fields.map((f) => [f.path, digestOf(f.value)])), at: now });
    this.byKey.set(key, claims.slice(-MAX_PER_KEY));
    if (this.byKey.size > MAX_KEYS) {
      const oldest = this.byKey.keys().next().value;
      if (oldest !== undefined) this.byKey.delete(oldest);
    }
  }

  /**
   * The one user whose recent claims the live drift confirms: a claim fits when it names a drifted
   * field and every drifted field it names holds the claimed value. Undefined when none or several fit.
   */
  changer(key: string, drifted: readonly ClaimedField[], now = Date.now()): string | undefined {
    const claims = this.byKey.get(key);
    if (!claims) return undefined;
    const live = new Map(drifted.map((f) => [f.path, f.value]));
    const users = new Set<string>();
    for (const claim of claims) {
      if (now - claim.at > MAX_AGE_MS) continue;
      let named = false;
      let fits = true;
      for (const [path, digest] of claim.fields) {
        if (!live.has(path)) continue;
        named = true;
        if (digestOf(live.get(path)) !== digest) fits = false;
      }
      if (named && fits) users.add(claim.username);
    }
    return users.size === 1 ? [...users][0] : undefined;
  }
}
