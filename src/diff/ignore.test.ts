import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IgnoreRule } from "../manifest/desired.js";
import { cursorIgnoresPath, ignoreCursor, ignoredPointers, ignoreTrie } from "./ignore.js";
import { parsePointer, type PathSegment } from "./path.js";

/**
 * The reference the trie is checked against: pointer by pointer, segment by segment.
 * Whether pointer tokens select this path or one of its ancestors. A list item matches its index in
 * the desired list, the value of its merge key (`/spec/template/spec/containers/web/image`), or `*`.
 */
function pointerCovers(tokens: readonly string[], segments: readonly PathSegment[]): boolean {
  if (tokens.length > segments.length) return false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    const seg = segments[i] as PathSegment;
    if (typeof seg === "string") {
      if (token !== seg) return false;
    } else if (typeof seg === "number") {
      if (token !== "*" && token !== String(seg)) return false;
    } else if (token !== "*" && token !== String(seg.index) && String(seg.keys[0]?.[1]) !== token) {
      return false;
    }
  }
  return true;
}

function isIgnored(pointers: readonly string[][], segments: readonly PathSegment[]): boolean {
  return pointers.some((tokens) => pointerCovers(tokens, segments));
}

const web: PathSegment = { keys: [["name", "web"]], index: 1 };
const port: PathSegment = { keys: [["containerPort", 80]], index: 0 };

const paths: PathSegment[][] = [
  [],
  ["spec"],
  ["spec", "replicas"],
  ["spec", "template", "spec", "containers", web, "image"],
  ["spec", "template", "spec", "containers", web, "ports", port, "containerPort"],
  ["spec", "ports", 0, "port"],
  ["spec", "ports", 3],
  ["metadata", "labels", "gitgate.io/app"],
  ["metadata", "annotations", "a/b~c"],
  ["data", "key"],
];

const pointerSets: string[][] = [
  [],
  [""],
  ["/spec/replicas"],
  ["/spec"],
  ["/spec/template/spec/containers/web/image"],
  ["/spec/template/spec/containers/1/image"],
  ["/spec/template/spec/containers/*/ports/80"],
  ["/spec/template/spec/containers/0"],
  ["/spec/ports/*/port", "/spec/ports/3"],
  ["/spec/ports/0"],
  ["/metadata/labels/gitgate.io~1app", "/metadata/annotations/a~1b~0c"],
  ["/data", "/spec/replicas/deeper"],
  ["/spec/template", "/spec/template/spec/containers/web"],
];

describe("ignore trie", () => {
  // Every pointer set against every path: the trie walk decides exactly as pointerCovers does.
  for (const pointers of pointerSets) {
    it(`agrees with isIgnored for ${JSON.stringify(pointers)}`, () => {
      const tokens = pointers.map((p) => parsePointer(p) ?? []);
      const trie = ignoreTrie(tokens);
      for (const path of paths)
        assert.equal(cursorIgnoresPath(trie, path), isIgnored(tokens, path), JSON.stringify(path));
    });
  }

  it("compiles a rules array once per object, and only the rules that apply to it", () => {
    const rules: IgnoreRule[] = [
      { kind: "Deployment", jsonPointers: ["/spec/replicas"] },
      { kind: "ConfigMap", jsonPointers: ["/data"] },
      { jsonPointers: ["not-a-pointer"] },
    ];
    const deploy = { group: "apps", kind: "Deployment", namespace: "ns", name: "web" };
    const config = { group: "", kind: "ConfigMap", namespace: "ns", name: "web" };
    assert.equal(ignoreCursor(deploy, rules), ignoreCursor(deploy, rules));
    assert.deepEqual(ignoredPointers(deploy, rules), [["spec", "replicas"]]);
    assert.equal(cursorIgnoresPath(ignoreCursor(deploy, rules), ["spec", "replicas"]), true);
    assert.equal(cursorIgnoresPath(ignoreCursor(deploy, rules), ["data", "x"]), false);
    assert.equal(cursorIgnoresPath(ignoreCursor(config, rules), ["data", "x"]), true);
    assert.equal(cursorIgnoresPath(ignoreCursor(config, []), ["data", "x"]), false);
  });
});
