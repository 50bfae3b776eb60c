import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { KubeObject } from "../manifest/object.js";
import { isNewer } from "./live.js";

const at = (resourceVersion?: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", namespace: "n", ...(resourceVersion ? { resourceVersion } : {}) },
});

describe("isNewer (an apply's response against the watch cache)", () => {
  const table: Array<[string, KubeObject, KubeObject | undefined, boolean]> = [
    ["nothing cached", at("5"), undefined, true],
    ["newer response", at("7"), at("5"), true],
    ["same version", at("5"), at("5"), true],
    ["the watch is already ahead: keep the cached", at("5"), at("9"), false],
    ["numbers, not text", at("10"), at("9"), true],
    ["beyond 2^53", at("90071992547409930"), at("90071992547409929"), true],
    ["not numeric: the response wins", at("abc"), at("9"), true],
    ["no version on the response", at(), at("9"), true],
  ];
  for (const [name, incoming, cached, want] of table)
    it(name, () => assert.equal(isNewer(incoming, cached), want));
});
