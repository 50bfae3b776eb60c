import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { silentLogger } from "../log/logger.js";
import type { RenderedObject } from "./prepare.js";
import { RenderStore, storedObjects } from "./render-store.js";

const objects: RenderedObject[] = [
  {
    object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" }, data: { k: "v" } },
    file: "apps/a/cm.yaml",
    line: 1,
  },
];

describe("storedObjects", () => {
  const good = { format: 1, app: "default/a", id: "id-1", objects };
  const cases: Array<{ name: string; parsed: unknown; want: RenderedObject[] | undefined }> = [
    { name: "this app and input", parsed: good, want: objects },
    { name: "another input (a new commit)", parsed: { ...good, id: "id-2" }, want: undefined },
    { name: "another app's file", parsed: { ...good, app: "default/b" }, want: undefined },
    { name: "another format", parsed: { ...good, format: 2 }, want: undefined },
    { name: "not an object", parsed: "text", want: undefined },
    { name: "null", parsed: null, want: undefined },
    { name: "objects not an array", parsed: { ...good, objects: {} }, want: undefined },
    { name: "an object without its file", parsed: { ...good, objects: [{ object: {} }] }, want: undefined },
    {
      name: "a line that is not a number",
      parsed: { ...good, objects: [{ ...objects[0], line: "1" }] },
      want: undefined,
    },
    {
      name: "an object that is an array",
      parsed: { ...good, objects: [{ object: [], file: "f" }] },
      want: undefined,
    },
    { name: "no objects (an empty render)", parsed: { ...good, objects: [] }, want: [] },
  ];
  for (const c of cases)
    it(c.name, () => assert.deepEqual(storedObjects(c.parsed, "default/a", "id-1"), c.want));
});

describe("RenderStore", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const newStore = async (renderer = "helm-3"): Promise<{ store: RenderStore; dir: string }> => {
    const dir = await mkdtemp(join(tmpdir(), "gitgate-renders-"));
    dirs.push(dir);
    return { store: new RenderStore(join(dir, "renders"), renderer, silentLogger), dir };
  };

  it("reads back a render for the same input, and nothing for another", async () => {
    const { store } = await newStore();
    const id = store.idOf({ repoDir: "/c/worktrees/abc", path: "apps/a" });
    assert.equal(await store.load("default/a", id), undefined, "nothing stored yet");
    store.save("default/a", id, objects);
    await store.flushed();
    assert.deepEqual(await store.load("default/a", id), objects);
    assert.equal(
      await store.load("default/a", store.idOf({ repoDir: "/c/worktrees/def", path: "apps/a" })),
      undefined,
    );
    assert.equal(await store.load("default/b", id), undefined);
  });

  it("an id names the renderer too: another helm or limit renders again", async () => {
    const a = await newStore("helm-3.14");
    const b = new RenderStore(join(a.dir, "renders"), "helm-3.15", silentLogger);
    const input = { repoDir: "/c/worktrees/abc", path: "chart" };
    a.store.save("default/a", a.store.idOf(input), objects);
    await a.store.flushed();
    assert.equal(await b.load("default/a", b.idOf(input)), undefined);
  });

  it("keeps the newest of several saves, and forgets a deleted app", async () => {
    const { store, dir } = await newStore();
    const newer: RenderedObject[] = [{ ...objects[0], file: "apps/a/other.yaml" } as RenderedObject];
    store.save("default/a", "id-1", objects);
    store.save("default/a", "id-2", newer);
    await store.flushed();
    assert.equal(await store.load("default/a", "id-1"), undefined);
    assert.deepEqual(await store.load("default/a", "id-2"), newer);
    store.forget("default/a");
    await store.flushed();
    assert.equal(await store.load("default/a", "id-2"), undefined);
    assert.deepEqual(await readdir(join(dir, "renders")), [], "no file, no scratch file left");
  });

  it("a corrupt file is ignored (the app renders again), never an error", async () => {
    const { store, dir } = await newStore();
    store.save("default/a", "id-1", objects);
    await store.flushed();
    const [file] = await readdir(join(dir, "renders"));
    await writeFile(
      join(dir, "renders", file ?? ""),
      '{"format":1,"app":"default/a","id":"id-1","objects":[',
    );
    assert.equal(await store.load("default/a", "id-1"), undefined);
  });

  it("a directory it cannot write to loses the save, not the sync", async () => {
    const { dir } = await newStore();
    await writeFile(join(dir, "blocked"), "a file where the directory would be");
    const store = new RenderStore(join(dir, "blocked", "renders"), "r", silentLogger);
    store.save("default/a", "id-1", objects);
    await store.flushed();
    assert.equal(await store.load("default/a", "id-1"), undefined);
  });
});
