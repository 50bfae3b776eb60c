import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Generator } from "../api/gitappset.js";
import { generate, normalizeName, type GeneratorInputs } from "./generators.js";

const inputs: GeneratorInputs = {
  clusters: [
    { name: "staging", server: "https://staging:6443", labels: { env: "staging", tier: "pre" } },
    { name: "dev", server: "https://dev:6443", labels: { env: "dev", tier: "pre" } },
    { name: "prod", server: "https://prod:6443", labels: { env: "prod" } },
  ],
  directoriesOf: () => [
    "apps",
    "apps/web",
    "apps/api",
    "apps/Legacy_UI",
    "apps/web/base",
    "charts",
    "charts/db",
  ],
};

type Case = [name: string, generators: Generator[], want: Array<Record<string, string>> | RegExp];

const cases: Case[] = [
  [
    "list",
    [{ list: { elements: [{ env: "a" }, { env: "b", x: "1" }] } }],
    [{ env: "a" }, { env: "b", x: "1" }],
  ],
  [
    "clusters by matchLabels, sorted by name, with labels as params",
    [{ clusters: { selector: { matchLabels: { tier: "pre" } } } }],
    [
      {
        "cluster.name": "dev",
        "cluster.server": "https://dev:6443",
        "cluster.labels.env": "dev",
        "cluster.labels.tier": "pre",
      },
      {
        "cluster.name": "staging",
        "cluster.server": "https://staging:6443",
        "cluster.labels.env": "staging",
        "cluster.labels.tier": "pre",
      },
    ],
  ],
  [
    "clusters by matchExpressions",
    [
      {
        clusters: {
          selector: { matchExpressions: [{ key: "env", operator: "NotIn", values: ["dev", "staging"] }] },
        },
      },
    ],
    [{ "cluster.name": "prod", "cluster.server": "https://prod:6443", "cluster.labels.env": "prod" }],
  ],
  [
    "clusters without a selector: the hub (in-cluster) and every registered cluster",
    [{ clusters: {} }],
    [
      {
        "cluster.name": "dev",
        "cluster.server": "https://dev:6443",
        "cluster.labels.env": "dev",
        "cluster.labels.tier": "pre",
      },
      { "cluster.name": "in-cluster", "cluster.server": "https://kubernetes.default.svc" },
      { "cluster.name": "prod", "cluster.server": "https://prod:6443", "cluster.labels.env": "prod" },
      {
        "cluster.name": "staging",
        "cluster.server": "https://staging:6443",
        "cluster.labels.env": "staging",
        "cluster.labels.tier": "pre",
      },
    ],
  ],
  ["clusters: a selector matching none", [{ clusters: { selector: { matchLabels: { env: "qa" } } } }], []],
  [
    "clusters: In without values",
    [{ clusters: { selector: { matchExpressions: [{ key: "env", operator: "In" }] } } }],
    /InvalidSelector: clusters generator: matchExpressions: In on "env" needs values/,
  ],
  [
    "gitDirectories with an exclude",
    [
      {
        gitDirectories: {
          repoURL: "r",
          directories: [{ path: "apps/*" }, { path: "apps/api", exclude: true }],
        },
      },
    ],
    [
      { path: "apps/Legacy_UI", "path.basename": "Legacy_UI", "path.basenameNormalized": "legacy-ui" },
      { path: "apps/web", "path.basename": "web", "path.basenameNormalized": "web" },
    ],
  ],
  [
    "gitDirectories: a bad pattern",
    [{ gitDirectories: { repoURL: "r", directories: [{ path: "apps/**" }] } }],
    /InvalidPattern: .*"\*\*" is not supported/,
  ],
  [
    "matrix of gitDirectories and list",
    [
      {
        matrix: {
          generators: [
            { gitDirectories: { repoURL: "r", directories: [{ path: "charts/*" }] } },
            { list: { elements: [{ env: "dev" }, { env: "prod" }] } },
          ],
        },
      },
    ],
    [
      { path: "charts/db", "path.basename": "db", "path.basenameNormalized": "db", env: "dev" },
      { path: "charts/db", "path.basename": "db", "path.basenameNormalized": "db", env: "prod" },
    ],
  ],
  [
    "matrix of one",
    [{ matrix: { generators: [{ list: { elements: [{ a: "1" }] } }] } }],
    /InvalidMatrix: a matrix generator takes exactly two generators, not 1/,
  ],
  [
    "matrix in a matrix",
    [
      {
        matrix: {
          generators: [
            { list: { elements: [{ a: "1" }] } },
            {
              matrix: {
                generators: [{ list: { elements: [{ b: "1" }] } }, { list: { elements: [{ c: "1" }] } }],
              },
            },
          ],
        },
      },
    ],
    /InvalidMatrix: a matrix generator may not hold another matrix/,
  ],
  [
    "matrix with a key both sides give",
    [
      {
        matrix: {
          generators: [{ list: { elements: [{ env: "a" }] } }, { list: { elements: [{ env: "b" }] } }],
        },
      },
    ],
    /DuplicateParam: matrix generator: both generators give the param "env"/,
  ],
  [
    "matrix over the cap",
    [
      {
        matrix: {
          generators: [
            { list: { elements: Array.from({ length: 40 }, (_, i) => ({ a: String(i) })) } },
            { list: { elements: Array.from({ length: 30 }, (_, i) => ({ b: String(i) })) } },
          ],
        },
      },
    ],
    /TooManyApps: matrix generator: 1200 parameter sets; at most 1000/,
  ],
  [
    "generators follow one another",
    [{ list: { elements: [{ a: "1" }] } }, { list: { elements: [{ b: "2" }] } }],
    [{ a: "1" }, { b: "2" }],
  ],
  [
    "the generators together over the cap",
    [
      { list: { elements: Array.from({ length: 600 }, (_, i) => ({ a: String(i) })) } },
      { list: { elements: Array.from({ length: 600 }, (_, i) => ({ a: String(i) })) } },
    ],
    /TooManyApps: the generators: 1200 parameter sets/,
  ],
];

describe("generators", () => {
  for (const [name, generators, want] of cases)
    it(name, () => {
      const got = generate({ generators }, inputs);
      if (want instanceof RegExp) {
        assert.equal(got.ok, false);
        if (!got.ok) assert.match(`${got.error.reason}: ${got.error.message}`, want);
      } else assert.deepEqual(got, { ok: true, params: want });
    });

  it("normalizes basenames for names", () => {
    assert.equal(normalizeName("Legacy_UI v2"), "legacy-ui-v2");
    assert.equal(normalizeName("web.eu"), "web.eu");
  });
});
