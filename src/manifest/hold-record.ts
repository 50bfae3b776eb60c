/**
 * Break-glass across replicas. The replica whose webhook grants a break-glass records it in the
 * mutating webhook's annotation (kube-apiserver writes it with the user's own request), signed with a
 * key every replica derives from the shared webhook CA. The leader, whichever replica it is, honours
 * a hold only with a valid signature: a user cannot forge one by writing the annotation. Pure.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { readLastChange, type SignedHold } from "./last-change.js";
import { isPlainObject, type KubeObject } from "./object.js";

export interface VerifiedHold {
  username: string;
  reason: string;
  expiresAt: Date;
}

function mac(secret: string, key: string, username: string, until: string, reason: string): string {
  return createHmac("sha256", secret).update(`${key}\n${username}\n${until}\n${reason}`).digest("hex");
}

export function signHold(
  secret: string,
  key: string,
  username: string,
  expiresAt: Date,
  reason: string,
): SignedHold {
  const until = expiresAt.toISOString();
  return { until, reason, sig: mac(secret, key, username, until, reason) };
}

/**
 * The signed hold on `live`, to carry into the record of a later change (which replaces the
 * annotation): the window stays open for every replica. Undefined when none is valid.
 */
export function carriedHold(
  live: KubeObject,
  key: string,
  secret: string,
  now: Date,
): SignedHold | undefined {
  const hold = verifiedHold(live, key, secret, now);
  return hold
    ? { ...signHold(secret, key, hold.username, hold.expiresAt, hold.reason), grantee: hold.username }
    : undefined;
}

/** The hold recorded on the live object, if signed with `secret` for this object and not expired. */
export function verifiedHold(
  live: KubeObject,
  key: string,
  secret: string,
  now: Date,
): VerifiedHold | undefined {
  const hold = signedHold(live, key, secret);
  return hold && hold.expiresAt.getTime() > now.getTime() ? hold : undefined;
}

/** The hold recorded on `obj` if gitgate signed it for this object, expired or not. */
export function signedHold(obj: KubeObject, key: string, secret: string): VerifiedHold | undefined {
  const record = readLastChange(obj);
  const hold = record?.breakGlass;
  if (!secret || !isPlainObject(hold)) return undefined;
  const username = hold.grantee ?? record?.user;
  if (typeof username !== "string") return undefined;
  const { until, reason, sig } = hold;
  if (typeof until !== "string" || typeof reason !== "string" || typeof sig !== "string") return undefined;
  const want = Buffer.from(mac(secret, key, username, until, reason), "hex");
  const got = Buffer.from(sig, "hex");
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
  const expiresAt = new Date(until);
  return Number.isNaN(expiresAt.getTime()) ? undefined : { username, reason, expiresAt };
}
