import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { describe, it } from "node:test";
import { GitgateError } from "../../errors.js";
import { gitLocation } from "../../admission/message.js";
import { valuesLocation } from "../../sync/prepare.js";
import { indexURL, isOciURL } from "./chart-source.js";
import { combinedSource } from "./dispatch.js";
import { CHART_NAME, parseIndex, sha256Hex } from "./index-file.js";
import { ociRef } from "./oci.js";
import { readChartArchive, safeMemberPath } from "./tar.js";
import { resolveChartVersion } from "./version.js";

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GitgateError);
    return err.reason;
  }
  return "no error";
}

const PUBLISHED = ["0.9.0", "1.0.0", "1.0.1", "1.2.0", "1.3.0-rc.1", "2.0.0", "v2.1.0", "not-semver"];

void describe("resolveChartVersion", () => {
  const cases: Array<[string, string]> = [
    ["1.0.0", "1.0.0"],
    ["v1.0.1", "1.0.1"],
    ["2.1.0", "v2.1.0"],
    ["1.x", "1.2.0"],
    ["~1.0", "1.0.1"],
    ["^1", "1.2.0"],
    [">=1.0 <2", "1.2.0"],
    [">=1.3.0-0 <2", "1.3.0-rc.1"],
    ["", "v2.1.0"],
    ["HEAD", "v2.1.0"],
    ["*", "v2.1.0"],
  ];
  for (const [revision, want] of cases)
    void it(`${JSON.stringify(revision)} → ${want}`, () =>
      assert.equal(resolveChartVersion(PUBLISHED, revision, "chart x"), want));
  const refusals: Array<[string, string]> = [
    ["3.0.0", "ChartVersionNotFound"],
    ["^3", "ChartVersionNotFound"],
    ["main", "InvalidRevision"],
    ["x".repeat(300), "InvalidRevision"],
  ];
  for (const [revision, reason] of refusals)
    void it(`${JSON.stringify(revision.slice(0, 20))} is refused: ${reason}`, () =>
      assert.equal(
        reasonOf(() => resolveChartVersion(PUBLISHED, revision, "chart x")),
        reason,
      ));
  void it("no stable version at all", () =>
    assert.equal(
      reasonOf(() => resolveChartVersion(["1.0.0-rc.1"], "", "chart x")),
      "ChartVersionNotFound",
    ));
});

void describe("parseIndex", () => {
  const index = [
    "apiVersion: v1",
    "entries:",
    "  hello:",
    "    - version: 1.0.0",
    "      urls: [hello-1.0.0.tgz]",
    "      digest: " + "a".repeat(64),
    "    - version: 1.10",
    "      urls: [https://cdn.example/hello-1.10.tgz]",
    "    - {version: 2.0.0}",
    "    - not an entry",
    "  other: []",
  ].join("\n");
  void it("reads one chart's versions, urls and digests; entries without urls are skipped", () => {
    assert.deepEqual(parseIndex(index, "hello", "repo"), [
      { version: "1.0.0", urls: ["hello-1.0.0.tgz"], digest: "a".repeat(64) },
      { version: "1.1", urls: ["https://cdn.example/hello-1.10.tgz"] },
    ]);
  });
  const refusals: Array<[string, string, string]> = [
    ["a missing chart", index, "ChartNotFound"],
    ["broken YAML", "entries: [", "InvalidChartIndex"],
    ["no entries", "apiVersion: v1\n", "InvalidChartIndex"],
    ["entries not a list", "entries: {missing: 3}\n", "InvalidChartIndex"],
    ["a custom tag", "entries: !!js/function x\n", "InvalidChartIndex"],
  ];
  for (const [name, text, reason] of refusals)
    void it(`${name}: ${reason}`, () =>
      assert.equal(
        reasonOf(() => parseIndex(text, "missing", "repo")),
        reason,
      ));
  void it("sha256Hex accepts `sha256:` and bare hex, nothing else", () => {
    assert.equal(sha256Hex(`sha256:${"AB".repeat(32)}`), "ab".repeat(32));
    assert.equal(sha256Hex("ab".repeat(32)), "ab".repeat(32));
    assert.equal(sha256Hex("md5:abc"), undefined);
    assert.equal(sha256Hex(undefined), undefined);
  });
});

