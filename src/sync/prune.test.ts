import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InventoryEntry } from "../api/gitapp.js";
import { DesiredIndex } from "../gate/desired-index.js";
import type { DesiredEntry } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import { cascadeBlocker } from "./prune.js";

const mine = { namespace: "apps", name: "web" };
const theirs = { namespace: "apps", name: "db" };

function declared(
  owner: typeof mine,
  group: string,
  kind: string,
  namespace: string,
  name: string,
): DesiredEntry {
  return {
    key: `${group}/${kind}/${namespace}/${name}`,
    ref: { group, kind, namespace, name },
    object: { apiVersion: group ? `${group}/v1` : "v1", kind, metadata: { name, namespace } },
    app: owner,
    source: { repoURL: "https://r", path: ".", file: "f.yaml", commit: "c".repeat(40) },
    mode: "enforce",
    ignore: [],
  };
}

const namespaceTeam: InventoryEntry = { group: "", version: "v1", kind: "Namespace", name: "team" };
const crdWidgets: InventoryEntry = {
  group: "apiextensions.k8s.io",
  version: "v1",
  kind: "CustomResourceDefinition",
  name: "widgets.example.com",
};
const liveNamespace: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } };
const liveCrd: KubeObject = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: { group: "example.com", names: { kind: "Widget" } },
};
const configMap: InventoryEntry = {
  group: "",
  version: "v1",
  kind: "ConfigMap",
  namespace: "team",
  name: "c",
};

void describe("cascadeBlocker: deletes that take other apps' objects with them", () => {
  const cases: Array<{
    name: string;
    entry: InventoryEntry;
    live: KubeObject;
    others: DesiredEntry[];
    complete?: boolean;
    blocked?: RegExp;
  }> = [
    {
      name: "a Namespace another app still declares objects in",
      entry: namespaceTeam,
      live: liveNamespace,
      others: [declared(theirs, "", "ConfigMap", "team", "x")],
      blocked: /^prune of Namespace team refused: GitApp apps\/db still declares ConfigMap team\/x$/,
    },
    {
      name: "a Namespace no other app uses",
      entry: namespaceTeam,
      live: liveNamespace,
      others: [declared(theirs, "", "ConfigMap", "elsewhere", "x")],
    },
    {
      name: "a CRD whose kind another app declares",
      entry: crdWidgets,
      live: liveCrd,
      others: [declared(theirs, "example.com", "Widget", "team", "w")],
      blocked:
        /^prune of CustomResourceDefinition widgets\.example\.com refused: GitApp apps\/db still declares/,
    },
    {
      name: "a CRD of another group's kind of the same name",
      entry: crdWidgets,
      live: liveCrd,
      others: [declared(theirs, "other.com", "Widget", "team", "w")],
    },
    {
      name: "a Namespace while not every app has been rendered",
      entry: namespaceTeam,
      live: liveNamespace,
      others: [],
      complete: false,
      blocked: /^prune of Namespace team waits until every GitApp has been rendered$/,
    },
    {
      name: "a plain object never cascades, rendered or not",
      entry: configMap,
      live: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "team" } },
      others: [declared(theirs, "", "ConfigMap", "team", "c")],
      complete: false,
    },
  ];
  for (const c of cases)
    void it(c.name, () => {
      const index = new DesiredIndex();
      index.replaceApp(mine, [declared(mine, "", "ConfigMap", "team", "own")]);
      index.replaceApp(theirs, c.others);
      if (c.complete === false) index.expect({ namespace: "apps", name: "unrendered" });
      const blocker = cascadeBlocker(c.entry, c.live, index, mine);
      if (c.blocked) assert.match(blocker ?? "", c.blocked);
      else assert.equal(blocker, undefined);
    });
});
