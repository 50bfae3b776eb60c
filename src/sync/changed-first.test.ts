import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sameRepo } from "../source/url.js";
import { changedByPush, changedFirst, pushedFiles, repoPath } from "./changed-first.js";
import type { GitApp } from "../api/gitapp.js";

const MONO = "https://git.example/team/mono.git";

void describe("repoPath", () => {
  const cases: Array<[string, string]> = [
    ["apps/a", "apps/a"],
    ["./apps/a/", "apps/a"],
    ["/apps/a//", "apps/a"],
    ["././apps/a", "apps/a"],
    [".", ""],
    ["./", ""],
    ["", ""],
    ["  apps/a  ", "apps/a"],
  ];
  for (const [given, want] of cases)
    void it(JSON.stringify(given), () => assert.equal(repoPath(given), want));
  void it("is linear on a long run of slashes", () => {
    const started = Date.now();
    repoPath(`a${"/".repeat(100_000)}b`);
    repoPath("./".repeat(2_000));
    assert.ok(Date.now() - started < 1_000);
  });
});

void describe("changedByPush", () => {
  type Spec = Pick<GitApp["spec"], "source" | "valuesFrom">;
  const app = (path: string | undefined, repoURL = MONO): Spec => ({
    source: { repoURL, revision: "main", ...(path === undefined ? {} : { path }) },
  });
  const chart: Spec = {
    source: {
      repoURL: "https://charts.example",
      chart: "api",
      helm: { valueFiles: ["$values/envs/prod/api.yaml", "defaults.yaml"] },
    },
    valuesFrom: { repoURL: MONO, revision: "main" },
  };
  const cases: Array<{
    what: string;
    spec: Spec;
    paths: string[] | undefined;
    repo?: string;
    want: boolean;
  }> = [
    { what: "a file under the app's path", spec: app("apps/a"), paths: ["apps/a/cm.yaml"], want: true },
    { what: "deep under it", spec: app("./apps/a/"), paths: ["apps/a/x/y/z.yaml"], want: true },
    { what: "a removed file counts as a change", spec: app("apps/a"), paths: ["apps/a"], want: true },
    {
      what: "a sibling whose name starts alike",
      spec: app("apps/a"),
      paths: ["apps/ab/cm.yaml"],
      want: false,
    },
    { what: "another app's file", spec: app("apps/a"), paths: ["apps/b/cm.yaml", "README.md"], want: false },
    { what: "the repository root holds every file", spec: app("."), paths: ["README.md"], want: true },
    { what: "no path: the root", spec: app(undefined), paths: ["x"], want: true },
    { what: "no list: unknown, not first", spec: app("apps/a"), paths: undefined, want: false },
    { what: "an empty list", spec: app("."), paths: [], want: false },
    {
      what: "another repository's push",
      spec: app("apps/a"),
      paths: ["apps/a/cm.yaml"],
      repo: "https://git.example/team/other.git",
      want: false,
    },
    {
      what: "the push names the repository by its web URL",
      spec: app("apps/a"),
      paths: ["apps/a/x"],
      repo: "https://git.example/team/mono",
      want: true,
    },
    { what: "a chart whose $values file changed", spec: chart, paths: ["envs/prod/api.yaml"], want: true },
    {
      what: "a chart whose $values files did not change",
      spec: chart,
      paths: ["envs/dev/api.yaml", "defaults.yaml"],
      want: false,
    },
  ];
  for (const c of cases) {
    void it(c.what, () =>
      assert.equal(changedByPush(c.spec, c.repo ?? MONO, pushedFiles(c.paths), sameRepo), c.want),
    );
  }
});

void describe("changedFirst", () => {
  void it("puts the changed keys first, each part in its order", () => {
    const { ordered, first } = changedFirst(["a", "b", "c", "d", "e"], (k) => k === "d" || k === "b");
    assert.deepEqual(ordered, ["b", "d", "a", "c", "e"]);
    assert.deepEqual([...first], ["b", "d"]);
  });
  void it("none changed: the same order", () => {
    assert.deepEqual(changedFirst(["a", "b"], () => false).ordered, ["a", "b"]);
  });
});
