/**
 * Sync order, hooks and options against a real control plane and a real Git server: waves wait
 * for health, Argo CD's annotations work unchanged, PreSync hooks gate the sync, Helm hooks and
 * generateName hooks run, and the prune and replace options behave as documented.
 *
 * The test control plane has no kubelet: Pods never run, Jobs never finish by themselves. Where a
 * hook's completion matters the test acts as the Job controller would, writing the Job's status
 * (a Complete or Failed condition) with the admin client, so the real one does not run here
 * (under load it overwrote that status with what it had computed before, and the hook never ended); where a wave must wait, it waits on a
 * LoadBalancer Service, which is healthy once the test (acting as a cloud controller) writes its
 * load balancer address.
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../src/api/gitapp.js";
import type { KubeObject } from "../src/manifest/object.js";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;

type Annotations = Record<string, string>;

function meta(name: string, annotations: Annotations): string {
  const ann = Object.entries(annotations)
    .map(([k, v]) => `\n    ${k}: ${JSON.stringify(v)}`)
    .join("");
  const naming = name.endsWith("-") ? `generateName: ${name}` : `name: ${name}`;
  return `metadata:\n  ${naming}${ann ? `\n  annotations:${ann}` : ""}\n`;
}

function cm(
  name: string,
  annotations: Annotations = {},
  data: Record<string, string> = { a: "1" },
  extra = "",
): string {
  const body = Object.entries(data)
    .map(([k, v]) => `\n  ${k}: ${JSON.stringify(v)}`)
    .join("");
  return `apiVersion: v1\nkind: ConfigMap\n${meta(name, annotations)}data:${body}\n${extra}`;
}

function lb(name: string, annotations: Annotations = {}): string {
  return `apiVersion: v1\nkind: Service\n${meta(name, annotations)}spec:\n  type: LoadBalancer\n  selector: {app: ${name}}\n  ports:\n  - {port: 80, protocol: TCP}\n`;
}

function job(name: string, annotations: Annotations): string {
  return (
    `apiVersion: batch/v1\nkind: Job\n${meta(name, annotations)}spec:\n  backoffLimit: 0\n  template:\n    spec:\n` +
    `      restartPolicy: Never\n      containers:\n      - {name: run, image: busybox, command: ["true"]}\n`
  );
}

async function app(
  name: string,
  repo: string,
  sync: NonNullable<GitApp["spec"]["sync"]> = {},
  path = ".",
): Promise<void> {
  await env.applyGitApp(name, {
    source: { repoURL: env.git.repoURL(repo), revision: "main", path },
    destination: { namespace: name },
    sync: { interval: "1h", createNamespace: true, ...sync },
  });
}

const get = (ns: string, kind: string, name: string, apiVersion = "v1"): Promise<KubeObject | undefined> =>
  env.get(apiVersion, kind, ns, name);

/** Acting as a cloud controller: the Service gets an address, so its health turns Healthy. */
async function assignLoadBalancer(ns: string, name: string): Promise<void> {
  await env.admin.patch(
    { apiVersion: "v1", kind: "Service", namespace: ns, name },
    { status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } } },
    "merge",
    { subresource: "status" },
  );
}

/** Acting as the Job controller (there is no kubelet to run the Pod): the Job finishes. */
async function finishJob(ns: string, name: string, type: "Complete" | "Failed"): Promise<void> {
  const now = new Date().toISOString();
  const counts = type === "Complete" ? { succeeded: 1, completionTime: now } : { failed: 1 };
  await env.admin.patch(
    { apiVersion: "batch/v1", kind: "Job", namespace: ns, name },
    {
      status: {
        ...counts,
        active: 0,
        startTime: now,
        conditions: [
          {
            type,
            status: "True",
            reason: type === "Failed" ? "BackoffLimitExceeded" : "Completed",
            message: type === "Failed" ? "migration exited 1" : "done",
            lastProbeTime: now,
            lastTransitionTime: now,
          },
        ],
      },
    },
    "merge",
    { subresource: "status" },
  );
}

