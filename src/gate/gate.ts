/**
 * The gate state: what the reconciler and the admission webhook of one process share, with a name.
 * The reconciler writes the desired index, learns holds from live objects and reads admitted
 * changes; the webhook reads the index and records what it admitted. The runtime creates one and
 * hands it to both sides; neither reaches into the other (see docs/architecture.md).
 *
 * Nothing a request to the webhook port says is trusted on its own: a break-glass window exists
 * only once kube-apiserver stored gitgate's signed record on the object (observed by the watch),
 * and an admitted change names its user only when the live object holds what it claimed.
 */
import type { AppRef, DesiredIndexReader } from "../manifest/desired.js";
import { verifiedHold } from "../manifest/hold-record.js";
import type { KubeObject } from "../manifest/object.js";
import { AdmittedChanges, type ClaimedField } from "./admitted-changes.js";
import { DesiredIndex } from "./desired-index.js";
import { BreakGlassHolds, type Hold } from "./holds.js";

/** The webhook's side: answer from the index, record what was admitted. */
export interface GateForAdmission {
  readonly index: DesiredIndexReader;
  /** An out-of-band change admission let through (warn, audit, break-glass): a claim, for drift attribution. */
  recordAdmittedChange(key: string, username: string, fields: readonly ClaimedField[]): void;
}

/** The reconciler's side: write the index, ask about holds and who changed what. */
export interface GateForSync {
  readonly index: DesiredIndex;
  /**
   * Whether self-heal leaves the object alone: a hold adopted earlier, or one signed on `live`
   * (adopted now, so its expiry reverts the object even after the object is deleted).
   */
  isHeld(key: string, live?: KubeObject): boolean;
  /** The watch saw `live`: adopt the break-glass window signed on it, if any. */
  observe(key: string, live: KubeObject): void;
  /** The one user this process's webhook admitted setting the drifted fields to their live values, if recent. */
  admittedChanger(key: string, drifted: readonly ClaimedField[]): string | undefined;
  /**
   * Objects of `app` that another GitApp owns on the cluster: the webhook keeps judging them by their
   * owner's Git, so they leave this app's entries (the render is not otherwise touched).
   */
  release(app: AppRef, keys: ReadonlySet<string>): void;
  /** Called when a hold expires: the controller reverts the object and alerts. One listener. */
  onHoldExpired(listener: (hold: Hold) => void): void;
}

export interface GateState extends GateForAdmission, GateForSync {
  readonly index: DesiredIndex;
  holds(): Hold[];
  /** Timers off (stop). */
  clear(): void;
}

export interface GateOptions {
  /** Key that signs break-glass grants recorded on objects (any replica may have granted one). */
  holdSecret?: string;
}

export function createGateState(opts: GateOptions = {}): GateState {
  const index = new DesiredIndex();
  const admitted = new AdmittedChanges();
  let expired: (hold: Hold) => void = () => undefined;
  const holds = new BreakGlassHolds((hold) => expired(hold));
  const adopt = (key: string, live: KubeObject | undefined): boolean => {
    const entry = index.get(key);
    if (!live || !opts.holdSecret || !entry) return false;
    const hold = verifiedHold(live, key, opts.holdSecret, new Date());
    if (!hold) return false;
    holds.grant({ key, app: entry.app, ...hold });
    return true;
  };
  return {
    index,
    recordAdmittedChange: (key, username, fields) => admitted.record(key, username, fields),
    isHeld: (key, live) => holds.isHeld(key) || adopt(key, live),
    observe: (key, live) => void adopt(key, live),
    admittedChanger: (key, drifted) => admitted.changer(key, drifted),
    release: (app, keys) => index.release(app, keys),
    onHoldExpired: (listener) => {
      expired = listener;
    },
    holds: () => holds.list(),
    clear: () => holds.clear(),
  };
}
