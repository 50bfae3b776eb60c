/**
 * A look at the packfile of a fetch response before isomorphic-git indexes it: indexing inflates
 * every object in memory, so one blob that deflates to kilobytes and inflates to gigabytes (or a
 * delta whose result does) would exhaust memory before any size check at checkout. Each entry's
 * declared size is checked, then inflated with its output capped at that size to find where the
 * next entry starts; the cost is one more inflate of the pack. Pure.
 */
import { inflateSync } from "node:zlib";

export type PackCheck =
  | { ok: true; objects: number }
  | { ok: false; reason: "too-large"; size: number }
  | { ok: false; reason: "malformed"; detail: string };

const OFS_DELTA = 6;
const REF_DELTA = 7;

/**
 * Checks the pack in an upload-pack response (protocol v0/v1, with or without side-band): every
 * object, and every delta's result, at most `maxObjectBytes`. A response holding no pack passes.
 */
export function checkUploadPackResponse(body: Buffer, maxObjectBytes: number): PackCheck {
  const pack = packOf(body);
  if (!pack) return { ok: true, objects: 0 };
  return checkPack(pack, maxObjectBytes);
}

/** The pack bytes: side-band channel 1 joined, or the raw bytes after the pkt-lines. */
export function packOf(body: Buffer): Buffer | undefined {
  const band: Buffer[] = [];
  let pos = 0;
  while (pos + 4 <= body.length) {
    if (band.length === 0 && body.toString("latin1", pos, pos + 4) === "PACK") return body.subarray(pos);
    const len = Number.parseInt(body.toString("latin1", pos, pos + 4), 16);
    if (!/^[0-9a-f]{4}$/i.test(body.toString("latin1", pos, pos + 4)) || Number.isNaN(len)) break;
    if (len < 4) {
      pos += 4; // flush, delimiter, response end
      continue;
    }
    const payload = body.subarray(pos + 4, Math.min(pos + len, body.length));
    if (payload[0] === 1) band.push(payload.subarray(1));
    pos += len;
  }
  return band.length > 0 ? Buffer.concat(band) : undefined;
}

export function checkPack(pack: Buffer, maxObjectBytes: number): PackCheck {
  if (pack.length < 12 || pack.toString("latin1", 0, 4) !== "PACK")
    return { ok: false, reason: "malformed", detail: "no PACK signature" };
  const count = pack.readUInt32BE(8);
  let pos = 12;
  for (let n = 0; n < count; n++) {
    if (pos >= pack.length)
      return { ok: false, reason: "malformed", detail: `pack ends at object ${n} of ${count}` };
    const { type, size, data } = entryHeader(pack, pos);
    if (size > maxObjectBytes) return { ok: false, reason: "too-large", size };
    pos = data;
    let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      // Declared size caps the output: data inflating past it is corrupt, not a bigger object.
      inflated = inflateSync(pack.subarray(pos), {
        info: true,
        maxOutputLength: Math.max(size, 1),
      }) as unknown as typeof inflated;
    } catch (err) {
      return { ok: false, reason: "malformed", detail: `object ${n}: ${(err as Error).message}` };
    }
    if (inflated.buffer.length !== size)
      return { ok: false, reason: "malformed", detail: `object ${n} is not ${size} bytes as declared` };
    if (isDelta(type)) {
      const result = deltaResultSize(inflated.buffer);
      if (result === undefined)
        return { ok: false, reason: "malformed", detail: `object ${n}: bad delta header` };
      if (result > maxObjectBytes) return { ok: false, reason: "too-large", size: result };
    }
    pos += inflated.engine.bytesWritten;
  }
  return { ok: true, objects: count };
}

/** A pack entry's header at `pos`: object type, declared (inflated) size, where its zlib data starts. */
export function entryHeader(pack: Buffer, pos: number): { type: number; size: number; data: number } {
  let byte = pack[pos++] as number;
  const type = (byte >> 4) & 7;
  let size = byte & 0x0f;
  for (let shift = 4; byte & 0x80; shift += 7) {
    byte = pack[pos++] as number;
    size += (byte & 0x7f) * 2 ** shift;
  }
  if (type === OFS_DELTA)
    while ((pack[pos++] as number) & 0x80); // the base's offset
  else if (type === REF_DELTA) pos += 20; // the base's object name
  return { type, size, data: pos };
}

export function isDelta(type: number): boolean {
  return type === OFS_DELTA || type === REF_DELTA;
}

/** A delta starts with the base's size and the result's size, little-endian base-128 varints. */
export function deltaResultSize(delta: Buffer): number | undefined {
  let pos = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; pos < delta.length; shift += 7) {
      const b = delta[pos++] as number;
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
    }
    return undefined;
  };
  return varint() === undefined ? undefined : varint();
}
