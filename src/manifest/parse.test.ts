import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GitgateError } from "../errors.js";
import { parseManifests } from "./parse.js";

const cm = (name: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

void describe("parseManifests", () => {
  const ok: Array<{ name: string; text: string; want: Array<[string, number]> }> = [
    { name: "single document", text: cm("a"), want: [["a", 1]] },
    {
      name: "multi-document with leading ---",
      text: `---\n${cm("a")}---\n${cm("b")}`,
      want: [
        ["a", 2],
        ["b", 7],
      ],
    },
    {
      name: "comments before a document do not count as its start",
      text: `# header\n\n---\n# the first one\n${cm("a")}---\n\n${cm("b")}`,
      want: [
        ["a", 5],
        ["b", 11],
      ],
    },
    {
      name: "empty documents and trailing --- are skipped",
      text: `---\n---\n${cm("a")}---\n# nothing\n---\n`,
      want: [["a", 3]],
    },
    {
      name: "document end marker ...",
      text: `${cm("a")}...\n---\n${cm("b")}`,
      want: [
        ["a", 1],
        ["b", 7],
      ],
    },
    {
      name: "content on the marker line",
      text: `--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n`,
      want: [["a", 1]],
    },
    {
      name: "CRLF line endings",
      text: cm("a").replace(/\n/g, "\r\n") + "---\r\n" + cm("b").replace(/\n/g, "\r\n"),
      want: [
        ["a", 1],
        ["b", 6],
      ],
    },
    {
      name: "--- inside an indented block scalar is content",
      text: `${cm("a")}data:\n  script: |\n    echo one\n    ---\n    echo two\n`,
      want: [["a", 1]],
    },
    {
      name: "JSON object",
      text: `{\n\t"apiVersion": "v1",\n\t"kind": "ConfigMap",\n\t"metadata": {"name": "j"}\n}\n`,
      want: [["j", 1]],
    },
    {
      name: "kind: List expands items",
      text: `# list\napiVersion: v1\nkind: List\nitems:\n  - ${cm("x").trimEnd().split("\n").join("\n    ")}\n  - {apiVersion: v1, kind: Secret, metadata: {name: y}}\n`,
      want: [
        ["x", 2],
        ["y", 2],
      ],
    },
    {
      name: "a hook may use generateName (gitgate's, Argo CD's or Helm's annotation)",
      text:
        `apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: run-, annotations: {gitgate.io/hook: PreSync}}\n---\n` +
        `apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: m-, annotations: {helm.sh/hook: pre-install}}\n`,
      want: [
        ["run-", 1],
        ["m-", 5],
      ],
    },
    { name: "only comments", text: "# nothing here\n", want: [] },
    { name: "empty text", text: "", want: [] },
  ];
  for (const tc of ok) {
    void it(tc.name, () => {
      const docs = parseManifests(tc.text, "apps/x.yaml");
      assert.deepEqual(
        docs.map((d) => [d.object.metadata.name ?? d.object.metadata.generateName, d.line]),
        tc.want,
      );
      for (const d of docs) assert.equal(d.file, "apps/x.yaml");
    });
  }

  const bad: Array<{ name: string; text: string; message: RegExp }> = [
    {
      name: "broken YAML names file:line",
      text: `${cm("a")}---\n${cm("b")}data:\n  k: v\n   bad: x\n`,
      message: /^apps\/x\.yaml:12: bad indentation/,
    },
    {
      name: "unterminated flow JSON",
      text: `{\n  "apiVersion": "v1",\n  "kind": [\n`,
      message: /^apps\/x\.yaml:4: /,
    },
    {
      name: "duplicate keys are rejected",
      text: `${cm("a")}metadata:\n  name: b\n`,
      message: /^apps\/x\.yaml:5: duplicated mapping key/,
    },
    {
      name: "missing kind",
      text: `apiVersion: v1\nmetadata:\n  name: a\n`,
      message: /^apps\/x\.yaml:1: missing kind$/,
    },
    {
      name: "missing apiVersion",
      text: `kind: ConfigMap\nmetadata: {name: a}\n`,
      message: /^apps\/x\.yaml:1: missing apiVersion$/,
    },
    {
      name: "missing metadata",
      text: `apiVersion: v1\nkind: ConfigMap\n`,
      message: /:1: ConfigMap has no metadata$/,
    },
    {
      name: "missing name",
      text: `${cm("a")}---\napiVersion: v1\nkind: Pod\nmetadata: {}\n`,
      message: /:6: Pod has no metadata.name$/,
    },
    {
      name: "generateName is refused",
      text: `apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: run-}\n`,
      message: /generateName; gitgate needs a fixed metadata.name/,
    },
    {
      name: "scalar document",
      text: `just text\n`,
      message: /:1: document is a string, expected a Kubernetes object/,
    },
    { name: "list document", text: `- a\n- b\n`, message: /:1: document is a list/ },
    {
      name: "unquoted number label",
      text: `${cm("a")}  labels:\n    version: 1.0\n`,
      message: /metadata\.labels\.version must be a string/,
    },
    {
      name: "bad List item",
      text: `apiVersion: v1\nkind: List\nitems:\n  - {kind: ConfigMap}\n`,
      message: /:1: List items\[0\]: missing apiVersion/,
    },
    { name: "unknown tags", text: `${cm("a")}data:\n  k: !!binary aGk=\n`, message: /:6: unknown tag/ },
  ];
  for (const tc of bad) {
    void it(`rejects: ${tc.name}`, () => {
      assert.throws(
        () => parseManifests(tc.text, "apps/x.yaml"),
        (err: unknown) => {
          assert.ok(err instanceof GitgateError);
          assert.equal(err.class, "terminal");
          assert.equal(err.reason, "InvalidManifest");
          assert.match(err.message, tc.message);
          return true;
        },
      );
    });
  }

  void it("keeps dates and yes/no as YAML 1.2 core values, and supports merge keys", () => {
    const [doc] = parseManifests(
      `${cm("a")}data:\n  day: 2024-01-01\n  flag: yes\n  <<: {extra: "1"}\n`,
      "f.yaml",
    );
    assert.deepEqual(doc?.object.data, { day: "2024-01-01", flag: "yes", extra: "1" });
  });

  void it("detaches aliases so stamping one field cannot change another", () => {
    const text = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  labels: &l {app: a}\nspec:\n  selector:\n    matchLabels: *l\n`;
    const [doc] = parseManifests(text, "f.yaml");
    assert.ok(doc);
    const labels = doc.object.metadata.labels ?? {};
    labels.extra = "x";
    const spec = doc.object.spec as { selector: { matchLabels: Record<string, string> } };
    assert.deepEqual(spec.selector.matchLabels, { app: "a" });
  });

  void it("bounds alias expansion (billion laughs)", () => {
    let text = `${cm("a")}data:\n  l0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n`;
    for (let i = 1; i < 9; i++)
      text += `  l${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(",")}]\n`;
    assert.throws(
      () => parseManifests(text, "bomb.yaml"),
      /bomb\.yaml:1: too many values after expanding aliases/,
    );
  });

  void it("bounds alias expansion across documents and files, not just per document", () => {
    // Each document expands to 1,001+ values: fine alone under a 2,500 limit, not three together.
    const doc = (name: string): string =>
      `${cm(name)}data:\n  l0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n  l1: &a1 [${Array(10).fill("*a0").join(",")}]\n  l2: [${Array(10).fill("*a1").join(",")}]\n`;
    assert.equal(parseManifests(doc("one"), "one.yaml", { maxNodes: 2_500 }).length, 1);
    assert.throws(
      () => parseManifests([doc("a"), doc("b"), doc("c")].join("---\n"), "many.yaml", { maxNodes: 2_500 }),
      /many\.yaml:\d+: too many values after expanding aliases/,
    );
    const budget = { left: 2_500 };
    parseManifests(doc("a"), "a.yaml", { budget });
    parseManifests(doc("b"), "b.yaml", { budget });
    assert.throws(() => parseManifests(doc("c"), "c.yaml", { budget }), /c\.yaml:\d+: too many values/);
  });
});
