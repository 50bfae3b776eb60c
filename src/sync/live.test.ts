import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { KubeObject } from "../manifest/object.js";
import type { ClusterClient } from "../cluster/client.js";
import { createLogger } from "../log/logger.js";
import { isNewer, LiveState } from "./live.js";

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

/**
 * A client whose discovery answers when told to and whose lists count calls and never end (the
 * informer then waits in its first list): enough to see how many informers LiveState starts.
 */
function slowClient(): { client: ClusterClient; answer: () => void; lists: () => number } {
  let lists = 0;
  let release: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => (release = resolve));
  const client = {
    discovery: { resource: () => answered },
    list: () => {
      lists++;
      return new Promise(() => undefined);
    },
  } as unknown as ClusterClient;
  return { client, answer: () => release(), lists: () => lists };
}

describe("LiveState.watch while discovery answers", () => {
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
  it("two reconciles watching one kind start one informer, not two (one nobody would stop)", async () => {
    const { client, answer, lists } = slowClient();
    const live = new LiveState(client, createLogger("silent"), () => undefined);
    void live.watch("apps/v1", "Deployment");
    void live.watch("apps/v1", "Deployment");
    answer();
    await settle();
    assert.equal(lists(), 1);
    live.stop();
  });
  it("stop() during discovery: no informer is started afterwards", async () => {
    const { client, answer, lists } = slowClient();
    const live = new LiveState(client, createLogger("silent"), () => undefined);
    const watching = live.watch("apps/v1", "Deployment");
    live.stop();
    answer();
    await assert.rejects(watching, /gitgate is stopping/);
    await settle();
    assert.equal(lists(), 0);
  });
});