async function waitCondition(name: string, type: string, status: string, reason: string): Promise<GitApp> {
  return waitFor(`${name} ${type}=${status} ${reason}`, async () => {
    const got = await env.getGitApp(name);
    const c = condition(got, type);
    return c?.status === status && c.reason === reason ? got : undefined;
  });
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rv = (o: KubeObject | undefined): number => Number(o?.metadata.resourceVersion ?? "0");

describe("sync order, hooks and options", () => {
  before(async () => {
    env = await startEnv({ webhook: true, controllerManager: false });
  });
  after(async () => env?.stop());

  for (const [label, waveKey] of [
    ["gitgate", "gitgate.io/sync-wave"],
    ["Argo CD", "argocd.argoproj.io/sync-wave"],
  ] as const) {
    it(`waves (${label} annotations) apply in order; a later wave waits until the earlier one is healthy`, async () => {
      const name = label === "gitgate" ? "waves" : "argo-waves";
      const commit = (
        await env.git.createRepo(name, {
          "a-late.yaml": cm("late", { [waveKey]: "2" }),
          "b-lb.yaml": lb("lb", { [waveKey]: "1" }),
          "c-first.yaml": cm("first", { [waveKey]: "-1" }),
          "d-plain.yaml": cm("plain"),
        })
      ).commit;
      await app(name, name);
      const waiting = await waitCondition(name, "Synced", "Unknown", "Progressing");
      assert.match(
        condition(waiting, "Synced")?.message ?? "",
        /^wave 1 waits for Service .*\/lb \(Progressing/,
      );
      assert.equal(waiting.status?.operation?.step, "wave 1");
      // Requeued every 2 s meanwhile: still waiting after several looks, wave 2 not applied.
      await pause(5_000);
      assert.equal(await get(name, "ConfigMap", "late"), undefined, "wave 2 waits for wave 1");
      const first = await get(name, "ConfigMap", "first");
      const plain = await get(name, "ConfigMap", "plain");
      const service = await get(name, "Service", "lb");
      assert.ok(first && plain && service);
      // resourceVersions are etcd revisions here: creation order (-1, then 0, then 1).
      assert.ok(rv(first) < rv(plain) && rv(plain) < rv(service), "wave -1, 0, 1 created in order");
      assert.notEqual((await env.getGitApp(name))?.status?.revision, commit, "not synced while waiting");
      await assignLoadBalancer(name, "lb");
      const synced = await waitSynced(env, name, commit);
      const late = await get(name, "ConfigMap", "late");
      assert.ok(
        late && rv(late) > rv(await get(name, "Service", "lb")),
        "wave 2 after wave 1 turned healthy",
      );
      assert.equal(synced.status?.operation?.phase, "Succeeded");
    });
  }

  it("a wave that stays unhealthy past sync.timeout fails the sync with a condition and an alert", async () => {
    await env.git.createRepo("slow", {
      "lb.yaml": lb("stuck"),
      "next.yaml": cm("next", { "gitgate.io/sync-wave": "1" }),
    });
    await app("slow", "slow", { timeout: "3s" });
    const failed = await waitCondition("slow", "Synced", "False", "SyncTimeout");
    assert.match(
      condition(failed, "Synced")?.message ?? "",
      /wave 0 waits for Service slow\/stuck .* longer than sync.timeout/,
    );
    assert.equal(failed.status?.operation?.phase, "Failed");
    assert.equal(await get("slow", "ConfigMap", "next"), undefined);
    await waitFor("sync-failed alert", () =>
      env.alerts.find(
        (a) =>
          a.type === "sync-failed" &&
          a.app.name === "slow" &&
          /SyncTimeout|sync.timeout/.test(a.detail ?? ""),
      ),
    );
  });

  it("a hook Job whose record in status was lost (gitgate stopped before writing it) is followed, not run again", async () => {
    const hook = { "gitgate.io/hook": "PreSync", "gitgate.io/hook-delete-policy": "BeforeHookCreation" };
    const { commit } = await env.git.createRepo("lost-record", {
      "migrate.yaml": job("migrate", hook),
      "app.yaml": cm("app-config"),
    });
    await app("lost-record", "lost-record", { interval: "2s" });
    await waitCondition("lost-record", "Synced", "Unknown", "Progressing");
    const created = await get("lost-record", "Job", "migrate", "batch/v1");
    assert.equal(created?.metadata.annotations?.["gitgate.io/hook-operation"], `${commit}/1`);
    // What a leader that died between creating the Job and writing status leaves behind.
    await env.admin.patch(
      { apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", namespace: "default", name: "lost-record" },
      { status: { operation: null } },
      "merge",
      { subresource: "status" },
    );
    const again = await waitFor("the operation recorded again", async () => {
      const got = await env.getGitApp("lost-record");
      return got?.status?.operation?.hooks?.length ? got : undefined;
    });
    assert.deepEqual(
      again.status?.operation?.hooks?.map((h) => `${h.name} ${h.status}`),
      ["migrate Running"],
    );
    await pause(3_000); // a few requeues (2 s) while the Job runs
    const still = await get("lost-record", "Job", "migrate", "batch/v1");
    assert.equal(
      still?.metadata.uid,
      created?.metadata.uid,
      "the running migration was not deleted and rerun",
    );
    await finishJob("lost-record", "migrate", "Complete");
    await waitSynced(env, "lost-record", commit);
    assert.ok(await get("lost-record", "ConfigMap", "app-config"));
  });

  it("a PreSync Job that fails stops the sync (condition, alert, later waves not applied); a fixed commit runs it again", async () => {
    const hook = {
      "gitgate.io/hook": "PreSync",
      "gitgate.io/hook-delete-policy": "BeforeHookCreation,HookSucceeded",
    };
    await env.git.createRepo("presync", {
      "migrate.yaml": job("migrate", hook),
      "app.yaml": cm("app-config"),
      "notice.yaml": cm("sync-failed-notice", { "gitgate.io/hook": "SyncFail" }),
    });
    await app("presync", "presync", { interval: "2s" });
    const waiting = await waitCondition("presync", "Synced", "Unknown", "Progressing");
    assert.match(
      condition(waiting, "Synced")?.message ?? "",
      /PreSync wave 0 waits for hook Job migrate running/,
    );
    const created = await get("presync", "Job", "migrate", "batch/v1");
    assert.ok(created, "the hook Job was created");
    assert.equal(await get("presync", "ConfigMap", "app-config"), undefined, "Sync waits for PreSync");
    await finishJob("presync", "migrate", "Failed");
    const failed = await waitCondition("presync", "Synced", "False", "HookFailed");
    assert.match(
      condition(failed, "Synced")?.message ?? "",
      /PreSync hook Job presync\/migrate failed: migration exited 1; later steps were not applied/,
    );
    assert.equal(failed.status?.operation?.phase, "Failed");
    const alert = await waitFor("sync-failed alert", () =>
      env.alerts.find((a) => a.type === "sync-failed" && a.app.name === "presync"),
    );
    assert.match(alert.detail ?? "", /PreSync hook Job presync\/migrate failed/);
    await pause(4_000);
    assert.equal(await get("presync", "ConfigMap", "app-config"), undefined, "nothing after the failed hook");
    assert.ok(
      await get("presync", "Job", "migrate", "batch/v1"),
      "HookFailed not in the policy: the Job stays",
    );
    assert.ok(
      await get("presync", "ConfigMap", "sync-failed-notice"),
      "SyncFail hooks run when the sync fails",
    );
    // Hooks are not Git-managed objects: not in the inventory.
    assert.ok(!(failed.status?.inventory ?? []).some((i) => i.kind === "Job"), "the hook is not inventoried");

    // A new commit is a new sync: BeforeHookCreation replaces the failed Job, which then succeeds.
    const fixed = await env.git.commit(
      "presync",
      { "migrate.yaml": job("migrate", { ...hook, fixed: "yes" }) },
      "fix migration",
    );
    const rerun = await waitFor("a new migrate Job", async () => {
      const j = await get("presync", "Job", "migrate", "batch/v1");
      return j && j.metadata.uid !== created.metadata.uid ? j : undefined;
    });
    assert.ok(rerun);
    await finishJob("presync", "migrate", "Complete");
    const synced = await waitSynced(env, "presync", fixed);
    assert.ok(await get("presync", "ConfigMap", "app-config"));
    assert.deepEqual(
      synced.status?.operation?.hooks?.map((h) => `${h.phase} ${h.kind} ${h.name} ${h.status}`),
      ["PreSync Job migrate Succeeded"],
    );
    await waitFor(
      "HookSucceeded deletes the Job",
      async () => !(await get("presync", "Job", "migrate", "batch/v1")),
    );
    await waitFor("sync-recovered alert", () =>
      env.alerts.find((a) => a.type === "sync-recovered" && a.app.name === "presync"),
    );
  });
});
