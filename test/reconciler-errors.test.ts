/**
 * Bad input loses nothing: broken YAML, a missing path, an unreachable repo and a chart that fails
 * to render leave live objects untouched (no prune), set a condition naming the cause, and recover
 * on the next good commit. Paths escaping the repo are refused.
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";
import type { GitApp } from "../src/api/gitapp.js";

let env: TestEnv;
let repoURL: string;

const cm = (name: string, value: string): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

async function failedWith(name: string, reason: RegExp, message: RegExp): Promise<GitApp> {
  return waitFor(`GitApp ${name} Synced=False ${reason}`, async () => {
    const app = await env.getGitApp(name);
    const synced = condition(app, "Synced");
    return synced?.status === "False" && reason.test(synced.reason) && message.test(synced.message)
      ? app
      : undefined;
  });
}

async function liveValue(ns: string, name: string): Promise<string | undefined> {
  const obj = await env.get("v1", "ConfigMap", ns, name);
  return (obj?.data as Record<string, string> | undefined)?.value;
}

describe("reconciler with bad input", () => {
  before(async () => {
    env = await startEnv();
    await env.git.createRepo("cfg", { "app/a.yaml": cm("a", "1"), "app/b.yaml": cm("b", "1") });
    repoURL = env.git.repoURL("cfg");
    await env.applyGitApp("cfg", {
      source: { repoURL, revision: "main", path: "app" },
      destination: { namespace: "cfg" },
      sync: { interval: "1s", createNamespace: true },
    });
    await waitSynced(env, "cfg");
  });
  after(async () => env?.stop());

  it("broken YAML: keeps live objects, names file and line, recovers on the next good commit", async () => {
    await env.git.commit(
      "cfg",
      {
        "app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  value: [unclosed\n",
        "app/a.yaml": cm("a", "2"),
      },
      "broken",
    );
    const app = await failedWith("cfg", /InvalidManifest/, /app\/b\.yaml:\d+/);
    assert.match(condition(app, "Ready")?.status ?? "", /False/);
    assert.equal(await liveValue("cfg", "a"), "1", "nothing applied from the broken commit");
    assert.equal(await liveValue("cfg", "b"), "1", "nothing pruned");
    const good = await env.git.commit("cfg", { "app/b.yaml": cm("b", "3") }, "fixed");
    await waitSynced(env, "cfg", good);
    assert.equal(await liveValue("cfg", "a"), "2");
    assert.equal(await liveValue("cfg", "b"), "3");
  });

  it("missing path: says so and prunes nothing", async () => {
    await env.applyGitApp("cfg", {
      source: { repoURL, revision: "main", path: "nope" },
      destination: { namespace: "cfg" },
      sync: { interval: "1s", createNamespace: true },
    });
    await failedWith("cfg", /PathNotFound/, /nope/);
    assert.equal(await liveValue("cfg", "a"), "2");
    await env.applyGitApp("cfg", {
      source: { repoURL, revision: "main", path: "app" },
      destination: { namespace: "cfg" },
      sync: { interval: "1s", createNamespace: true },
    });
    await waitFor(
      "recovered",
      async () => condition(await env.getGitApp("cfg"), "Synced")?.status === "True",
    );
  });

  it("unreachable repo: transient condition, objects untouched", async () => {
    await env.applyGitApp("gone", {
      source: { repoURL: "http://127.0.0.1:9/nothing.git", revision: "main", path: "." },
      destination: { namespace: "cfg" },
    });
    const app = await failedWith("gone", /RepoUnreachable/, /127\.0\.0\.1:9/);
    assert.equal(app.status?.inventory, undefined);
    assert.equal(await liveValue("cfg", "a"), "2");
  });

  it("never takes over another existing GitApp's object, even one missing from the index; adopts it once that app is gone", async () => {
    // Owned by GitApp `gone` (it exists, but its repo is unreachable, so it never rendered).
    const labelled = (value: string): string =>
      cm("shared", value).replace("metadata:\n", "metadata:\n  labels:\n    gitgate.io/app: default.gone\n");
    const made = await env.kubectl("admin", ["-n", "cfg", "apply", "-f", "-"], labelled("gone's"));
    assert.equal(made.code, 0, made.stderr);
    await env.git.createRepo("thief", { "app/shared.yaml": cm("shared", "thief's") });
    await env.applyGitApp("thief", {
      source: { repoURL: env.git.repoURL("thief"), revision: "main", path: "app" },
      destination: { namespace: "cfg" },
      sync: { interval: "1s" },
    });
    await failedWith("thief", /OwnershipConflict/, /ConfigMap cfg\/shared \(managed by default\/gone\)/);
    const kept = await env.get("v1", "ConfigMap", "cfg", "shared");
    assert.equal(kept?.metadata.labels?.["gitgate.io/app"], "default.gone");
    assert.equal(await liveValue("cfg", "shared"), "gone's");

    const removed = await env.kubectl("admin", ["-n", "default", "delete", "gitapp", "gone"]);
    assert.equal(removed.code, 0, removed.stderr);
    await waitFor("adopted by thief", async () => (await liveValue("cfg", "shared")) === "thief's");
    const adopted = await env.get("v1", "ConfigMap", "cfg", "shared");
    assert.equal(adopted?.metadata.labels?.["gitgate.io/app"], "default.thief");
  });

  it("a refused prune deletes nothing and keeps the objects in the inventory until Git decides", async () => {
    const files = Object.fromEntries(["p1", "p2", "p3", "p4"].map((n) => [`app/${n}.yaml`, cm(n, n)]));
    await env.git.createRepo("many", files);
    await env.applyGitApp("many", {
      source: { repoURL: env.git.repoURL("many"), revision: "main", path: "app" },
      destination: { namespace: "many" },
      sync: { interval: "1s", createNamespace: true },
    });
    await waitSynced(env, "many");
    // Three of four files gone at once (75 % > the 50 % limit): a mistaken commit, not a cleanup.
    await env.git.commit("many", { "app/p2.yaml": null, "app/p3.yaml": null, "app/p4.yaml": null }, "oops");
    const refused = await failedWith("many", /PruneRefused/, /prune of 3 of 4 objects \(75%\) exceeds/);
    assert.deepEqual(refused.status?.inventory?.map((e) => e.name).sort(), ["p1", "p2", "p3", "p4"]);
    for (const name of ["p2", "p3", "p4"]) assert.equal(await liveValue("many", name), name, `${name} kept`);
    // Putting one back makes the prune small enough: the other two go, as Git now says.
    const back = await env.git.commit("many", { "app/p2.yaml": cm("p2", "p2") }, "restore p2");
    await waitSynced(env, "many", back);
    assert.equal(await liveValue("many", "p3"), undefined);
    assert.equal(await liveValue("many", "p2"), "p2");
  });

  it("does not prune a Namespace another GitApp still deploys into", async () => {
    const ns = (name: string): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
    await env.git.createRepo("infra", {
      "app/ns-team.yaml": ns("team-x"),
      "app/ns-other.yaml": ns("other-x"),
      "app/ns-third.yaml": ns("third-x"),
    });
    await env.applyGitApp("infra", {
      source: { repoURL: env.git.repoURL("infra"), revision: "main", path: "app" },
      destination: { namespace: "default" },
      sync: { interval: "1s" },
    });
    await waitSynced(env, "infra");
    await env.git.createRepo("team", { "app/cm.yaml": cm("team-config", "v") });
    await env.applyGitApp("team", {
      source: { repoURL: env.git.repoURL("team"), revision: "main", path: "app" },
      destination: { namespace: "team-x" },
      sync: { interval: "1s" },
    });
    await waitSynced(env, "team");
    await env.git.commit("infra", { "app/ns-team.yaml": null }, "drop team-x");
    await failedWith(
      "infra",
      /PruneRefused/,
      /Namespace team-x refused: GitApp default\/team still declares ConfigMap team-x\/team-config/,
    );
    assert.ok(await env.get("v1", "Namespace", "", "team-x"), "namespace kept");
    assert.equal(await liveValue("team-x", "team-config"), "v");
  });

  it("a chart that fails to render: RenderFailed with helm's message, then recovers", async () => {
    await env.git.createRepo("chart", {
      "Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
      "templates/cm.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chart-cm\ndata:\n  value: {{ .Values.value | quote }}\n",
      "values.yaml": "value: one\n",
    });
    await env.applyGitApp("chart", {
      source: { repoURL: env.git.repoURL("chart"), revision: "main" },
      destination: { namespace: "cfg" },
      sync: { interval: "1s" },
    });
    await waitSynced(env, "chart");
    await env.git.commit(
      "chart",
      {
        "templates/cm.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chart-cm\ndata:\n  value: {{ .Values.value | nosuchfunc }}\n",
      },
      "break",
    );
    await failedWith("chart", /RenderFailed/, /nosuchfunc/);
    assert.equal(await liveValue("cfg", "chart-cm"), "one");
    const fixed = await env.git.commit(
      "chart",
      {
        "values.yaml": "value: two\n",
        "templates/cm.yaml":
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chart-cm\ndata:\n  value: {{ .Values.value | quote }}\n",
      },
      "fix",
    );
    await waitSynced(env, "chart", fixed);
    assert.equal(await liveValue("cfg", "chart-cm"), "two");
  });

  it("refuses a symlink or `..` escaping the repo", async () => {
    await env.git.createRepo("escape", {
      "app/cm.yaml": cm("ok", "1"),
      "app/leak.yaml": { symlink: "../../../../../../../../../../../../etc/hostname" },
      "app/dangling.yaml": { symlink: "../../../../../../no/such/file.yaml" },
    });
    await env.applyGitApp("escape", {
      source: { repoURL: env.git.repoURL("escape"), revision: "main", path: "app" },
      destination: { namespace: "cfg" },
    });
    await failedWith(
      "escape",
      /PathEscapesRepo/,
      /symlink app\/(dangling|leak)\.yaml points outside the repository/,
    );
    await env.applyGitApp("dotdot", {
      source: { repoURL: env.git.repoURL("escape"), revision: "main", path: "app/../../.." },
      destination: { namespace: "cfg" },
    });
    await failedWith("dotdot", /PathEscapesRepo/, /\.\./);
    assert.equal(
      await env.get("v1", "ConfigMap", "cfg", "ok"),
      undefined,
      "nothing from the escaping app applied",
    );
  });
});