void describe("chart names and repository URLs", () => {
  for (const [name, ok] of [
    ["hello", true],
    ["ingress-nginx", true],
    ["a.b_c", true],
    ["-flag", false],
    ["../etc", false],
    ["a/b", false],
    ["", false],
  ] as const)
    void it(`chart name ${JSON.stringify(name)}: ${ok ? "valid" : "refused"}`, () =>
      assert.equal(CHART_NAME.test(name), ok));
  void it("index.yaml URL with or without the file name", () => {
    assert.equal(indexURL("https://charts.example/stable"), "https://charts.example/stable/index.yaml");
    assert.equal(indexURL("https://charts.example/stable/"), "https://charts.example/stable/index.yaml");
    assert.equal(indexURL("https://charts.example/index.yaml"), "https://charts.example/index.yaml");
    assert.ok(isOciURL("OCI://ghcr.io/x") && !isOciURL("https://ghcr.io"));
  });
  const refs: Array<[string, string, { base: string; plainFallback?: string; name: string } | string]> = [
    ["oci://ghcr.io/org/charts", "app", { base: "https://ghcr.io", name: "org/charts/app" }],
    ["oci://registry.example:5000/", "app", { base: "https://registry.example:5000", name: "app" }],
    [
      "oci://127.0.0.1:5000/charts",
      "app",
      { base: "https://127.0.0.1:5000", plainFallback: "http://127.0.0.1:5000", name: "charts/app" },
    ],
    [
      "oci://localhost:5000/c",
      "app",
      { base: "https://localhost:5000", plainFallback: "http://localhost:5000", name: "c/app" },
    ],
    ["oci://user:pw@ghcr.io/x", "app", "InvalidRepoURL"],
    ["oci://ghcr.io/x/../y", "app", "InvalidRepoURL"],
    ["oci://ghcr.io/X", "app", "InvalidRepoURL"],
  ];
  for (const [url, chart, want] of refs)
    void it(`ociRef ${url}`, () => {
      if (typeof want === "string")
        assert.equal(
          reasonOf(() => ociRef(url, chart)),
          want,
        );
      else assert.deepEqual(ociRef(url, chart), want);
    });
});

/** A ustar member: name, type flag and data; enough for these tests' archives. */
function member(name: string, data: string, type = "0"): Buffer {
  const header = Buffer.alloc(512);
  header.write(name.slice(0, 100), 0);
  header.write("0000644\0", 100);
  header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124);
  header.write("00000000000\0", 136);
  header.write(type, 156);
  header.write("ustar\0", 257);
  const body = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  body.write(data);
  return Buffer.concat([header, body]);
}
const pax = (path: string): Buffer => {
  const record = ` path=${path}\n`;
  const len = record.length + String(record.length + 2).length;
  return member("PaxHeader", `${len}${record}`, "x");
};
const archive = (...members: Buffer[]): Buffer => gzipSync(Buffer.concat([...members, Buffer.alloc(1024)]));
const limits = { maxBytes: 1 << 20, maxFiles: 10 };

void describe("readChartArchive", () => {
  void it("keeps regular files (pax long names too), skips links and directories", () => {
    const long = `hello/templates/${"x".repeat(120)}.yaml`;
    const files = readChartArchive(
      archive(
        member("hello/", "", "5"),
        member("hello/Chart.yaml", "name: hello\n"),
        member("hello/link", "", "2"),
        pax(long),
        member("ignored-short-name", "kind: ConfigMap\n"),
      ),
      limits,
    );
    assert.deepEqual(
      files.map((f) => [f.path, f.data.toString()]),
      [
        ["hello/Chart.yaml", "name: hello\n"],
        [long, "kind: ConfigMap\n"],
      ],
    );
  });
  const refusals: Array<[string, () => Buffer, string]> = [
    ["a member escaping with ..", () => archive(member("hello/../../etc/x", "a")), "InvalidChartArchive"],
    ["an absolute member", () => archive(member("/etc/x", "a")), "InvalidChartArchive"],
    ["not gzip", () => Buffer.from("plain text"), "InvalidChartArchive"],
    ["a bomb", () => gzipSync(Buffer.alloc(2 << 20)), "ChartTooLarge"],
    [
      "too many files",
      () => archive(...Array.from({ length: 11 }, (_, i) => member(`h/${i}`, "a"))),
      "ChartTooLarge",
    ],
    [
      "a truncated archive",
      () => gzipSync(member("h/a", "x".repeat(2000)).subarray(0, 700)),
      "InvalidChartArchive",
    ],
  ];
  for (const [name, make, reason] of refusals)
    void it(`${name}: ${reason}`, () =>
      assert.equal(
        reasonOf(() => readChartArchive(make(), limits)),
        reason,
      ));
  void it("safeMemberPath drops ./ and empty names", () => {
    assert.equal(safeMemberPath("./hello//Chart.yaml"), "hello/Chart.yaml");
    assert.equal(safeMemberPath("./"), undefined);
  });
});

