/**
 * The inflated size of a Git object, read from headers only: isomorphic-git's readBlob inflates a
 * whole blob into memory, and a crafted repository can hold a blob that deflates to kilobytes and
 * inflates to gigabytes. Loose objects start with `<type> <size>\0` (zlib); packed ones with a size
 * varint, and deltas carry their result size at the start of the (zlib) delta data. Only a few
 * hundred compressed bytes are ever inflated here.
 */
import { open, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { constants, inflateSync } from "node:zlib";
import { deltaResultSize, entryHeader, isDelta } from "./pack-guard.js";

/** Compressed bytes read to find a header: far more than any header needs. */
const HEAD_BYTES = 512;

interface PackIndex {
  pack: string;
  idx: Buffer;
  count: number;
}

/** Parsed pack indexes of one repository; build one per checkout (packs change with fetches). */
export class ObjectSizes {
  private indexes: Promise<PackIndex[]> | undefined;

  constructor(private readonly gitdir: string) {}

  /** The object's inflated size in bytes, or undefined when it is not in this repository. */
  async sizeOf(oid: string): Promise<number | undefined> {
    const loose = await this.looseSize(oid);
    if (loose !== undefined) return loose;
    for (const index of await this.packIndexes()) {
      const offset = findOffset(index, oid);
      if (offset !== undefined) return packedSize(index.pack, offset);
    }
    return undefined;
  }

  private async looseSize(oid: string): Promise<number | undefined> {
    const head = await readHead(join(this.gitdir, "objects", oid.slice(0, 2), oid.slice(2)), 0);
    if (!head) return undefined;
    const text = inflateHead(head).toString("latin1");
    const match = /^(?:blob|tree|commit|tag) (\d+)\0/.exec(text);
    if (!match) throw new Error(`loose object ${oid} has no valid header`);
    return Number(match[1]);
  }

  private packIndexes(): Promise<PackIndex[]> {
    this.indexes ??= (async () => {
      const dir = join(this.gitdir, "objects", "pack");
      const names = await readdir(dir).catch(() => [] as string[]);
      const out: PackIndex[] = [];
      for (const name of names.filter((n) => n.endsWith(".idx"))) {
        const idx = await readFile(join(dir, name));
        // Version 2: magic \377tOc, version, 256-entry fan-out whose last entry is the object count.
        if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) continue;
        out.push({ pack: join(dir, `${name.slice(0, -4)}.pack`), idx, count: idx.readUInt32BE(8 + 255 * 4) });
      }
      return out;
    })();
    return this.indexes;
  }
}

/** Binary search of the sorted object names of an index (v2 layout). */
function findOffset({ idx, count }: PackIndex, oid: string): number | undefined {
  const want = Buffer.from(oid, "hex");
  const names = 8 + 256 * 4;
  const first = want[0] as number;
  let lo = first === 0 ? 0 : idx.readUInt32BE(8 + (first - 1) * 4);
  let hi = idx.readUInt32BE(8 + first * 4);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // Negative: the index's name at `mid` sorts before the one wanted.
    const cmp = idx.compare(want, 0, 20, names + mid * 20, names + mid * 20 + 20);
    if (cmp === 0) {
      const offsets = names + count * 24; // after the names and the CRC32s
      const small = idx.readUInt32BE(offsets + mid * 4);
      if ((small & 0x80000000) === 0) return small;
      // Packs over 2 GiB: the 31 bits index a table of 64-bit offsets.
      return Number(idx.readBigUInt64BE(offsets + count * 4 + (small & 0x7fffffff) * 8));
    }
    if (cmp < 0) lo = mid + 1;
    else hi = mid;
  }
  return undefined;
}

async function packedSize(pack: string, offset: number): Promise<number> {
  const head = await readHead(pack, offset);
  if (!head) throw new Error(`${pack} ends before offset ${offset}`);
  const { type, size, data } = entryHeader(head, 0);
  if (!isDelta(type)) return size;
  const result = deltaResultSize(inflateHead(head.subarray(data)));
  if (result === undefined) throw new Error(`delta header at ${pack}:${offset} is cut short`);
  return result;
}

/** Up to HEAD_BYTES of a file from `position`; undefined when the file does not exist. */
async function readHead(path: string, position: number): Promise<Buffer | undefined> {
  let file;
  try {
    file = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await file.read(buffer, 0, HEAD_BYTES, position);
    return bytesRead === 0 ? undefined : buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * Inflates the start of a zlib stream cut short. HEAD_BYTES of deflate data inflate to at most
 * ~1032× as much (about 0.5 MiB), so the cap is never reached; it is there in case that changes.
 */
function inflateHead(compressed: Buffer): Buffer {
  return inflateSync(compressed, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 1 << 20 });
}
