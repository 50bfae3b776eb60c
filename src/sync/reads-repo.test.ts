import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sameRepo } from "../source/url.js";
import { readsRepo } from "./reads-repo.js";

void describe("readsRepo", () => {
  const gitApp = { source: { repoURL: "https://git.example/team/app.git" } };
  const chartApp = {
    source: { repoURL: "oci://registry.example/charts", chart: "api" },
    valuesFrom: { repoURL: "https://git.example/team/values.git" },
  };
  const cases: Array<[string, Parameters<typeof readsRepo>[0], string, boolean]> = [
    ["its source", gitApp, "https://git.example/team/app.git", true],
    ["its source, another URL form", gitApp, "https://git.example/team/app", true],
    ["another repository", gitApp, "https://git.example/team/values.git", false],
    ["the repository of its value files", chartApp, "https://git.example/team/values.git", true],
    ["the values repository without .git", chartApp, "https://git.example/team/values", true],
    ["neither source nor values", chartApp, "https://git.example/team/app.git", false],
    ["an empty valuesFrom.repoURL matches nothing", { ...gitApp, valuesFrom: { repoURL: "" } }, "", false],
  ];
  for (const [name, spec, url, want] of cases)
    void it(name, () => assert.equal(readsRepo(spec, url, sameRepo), want));
});