void describe("the gate's location of a chart object", () => {
  void it("names <repo> <chart>@<version> for a chart, <repo> <file>@<sha7> for Git", () => {
    const commit = "0123456789abcdef0123456789abcdef01234567";
    assert.equal(
      gitLocation({
        repoURL: "https://u:p@charts.example/x",
        path: ".",
        file: "templates/cm.yaml",
        commit: "1.2.3",
        chart: "hello",
      }),
      "https://charts.example/x hello@1.2.3",
    );
    assert.equal(
      gitLocation({ repoURL: "https://git.example/r", path: "app", file: "app/cm.yaml", commit }),
      "https://git.example/r app/cm.yaml@0123456",
    );
  });

  const chartAt = {
    repoURL: "oci://r.example/charts",
    path: ".",
    file: "templates/cm.yaml",
    commit: "1.0.0",
    chart: "api",
  };
  const commit = "89abcdef0123456789abcdef0123456789abcdef";
  const valuesCases: Array<[string, string[], string]> = [
    [
      "one value file in Git",
      ["prod.yaml"],
      "oci://r.example/charts api@1.0.0 with values https://git.example/v prod.yaml@89abcde",
    ],
    [
      "two",
      ["a.yaml", "b/c.yaml"],
      "oci://r.example/charts api@1.0.0 with values https://git.example/v a.yaml, b/c.yaml@89abcde",
    ],
    [
      "five: three named, the rest counted",
      ["1", "2", "3", "4", "5"],
      "oci://r.example/charts api@1.0.0 with values https://git.example/v 1, 2, 3 and 2 more@89abcde",
    ],
    ["none", [], "oci://r.example/charts api@1.0.0"],
  ];
  for (const [name, files, want] of valuesCases)
    void it(`a chart with values from Git: ${name}`, () =>
      assert.equal(
        gitLocation({ ...chartAt, values: { repoURL: "https://tok@git.example/v", files, commit } }),
        want,
      ));

  type SpecPart = Parameters<typeof valuesLocation>[0];
  const spec = (valueFiles: string[], withValuesFrom = true): SpecPart => ({
    chart: "api",
    helm: { valueFiles },
    ...(withValuesFrom ? { valuesFrom: { repoURL: "https://git.example/v.git", revision: "main" } } : {}),
  });
  const locations: Array<
    [string, ReturnType<typeof spec> | { chart?: string }, string | undefined, unknown]
  > = [
    [
      "$values/ files only",
      spec(["values.yaml", "$values/env/prod.yaml"]),
      commit,
      { repoURL: "https://git.example/v.git", files: ["env/prod.yaml"], commit },
    ],
    ["no $values/ file", spec(["values.yaml"]), commit, undefined],
    ["no valuesFrom", spec(["$values/x.yaml"], false), commit, undefined],
    ["not rendered from a values commit", spec(["$values/x.yaml"]), undefined, undefined],
    ["not a chart", {}, commit, undefined],
  ];
  for (const [name, s, c, want] of locations)
    void it(`valuesLocation: ${name}`, () => assert.deepEqual(valuesLocation(s, c), want));
});

void describe("combinedSource", () => {
  const git = {
    resolve: () => Promise.resolve({ commit: "c".repeat(40), dir: "/git", ref: "refs/heads/main" }),
  };
  const charts = {
    resolve: (r: { chart: string }) => Promise.resolve({ commit: "1.0.0", dir: `/charts/${r.chart}` }),
  };
  const source = combinedSource(git, charts);
  void it("sends a request naming a chart to the chart source, the rest to Git", async () => {
    assert.equal(
      (await source.resolve({ repoURL: "oci://r/x", revision: "1.0.0", chart: "app" })).dir,
      "/charts/app",
    );
    assert.equal((await source.resolve({ repoURL: "https://git/r", revision: "main" })).dir, "/git");
  });
  void it("an oci:// repoURL without a chart is refused, not fetched as Git", async () => {
    await assert.rejects(
      source.resolve({ repoURL: "oci://r/x", revision: "1.0.0" }),
      /set spec\.source\.chart/,
    );
  });
});
