import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ObjectSizes } from "./object-size.js";

const run = promisify(execFile);

/** Sizes as `git cat-file -s` reports them, for every object of a real repository. */
async function gitSizes(dir: string): Promise<Map<string, number>> {
  const { stdout } = await run(
    "git",
    ["cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objectsize)"],
    {
      cwd: dir,
    },
  );
  return new Map(
    stdout
      .trim()
      .split("\n")
      .map((line) => line.split(" "))
      .map(([oid, size]) => [oid as string, Number(size)]),
  );
}

describe("ObjectSizes", () => {
  let dir: string;
  const git = (...args: string[]): Promise<unknown> =>
    run("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd: dir });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gitgate-objsize-"));
    await git("init", "-q");
    // Two similar large files (one becomes a delta of the other when packed), a 64 MiB run of zeros
    // (deflates to ~64 KiB: the shape of a blob bomb), small files, nested trees.
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i} of a manifest`).join("\n");
    await writeFile(join(dir, "a.yaml"), text);
    await writeFile(join(dir, "b.yaml"), `${text}\nchanged tail`);
    await writeFile(join(dir, "zeros.bin"), Buffer.alloc(64 << 20));
    await writeFile(join(dir, "small.txt"), "x");
    // Enough objects that fan-out buckets hold several names each (the index is binary-searched).
    await mkdir(join(dir, "many"));
    for (let i = 0; i < 1500; i++) await writeFile(join(dir, "many", `f${i}.yaml`), `n: ${i}\n`);
    await git("add", ".");
    await git("commit", "-qm", "one");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reads every loose object's size from its header", async () => {
    const sizes = new ObjectSizes(join(dir, ".git"));
    for (const [oid, size] of await gitSizes(dir)) assert.equal(await sizes.sizeOf(oid), size, oid);
  });

  it("reads every packed object's size, deltas included, after git gc", async () => {
    await git("gc", "-q", "--aggressive");
    const all = await gitSizes(dir);
    const { stdout } = (await run("git", ["verify-pack", "-v", ...(await packIdx(dir))], { cwd: dir })) as {
      stdout: string;
    };
    assert.match(stdout, /chain length = 1: [1-9]/, "the pack holds at least one delta");
    assert.ok(all.size > 1500, `${all.size} objects`);
    const sizes = new ObjectSizes(join(dir, ".git"));
    for (const [oid, size] of all) assert.equal(await sizes.sizeOf(oid), size, oid);
    assert.equal(await sizes.sizeOf("0".repeat(40)), undefined);
  });
});

async function packIdx(dir: string): Promise<string[]> {
  const { stdout } = await run("sh", ["-c", "ls .git/objects/pack/*.idx"], { cwd: dir });
  return stdout.trim().split("\n");
}
