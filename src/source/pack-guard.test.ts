import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { deflateSync } from "node:zlib";
import { checkPack, checkUploadPackResponse, packOf, type PackCheck } from "./pack-guard.js";

const run = promisify(execFile);

/** One pack entry as git writes it: type and size varint header, then the deflated data. */
function entry(type: number, data: Buffer, declared = data.length, base?: Buffer): Buffer {
  const header: number[] = [];
  let size = declared;
  let byte = (type << 4) | (size & 0x0f);
  size = Math.floor(size / 16);
  while (size > 0) {
    header.push(byte | 0x80);
    byte = size & 0x7f;
    size = Math.floor(size / 128);
  }
  header.push(byte);
  return Buffer.concat([Buffer.from(header), base ?? Buffer.alloc(0), deflateSync(data)]);
}

function pack(...entries: Buffer[]): Buffer {
  const head = Buffer.alloc(12);
  head.write("PACK", 0, "latin1");
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(entries.length, 8);
  return Buffer.concat([head, ...entries, Buffer.alloc(20)]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** A side-band-64k upload-pack response: NAK, then the pack in channel-1 pkt-lines, progress between. */
function sideBand(data: Buffer): Buffer {
  const line = (payload: Buffer): Buffer =>
    Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, "0"), "latin1"), payload]);
  const parts = [line(Buffer.from("NAK\n"))];
  for (let at = 0; at < data.length; at += 1000) {
    parts.push(line(Buffer.concat([Buffer.from([1]), data.subarray(at, at + 1000)])));
    parts.push(line(Buffer.from("\x02Counting objects\r")));
  }
  parts.push(Buffer.from("0000"));
  return Buffer.concat(parts);
}

describe("pack guard", () => {
  const MB = 1 << 20;
  const cases: Array<{ name: string; pack: Buffer; max: number; want: unknown }> = [
    {
      name: "small objects pass",
      pack: pack(entry(3, Buffer.from("a: 1\n")), entry(3, Buffer.alloc(0))),
      max: MB,
      want: { ok: true, objects: 2 },
    },
    {
      name: "a blob over the limit is refused from its header, before inflating",
      pack: pack(entry(3, Buffer.from("x"), 64 * MB)),
      max: MB,
      want: { ok: false, reason: "too-large", size: 64 * MB },
    },
    {
      name: "a small delta whose result is over the limit",
      pack: pack(
        entry(
          7,
          Buffer.concat([varint(10), varint(2 ** 33), Buffer.from([0x01, 0x41])]),
          undefined,
          Buffer.alloc(20),
        ),
      ),
      max: MB,
      want: { ok: false, reason: "too-large", size: 2 ** 33 },
    },
    {
      name: "a header that declares less than the data inflates to",
      pack: pack(entry(3, Buffer.alloc(4096), 10)),
      max: MB,
      want: { ok: false, reason: "malformed" },
    },
    {
      name: "a pack cut short",
      pack: pack(entry(3, Buffer.from("a"))).subarray(0, 14),
      max: MB,
      want: { ok: false, reason: "malformed" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { detail: _detail, ...got } = checkPack(c.pack, c.max) as PackCheck & { detail?: string };
      assert.deepEqual(got, c.want);
    });
  }

  it("reads the pack out of side-band pkt-lines, and passes a response without one", () => {
    const p = pack(entry(3, Buffer.alloc(5000, 7)));
    assert.deepEqual(packOf(sideBand(p)), p);
    assert.deepEqual(checkUploadPackResponse(sideBand(p), MB), { ok: true, objects: 1 });
    assert.deepEqual(checkUploadPackResponse(Buffer.from("0008NAK\n0000"), MB), { ok: true, objects: 0 });
  });

  describe("on packs git itself writes", () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "gitgate-pack-"));
      const git = (...args: string[]): Promise<unknown> =>
        run("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: dir });
      await git("init", "-q");
      const text = Array.from({ length: 20000 }, (_, i) => `line ${i}`).join("\n");
      await writeFile(join(dir, "a.txt"), text);
      await writeFile(join(dir, "b.txt"), `${text}\nchanged`);
      await writeFile(join(dir, "zeros.bin"), Buffer.alloc(8 * MB));
      await git("add", ".");
      await git("commit", "-qm", "one");
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it("walks every entry (deltas included) and refuses the 8 MiB blob under a 1 MiB limit", async () => {
      const { stdout } = await run(
        "sh",
        ["-c", "git rev-list --objects HEAD | git pack-objects --stdout --delta-base-offset | base64 -w0"],
        { cwd: dir, maxBuffer: 64 * MB },
      );
      const packed = Buffer.from(stdout, "base64");
      assert.deepEqual(checkPack(packed, 64 * MB), { ok: true, objects: 5 });
      assert.deepEqual(checkPack(packed, MB), { ok: false, reason: "too-large", size: 8 * MB });
    });
  });
});
