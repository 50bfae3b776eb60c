/**
 * Helm's hook annotations, generateName hooks, and the per-object and per-GitApp sync options
 * (prune: "false", pruneLast, Replace=true, respectIgnoreDifferences, deletionPolicy Delete)
 * against a real control plane, a real Git server and the pinned helm.
 *
 * There is no kubelet: the test acts as the Job controller would, writing a hook Job's Complete
 * condition with the admin client (kube-controller-manager does not run: its Job controller would
 * overwrite that status), and as a cloud controller, writing a LoadBalancer Service's
 * address, so that health moves when the test says.
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../src/api/gitapp.js";
import type { KubeObject } from "../src/manifest/object.js";
import { assertDenied } from "./harness/denied.js";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;

function cm(name: string, annotations: Record<string, string> = {}, data = 'a: "1"', extra = ""): string {
  const ann = Object.entries(annotations)
    .map(([k, v]) => `\n    ${k}: ${JSON.stringify(v)}`)
    .join("");
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}${ann ? `\n  annotations:${ann}` : ""}\ndata:\n  ${data}\n${extra}`;
}

function lb(name: string): string {
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  type: LoadBalancer\n  selector: {app: ${name}}\n  ports:\n  - {port: 80, protocol: TCP}\n`;
}

async function app(
  name: string,
  repo: string,
  sync: NonNullable<GitApp["spec"]["sync"]> = {},
  extra: Partial<GitApp["spec"]> = {},
): Promise<void> {
  await env.applyGitApp(name, {
    source: { repoURL: env.git.repoURL(repo), revision: "main", path: "." },
    destination: { namespace: name },
    sync: { interval: "1h", createNamespace: true, ...sync },
    ...extra,
  });
}

const get = (ns: string, kind: string, name: string, apiVersion = "v1"): Promise<KubeObject | undefined> =>
  env.get(apiVersion, kind, ns, name);

async function finishJob(ns: string, name: string): Promise<void> {
  const now = new Date().toISOString();
  await env.admin.patch(
    { apiVersion: "batch/v1", kind: "Job", namespace: ns, name },
    {
      status: {
        succeeded: 1,
        active: 0,
        startTime: now,
        completionTime: now,
        conditions: [{ type: "Complete", status: "True", lastProbeTime: now, lastTransitionTime: now }],
      },
    },
    "merge",
    { subresource: "status" },
  );
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CHART = {
  "Chart.yaml": "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
  "templates/config.yaml": cm("{{ .Release.Name }}-config"),
  // Helm's own hook annotations, generateName as Helm charts (and Argo CD) allow for hooks.
  "templates/migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  generateName: {{ .Release.Name }}-migrate-
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: hook-succeeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: migrate, image: busybox, command: ["true"]}
`,
  "templates/notify.yaml": cm("{{ .Release.Name }}-installed", {
    "helm.sh/hook": "post-install,post-upgrade",
  }),
  "templates/test.yaml": cm("{{ .Release.Name }}-test", { "helm.sh/hook": "test" }),
};

describe("sync options and Helm hooks", () => {
  before(async () => {
    // statusHeartbeat 0s: each sync moves lastSyncTime, the signal that a resync ran.
    env = await startEnv({
      webhook: true,
      controllerManager: false,
      config: (c) => (c.sync.statusHeartbeat = "0s"),
    });
  });
  after(async () => env?.stop());

  it("Helm hooks map onto PreSync/PostSync, generateName hooks run, test hooks are skipped, hooks are not judged by the gate", async () => {
    const commit = (await env.git.createRepo("hooked", CHART)).commit;
    await app("hooked", "hooked", { interval: "2s" });
    const running = await waitFor("the generated migrate Job", async () => {
      const got = await env.getGitApp("hooked");
      const hook = got?.status?.operation?.hooks?.find((h) => h.kind === "Job");
      return hook ? { got, hook } : undefined;
    });
    assert.equal(running.hook.phase, "PreSync");
    assert.match(running.hook.name, /^hooked-migrate-[a-z0-9]{5}$/, "named by the API server");
    assert.equal(condition(running.got, "Synced")?.status, "Unknown");
    assert.equal(await get("hooked", "ConfigMap", "hooked-config"), undefined, "Sync waits for pre-install");
    assert.equal(await get("hooked", "ConfigMap", "hooked-installed"), undefined, "post-install after Sync");
    await finishJob("hooked", running.hook.name);
    const synced = await waitSynced(env, "hooked", commit);
    assert.ok(await get("hooked", "ConfigMap", "hooked-config"));
    assert.ok(await get("hooked", "ConfigMap", "hooked-installed"), "post-install ran");
    assert.equal(
      await get("hooked", "ConfigMap", "hooked-test"),
      undefined,
      "helm test hooks are not applied",
    );
    assert.deepEqual(
      synced.status?.operation?.hooks?.map((h) => `${h.phase} ${h.kind} ${h.status}`),
      ["PreSync Job Succeeded", "PostSync ConfigMap Succeeded"],
    );
    assert.deepEqual(
      synced.status?.inventory?.map((i) => i.name),
      ["hooked-config"],
      "hooks are not inventoried",
    );
    await waitFor(
      "hook-succeeded deletes the Job",
      async () => !(await get("hooked", "Job", running.hook.name, "batch/v1")),
    );
    // alice (no exemption) may delete the finished hook; the gate still refuses her Git's ConfigMap.
    const hookDelete = await env.kubectl("user", ["-n", "hooked", "delete", "configmap", "hooked-installed"]);
    assert.equal(hookDelete.code, 0, hookDelete.stderr);
    const managedDelete = await env.kubectl("user", ["-n", "hooked", "delete", "configmap", "hooked-config"]);
    assertDenied(managedDelete, "validate.gitgate.io", /ConfigMap hooked\/hooked-config is managed by Git/);
    // Resyncs of the same commit (every 2 s here) do not run the hooks again.
    await pause(5_000);
    const again = await env.getGitApp("hooked");
    assert.equal(again?.status?.operation?.startedAt, synced.status?.operation?.startedAt);
    assert.equal(again?.status?.operation?.phase, "Succeeded");
    assert.ok((again?.status?.lastSyncTime ?? "") > (synced.status?.lastSyncTime ?? ""), "it did resync");
  });

  it('prune: "false" keeps an object that left Git; pruneLast prunes only after the last wave is healthy', async () => {
    await env.git.createRepo("pruning", {
      "keep.yaml": cm("keep", { "gitgate.io/prune": "false" }),
      "argo-keep.yaml": cm("argo-keep", { "argocd.argoproj.io/sync-options": "Prune=false" }),
      "old.yaml": cm("old"),
      "base.yaml": cm("base"),
      "base2.yaml": cm("base2"),
      "base3.yaml": cm("base3"),
    });
    await app("pruning", "pruning", { pruneLast: true, interval: "2s" });
    await waitSynced(env, "pruning");
    const next = await env.git.commit(
      "pruning",
      { "keep.yaml": null, "argo-keep.yaml": null, "old.yaml": null, "lb.yaml": lb("front") },
      "replace old with a load balancer",
    );
    await waitFor("wave waiting for the load balancer", async () => {
      const got = await env.getGitApp("pruning");
      return (
        got?.status?.lastAttemptedRevision === next && condition(got, "Synced")?.reason === "Progressing"
      );
    });
    await pause(4_000);
    assert.ok(
      await get("pruning", "ConfigMap", "old"),
      "pruneLast: not pruned while the last wave is unhealthy",
    );
    await env.admin.patch(
      { apiVersion: "v1", kind: "Service", namespace: "pruning", name: "front" },
      { status: { loadBalancer: { ingress: [{ ip: "192.0.2.20" }] } } },
      "merge",
      { subresource: "status" },
    );
    const synced = await waitSynced(env, "pruning", next);
    await waitFor("old pruned", async () => !(await get("pruning", "ConfigMap", "old")));
    assert.ok(await get("pruning", "ConfigMap", "keep"), 'gitgate.io/prune: "false" kept');
    assert.ok(await get("pruning", "ConfigMap", "argo-keep"), "Prune=false kept");
    assert.deepEqual(synced.status?.inventory?.map((i) => i.name).sort(), [
      "base",
      "base2",
      "base3",
      "front",
    ]);
  });

  it("PruneLast=true on an object: the others are pruned at once, it only once the rest is healthy", async () => {
    await env.git.createRepo("prune-last-object", {
      "last.yaml": cm("last", { "argocd.argoproj.io/sync-options": "PruneLast=true" }),
      "plain.yaml": cm("plain"),
      // Enough others that pruning two stays under sync.maxPruneShare.
      "base.yaml": cm("base"),
      "base2.yaml": cm("base2"),
      "base3.yaml": cm("base3"),
    });
    await app("prune-last-object", "prune-last-object", { interval: "1h" });
    await waitSynced(env, "prune-last-object");
    const next = await env.git.commit(
      "prune-last-object",
      { "last.yaml": null, "plain.yaml": null, "lb.yaml": lb("front") },
      "replace both with a load balancer",
    );
    env.gitgate.controller.triggerRepo(env.git.repoURL("prune-last-object"));
    await waitFor("plain pruned", async () => !(await get("prune-last-object", "ConfigMap", "plain")));
    await pause(6_000); // past the 5 s look-again of a deferred prune
    assert.ok(
      await get("prune-last-object", "ConfigMap", "last"),
      "PruneLast=true: kept while the load balancer is not ready",
    );
    const waiting = await env.getGitApp("prune-last-object");
    assert.equal(waiting?.status?.revision, next, "the sync itself is done");
    assert.ok(
      waiting?.status?.inventory?.some((i) => i.name === "last"),
      "still in the inventory, so a later sync prunes it",
    );
    await env.admin.patch(
      { apiVersion: "v1", kind: "Service", namespace: "prune-last-object", name: "front" },
      { status: { loadBalancer: { ingress: [{ ip: "192.0.2.21" }] } } },
      "merge",
      { subresource: "status" },
    );
    // No new commit and a 1 h interval: gitgate's own look-again prunes it.
    await waitFor("last pruned", async () => !(await get("prune-last-object", "ConfigMap", "last")), 30_000);
    await waitFor("inventory without it", async () => {
      const got = await env.getGitApp("prune-last-object");
      return (
        got?.status?.inventory
          ?.map((i) => i.name)
          .sort()
          .join(",") === "base,base2,base3,front"
      );
    });
  });

  it("Replace=true recreates an object whose immutable field changed; without it the apply fails", async () => {
    const immutable = "immutable: true\n";
    await env.git.createRepo("frozen", {
      "replace/cm.yaml": cm("frozen", { "gitgate.io/sync-options": "Replace=true" }, 'a: "1"', immutable),
      "plain/cm.yaml": cm("frozen", {}, 'a: "1"', immutable),
    });
    for (const [name, path] of [
      ["frozen-replace", "replace"],
      ["frozen-plain", "plain"],
    ] as const)
      await env.applyGitApp(name, {
        source: { repoURL: env.git.repoURL("frozen"), revision: "main", path },
        destination: { namespace: name },
        sync: { interval: "2s", createNamespace: true },
      });
    await waitSynced(env, "frozen-replace");
    await waitSynced(env, "frozen-plain");
    const before = {
      replace: await get("frozen-replace", "ConfigMap", "frozen"),
      plain: await get("frozen-plain", "ConfigMap", "frozen"),
    };
    const next = await env.git.commit(
      "frozen",
      {
        "replace/cm.yaml": cm("frozen", { "gitgate.io/sync-options": "Replace=true" }, 'a: "2"', immutable),
        "plain/cm.yaml": cm("frozen", {}, 'a: "2"', immutable),
      },
      "change immutable data",
    );
    await waitSynced(env, "frozen-replace", next);
    const replaced = await get("frozen-replace", "ConfigMap", "frozen");
    assert.notEqual(replaced?.metadata.uid, before.replace?.metadata.uid, "deleted and created again");
    assert.deepEqual(replaced?.data, { a: "2" });
    const failed = await waitFor("plain apply refused", async () => {
      const got = await env.getGitApp("frozen-plain");
      return got?.status?.lastAttemptedRevision === next && condition(got, "Synced")?.status === "False"
        ? got
        : undefined;
    });
    assert.equal(condition(failed, "Synced")?.reason, "ApplyFailed");
    assert.match(condition(failed, "Synced")?.message ?? "", /ConfigMap frozen-plain\/frozen .*immutable/);
    const plain = await get("frozen-plain", "ConfigMap", "frozen");
    assert.equal(plain?.metadata.uid, before.plain?.metadata.uid);
    assert.deepEqual(plain?.data, { a: "1" });
  });

  it("respectIgnoreDifferences: an ignored field keeps its live value when a new commit is applied (without it, Git's)", async () => {
    await env.git.createRepo("tuned", { "cm.yaml": cm("tuned", {}, 'tuned: "git"\n  other: "1"') });
    const ignoreDifferences = [{ kind: "ConfigMap", name: "tuned", jsonPointers: ["/data/tuned"] }];
    await app(
      "tuned",
      "tuned",
      { respectIgnoreDifferences: true, interval: "2s" },
      { enforcement: { ignoreDifferences } },
    );
    await app("tuned-plain", "tuned", { interval: "2s" }, { enforcement: { ignoreDifferences } });
    await waitSynced(env, "tuned");
    await waitSynced(env, "tuned-plain");
    for (const ns of ["tuned", "tuned-plain"]) {
      const edit = await env.kubectl("admin", [
        "-n",
        ns,
        "patch",
        "configmap",
        "tuned",
        "-p",
        '{"data":{"tuned":"live"}}',
      ]);
      assert.equal(edit.code, 0, edit.stderr);
    }
    const next = await env.git.commit(
      "tuned",
      { "cm.yaml": cm("tuned", {}, 'tuned: "git"\n  other: "2"') },
      "other: 2",
    );
    await waitSynced(env, "tuned", next);
    await waitSynced(env, "tuned-plain", next);
    assert.deepEqual((await get("tuned", "ConfigMap", "tuned"))?.data, { tuned: "live", other: "2" });
    assert.deepEqual(
      (await get("tuned-plain", "ConfigMap", "tuned"))?.data,
      { tuned: "git", other: "2" },
      "the default applies Git's value",
    );
  });

  it("deletionPolicy Delete: deleting the GitApp deletes its objects (prune-disabled kept); Orphan leaves them", async () => {
    await env.git.createRepo("cascade", {
      "a.yaml": cm("a"),
      "keep.yaml": cm("kept", { "gitgate.io/prune": "false" }),
    });
    await app("cascade", "cascade", { deletionPolicy: "Delete" });
    await app("orphan", "cascade");
    await waitSynced(env, "cascade");
    await waitSynced(env, "orphan");
    await waitFor("finalizer on", async () =>
      (await env.getGitApp("cascade"))?.metadata.finalizers?.includes("gitgate.io/cascade-delete"),
    );
    assert.equal((await env.getGitApp("orphan"))?.metadata.finalizers, undefined);
    for (const name of ["cascade", "orphan"]) {
      const r = await env.kubectl("admin", ["-n", "default", "delete", "gitapp", name, "--wait=false"]);
      assert.equal(r.code, 0, r.stderr);
    }
    await waitFor("cascade GitApp gone", async () => !(await env.getGitApp("cascade")));
    assert.equal(await get("cascade", "ConfigMap", "a"), undefined, "deleted with its GitApp");
    assert.ok(await get("cascade", "ConfigMap", "kept"), "prune disabled: kept");
    await waitFor("orphan GitApp gone", async () => !(await env.getGitApp("orphan")));
    assert.ok(await get("orphan", "ConfigMap", "a"), "orphaned by default");
  });
});
