/**
 * The record gitgate's mutating webhook leaves on an object it admitted an out-of-band change to
 * (LAST_CHANGE_ANNOTATION): written in admission/mutate.ts, read for drift attribution and
 * break-glass holds. Pure.
 */
import { LAST_CHANGE_ANNOTATION } from "./labels.js";
import { isPlainObject, type KubeObject } from "./object.js";

export interface SignedHold {
  until: string;
  reason: string;
  sig: string;
  /** Who was granted it, when not the record's `user` (a later change carried the hold over). */
  grantee?: string;
}

export interface OutOfBandRecord {
  user: string;
  groups: string[];
  fields: string[];
  more?: number;
  time: string;
  /** A break-glass grant, for whichever replica leads (hold-record.ts). */
  breakGlass?: SignedHold;
}

/**
 * The record on `obj`, with its fields as found: anyone may write the annotation, so nothing in it
 * is trusted for its type. Undefined when absent or not a JSON object.
 */
export function readLastChange(obj: KubeObject): { [K in keyof OutOfBandRecord]?: unknown } | undefined {
  const text = obj.metadata.annotations?.[LAST_CHANGE_ANNOTATION];
  if (!text) return undefined;
  try {
    const record: unknown = JSON.parse(text);
    return isPlainObject(record) ? record : undefined;
  } catch {
    return undefined; // a hand-edited annotation is no evidence
  }
}
