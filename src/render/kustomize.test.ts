import assert from "node:assert/strict";
import { describe, it } from "node:test";
import yaml from "js-yaml";
import { isRemote, remoteFileReference } from "./kustomize.js";

const URL = "https://127.0.0.1:1/x.yaml";

void describe("remoteFileReference: every field that names a file", () => {
  const cases: Array<[field: string, kustomization: string]> = [
    ["patchesStrategicMerge", `patchesStrategicMerge: [${URL}]`],
    ["crds", `crds: [${URL}]`],
    ["configurations", `configurations: [${URL}]`],
    ["patches.path", `patches: [{path: ${URL}}]`],
    ["patchesJson6902.path", `patchesJson6902: [{path: ${URL}, target: {kind: X}}]`],
    ["replacements.path", `replacements: [{path: ${URL}}]`],
    ["openapi.path", `openapi: {path: ${URL}}`],
    ["configMapGenerator.files", `configMapGenerator: [{name: c, files: ["k=${URL}"]}]`],
    ["configMapGenerator.files", `configMapGenerator: [{name: c, files: [${URL}]}]`],
    ["configMapGenerator.envs", `configMapGenerator: [{name: c, envs: ["${URL}?a=b"]}]`],
    ["configMapGenerator.env", `configMapGenerator: [{name: c, env: ${URL}}]`],
    ["secretGenerator.files", `secretGenerator: [{name: s, files: ["k=${URL}"]}]`],
    ["secretGenerator.envs", `secretGenerator: [{name: s, envs: [${URL}]}]`],
    ["secretGenerator.env", `secretGenerator: [{name: s, env: ${URL}}]`],
    ["helmCharts.repo", `helmCharts: [{name: c, repo: https://charts.example.com}]`],
    ["helmCharts.chartHome", `helmCharts: [{name: c, chartHome: ${URL}}]`],
    ["helmCharts.valuesFile", `helmCharts: [{name: c, valuesFile: ${URL}}]`],
    ["helmCharts.additionalValuesFiles", `helmCharts: [{name: c, additionalValuesFiles: [v.yaml, ${URL}]}]`],
    ["helmGlobals.chartHome", `helmGlobals: {chartHome: ${URL}}`],
    ["helmGlobals.configHome", `helmGlobals: {configHome: ${URL}}`],
    ["helmChartInflationGenerator.chartRepoUrl", `helmChartInflationGenerator: [{chartRepoUrl: ${URL}}]`],
    ["helmChartInflationGenerator.chartHome", `helmChartInflationGenerator: [{chartHome: ${URL}}]`],
    ["helmChartInflationGenerator.values", `helmChartInflationGenerator: [{values: ${URL}}]`],
    ["patches.path", `patches: [{path: "  ${URL}  "}]`],
    ["patchesStrategicMerge", `patchesStrategicMerge: ["${URL}\\n"]`],
  ];
  for (const [field, text] of cases)
    void it(`${field}: ${text}`, () => {
      const doc = yaml.load(text) as Record<string, unknown>;
      assert.deepEqual(remoteFileReference(doc)?.[0], field);
    });

  const local: Array<[name: string, kustomization: string]> = [
    [
      "local paths everywhere",
      "patches: [{path: p.yaml}]\nconfigurations: [c.yaml]\ncrds: [crd.json]\nopenapi: {path: o.json}",
    ],
    ["a generator key=value literal", "configMapGenerator: [{name: c, literals: [url=https://example.com]}]"],
    [
      "an inline patch naming a URL",
      'patchesStrategicMerge: ["kind: X\\nmetadata: {annotations: {a: https://e.com}}\\n"]',
    ],
    ["an inline patches.patch", "patches: [{patch: 'a: https://e.com'}]"],
    ["a helm chart from a local chartHome", "helmCharts: [{name: c, chartHome: charts, valuesFile: v.yaml}]"],
    ["fields of shapes kustomize refuses itself", "configurations: {a: 1}\nopenapi: [1]"],
  ];
  for (const [name, text] of local)
    void it(`not remote: ${name}`, () => {
      const doc = yaml.load(text) as Record<string, unknown>;
      assert.equal(remoteFileReference(doc), undefined);
    });
});

void describe("isRemote", () => {
  const cases: Array<[string, boolean]> = [
    ["https://github.com/a/b", true],
    ["HTTP://x", true],
    ["ssh://git@h/r", true],
    ["file:///etc/passwd", true],
    ["git@github.com:a/b", true],
    ["git::https://h/r", true],
    ["gh:org/repo", true],
    ["github.com/org/repo//dir?ref=v1", true],
    ["  https://x", true],
    ["../base", false],
    ["base/deployment.yaml", false],
    ["k=v.yaml", false],
    [`${"a".repeat(100_000)}://`, false],
  ];
  for (const [entry, want] of cases)
    void it(JSON.stringify(entry.slice(0, 40)), () => assert.equal(isRemote(entry), want));
});
