import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkSetSpec } from "./gitappset.js";

const template = { metadata: { name: "web-{{env}}" }, spec: { source: { repoURL: "http://git/r.git" } } };

describe("GitAppSet spec check", () => {
  const cases: Array<[name: string, spec: unknown, problem: RegExp | undefined]> = [
    ["a list generator", { generators: [{ list: { elements: [{ env: "a" }] } }], template }, undefined],
    [
      "a matrix of clusters and gitDirectories",
      {
        generators: [
          {
            matrix: {
              generators: [
                { clusters: { selector: { matchLabels: { env: "prod" } } } },
                { gitDirectories: { repoURL: "http://git/r.git", directories: [{ path: "apps/*" }] } },
              ],
            },
          },
        ],
        template,
        syncPolicy: { prune: true },
      },
      undefined,
    ],
    ["no generators", { generators: [], template }, /spec\/generators must NOT have fewer than 1 items/],
    [
      "two kinds in one generator",
      { generators: [{ list: { elements: [] }, clusters: {} }], template },
      /spec\/generators\/0 must NOT have more than 1 properties/,
    ],
    ["an unknown generator", { generators: [{ scm: {} }], template }, /must NOT have additional properties/],
    [
      "a list value that is not a string",
      { generators: [{ list: { elements: [{ n: 1 }] } }], template },
      /spec\/generators\/0\/list\/elements\/0\/n must be string/,
    ],
    [
      "a list value over 1 KiB",
      { generators: [{ list: { elements: [{ n: "x".repeat(1025) }] } }], template },
      /must NOT have more than 1024 characters/,
    ],
    [
      "a template without a name",
      { generators: [{ list: { elements: [] } }], template: { metadata: {}, spec: { source: {} } } },
      /spec\/template\/metadata must have required property 'name'/,
    ],
    [
      "an unknown syncPolicy field",
      { generators: [{ list: { elements: [] } }], template, syncPolicy: { preserve: true } },
      /syncPolicy must NOT have additional properties/,
    ],
    [
      "a template over 64 KiB",
      {
        generators: [{ list: { elements: [] } }],
        template: { ...template, spec: { source: { repoURL: "x" }, pad: "x".repeat(70_000) } },
      },
      /spec.template is larger than 65536 bytes/,
    ],
    [
      "a list of over 1000 elements",
      { generators: [{ list: { elements: Array(1001).fill({}) } }], template },
      /must NOT have more than 1000 items/,
    ],
  ];
  for (const [name, spec, problem] of cases)
    it(name, () => {
      const got = checkSetSpec(spec);
      if (!problem) assert.equal(got.ok, true, got.ok ? "" : got.error.message);
      else {
        assert.equal(got.ok, false);
        if (!got.ok) {
          assert.equal(got.error.reason, "InvalidSpec");
          assert.match(got.error.message, problem);
        }
      }
    });
});
