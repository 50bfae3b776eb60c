/**
 * The gate state: what the reconciler and the admission webhook of one process share, with a name.
 * The reconciler writes the desired index and reads holds and admitted changes; the webhook reads
 * the index and records break-glass grants and admitted changes. The runtime creates one and hands
 * it to both sides; neither reaches into the other (see docs/architecture.md).
 */
import type { AppRef, DesiredIndexReader } from "../manifest/desired.js";
import { verifiedHold } from "../manifest/hold-record.js";
import type { KubeObject } from "../manifest/object.js";
import { AdmittedChanges } from "./admitted-changes.js";
import { DesiredIndex } from "./desired-index.js";
import { BreakGlassHolds, type Hold } from "./holds.js";

/** The webhook's side: answer from the index, record what was admitted. */
export interface GateForAdmission {
  readonly index: DesiredIndexReader;
  /** A break-glass this replica's webhook granted. */
  grantBreakGlass(hold: Hold): void;
  /** An out-of-band change admission let through (warn, audit, break-glass), for drift attribution. */
  recordAdmittedChange(key: string, username: string, paths: readonly string[]): void;
}

/** The reconciler's side: write the index, ask about holds and who changed what. */
export interface GateForSync {
  readonly index: DesiredIndex;
  /**
   * Whether self-heal leaves the object alone: a hold granted here, or one another replica granted
   * and signed on the live object (adopted here, so its expiry reverts the object on this replica too).
   */
  isHeld(key: string, live?: KubeObject): boolean;
  /** Who this process's webhook admitted changing these fields of the object, if recent. */
  admittedChanger(key: string, paths: readonly string[]): string | undefined;
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
    grantBreakGlass: (hold) => holds.grant(hold),
    recordAdmittedChange: (key, username, paths) => admitted.record(key, username, paths),
    isHeld: (key, live) => holds.isHeld(key) || adopt(key, live),
    admittedChanger: (key, paths) => admitted.changer(key, paths),
    release: (app, keys) => index.release(app, keys),
    onHoldExpired: (listener) => {
      expired = listener;
    },
    holds: () => holds.list(),
    clear: () => holds.clear(),
  };
}
