/**
 * GitAppSets with three real control planes (test/harness/fleet.ts): the hub and two registered
 * clusters. One set with a `clusters` generator (and a list element for the hub) makes one GitApp
 * per environment from one Git repository with one Kustomize overlay per environment; the gate on
 * each remote cluster names that overlay's file and commit; leaving the selector orphans a GitApp
 * (pruned only with syncPolicy.prune); a promotion moves one environment at a time and
 * `gitgate status --fleet -o json` shows each cluster's revision. A gitDirectories × list matrix,
 * a name another GitApp holds and a tenant's set run on the hub.
 */
import { strict as assert } from "node:assert";
import { tmpdir } from "node:os";
import { after, before, describe, it } from "node:test";
import type { GitAppSet, GitAppSetSpec } from "../src/api/gitappset.js";
import type { FleetRow } from "../src/cli/cmd-status.js";
import type { ControlPlane } from "../src/testenv/controlplane.js";
import { startCli } from "./harness/cli.js";
import { assertDenied } from "./harness/denied.js";
import { condition, waitFor } from "./harness/env.js";
import { deployment, overlay } from "./fixtures/fleet/repo.js";
import { startFleet, type Fleet } from "./harness/fleet.js";

const API = "gitgate.io/v1alpha1";

let fleet: Fleet;
let repoURL: string;
/** The first commit; then dev's promotion, then staging's. */
let first: string;
/** The hub-only sets' repository: one directory per service. */
let appsURL: string;

async function applySet(name: string, spec: GitAppSetSpec, namespace = "default"): Promise<void> {
  await fleet.admin.apply(
    { apiVersion: API, kind: "GitAppSet", metadata: { name, namespace }, spec },
    { fieldManager: "test", force: true },
  );
}

async function getSet(name: string, namespace = "default"): Promise<GitAppSet | undefined> {
  return (await fleet.admin.get({ apiVersion: API, kind: "GitAppSet", namespace, name })) as
    GitAppSet | undefined;
}

function setCondition(
  set: GitAppSet | undefined,
  type: string,
): { status: string; reason: string; message: string } | undefined {
  return set?.status?.conditions?.find((c) => c.type === type);
}

/** A cluster Secret's labels: `fleet=web` puts it in the set's selector, `revision` pins its commit. */
async function label(name: "dev" | "staging", labels: Record<string, string>): Promise<void> {
  await fleet.register(name, labels);
}

/** The web set: registered clusters labelled fleet=web, and the hub from a list element. */
function webSet(prune: boolean): GitAppSetSpec {
  return {
    generators: [
      { clusters: { selector: { matchLabels: { fleet: "web" } } } },
      {
        list: {
          elements: [
            { "cluster.name": "in-cluster", "cluster.labels.env": "hub", "cluster.labels.revision": first },
          ],
        },
      },
    ],
    template: {
      metadata: { name: "web-{{cluster.labels.env}}", labels: { team: "web" } },
      spec: {
        source: { repoURL, revision: "{{cluster.labels.revision}}", path: "overlays/{{cluster.labels.env}}" },
        destination: { namespace: "web", cluster: "{{cluster.name}}" },
        sync: { interval: "1h", createNamespace: true },
      },
    },
    syncPolicy: { prune },
    interval: "2s",
  };
}

const k = (cp: ControlPlane, args: string[], identity = "user"): ReturnType<Fleet["k"]> =>
  fleet.k(cp, args, identity);

/** `gitgate status --fleet -o json` as a user runs it, against the hub. */
async function fleetStatus(): Promise<FleetRow[]> {
  const cli = startCli(
    ["status", "--fleet", "-o", "json", "--kubeconfig", fleet.hub.kubeconfigs.admin ?? ""],
    {
      cwd: tmpdir(),
      env: { ...process.env, NO_COLOR: "1" },
    },
  );
  const code = await Promise.race([
    cli.exited,
    new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), 60_000).unref()),
  ]);
  if (code !== 0) await cli.stop("SIGKILL", 5_000);
  assert.equal(code, 0, cli.stderr);
  return JSON.parse(cli.stdout) as FleetRow[];
}

describe("GitAppSets", () => {
  before(async () => {
    fleet = await startFleet();
    ({ commit: first } = await fleet.git.createRepo("fleet", {
      "base/kustomization.yaml": "resources: [deployment.yaml]\n",
      "base/deployment.yaml": deployment,
      ...overlay("hub", 1),
      ...overlay("dev", 1),
      ...overlay("staging", 2),
    }));
    repoURL = fleet.git.repoURL("fleet");
    await label("dev", { fleet: "web", env: "dev", revision: first });
    await label("staging", { fleet: "web", env: "staging", revision: first });
    await applySet("web", webSet(false));
  });

  after(async () => {
    await fleet?.stop();
  });

  describe("across three clusters", acrossClusters);
  describe("on the hub: gitDirectories × list, names another owns, tenants", onTheHub);
});

function acrossClusters(): void {
  it("a clusters generator makes one GitApp per environment, each synced to its own cluster", async () => {
    const dev = await fleet.synced("web-dev", first);
    const staging = await fleet.synced("web-staging", first);
    await fleet.synced("web-hub", first);
    assert.equal(dev.spec.destination?.cluster, "dev");
    assert.equal(staging.spec.destination?.cluster, "staging");
    assert.equal(dev.status?.cluster?.reachable, true);
    assert.equal(await fleet.replicas(fleet.remote.dev, "dev"), "1");
    assert.equal(await fleet.replicas(fleet.remote.staging, "staging"), "2");
    assert.equal(await fleet.replicas(fleet.hub, "hub"), "1");
    // Each cluster has only its own overlay.
    assert.match(await fleet.replicas(fleet.remote.dev, "staging"), /not found/);
    assert.match(await fleet.replicas(fleet.hub, "dev"), /not found/);

    const hub = await fleet.getApp("web-hub");
    assert.equal(hub?.spec.destination?.cluster, undefined, "in-cluster is the hub: no cluster named");
    const set = await getSet("web");
    // Owned by the set (the controller reference), labelled with it, written by gitgate-appset.
    assert.deepEqual(
      dev.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]),
      [["GitAppSet", "web", set?.metadata.uid, true]],
    );
    assert.equal(dev.metadata.labels?.["gitgate.io/appset"], "web");
    assert.equal(dev.metadata.labels?.team, "web");
    const managers =
      (dev.metadata.managedFields as Array<{ manager: string; operation: string }> | undefined) ?? [];
    assert.ok(
      managers.some((m) => m.manager === "gitgate-appset" && m.operation === "Apply"),
      JSON.stringify(managers),
    );

    const status = await waitFor("the set's status lists its synced GitApps", async () => {
      const s = await getSet("web");
      const apps = s?.status?.applications ?? [];
      return apps.length === 3 && apps.every((a) => a.synced === "True") ? s : undefined;
    });
    assert.deepEqual(
      status.status?.applications?.map((a) => [a.name, a.cluster, a.revision]),
      [
        ["web-dev", "dev", first],
        ["web-staging", "staging", first],
        ["web-hub", "in-cluster", first],
      ],
    );
    assert.equal(setCondition(status, "ParametersGenerated")?.status, "True");
    assert.equal(setCondition(status, "ResourcesUpToDate")?.status, "True");
    assert.equal(setCondition(status, "ErrorOccurred")?.status, "False");
  });

  it("gitgate's webhook on a remote cluster denies a developer's kubectl scale, naming that cluster's overlay file and commit", async () => {
    await fleet.webhookRegistered("dev");
    const r = await k(fleet.remote.dev, ["-n", "web", "scale", "deployment", "dev-web", "--replicas=5"]);
    assertDenied(
      r,
      "scale.gitgate.io",
      /^Deployment web\/dev-web is managed by Git: spec\.replicas is 1 in /,
    );
    assert.ok(r.stderr.includes(`${repoURL} overlays/dev@${first.slice(0, 7)}, request has 5`), r.stderr);
    assert.equal(await fleet.replicas(fleet.remote.dev, "dev"), "1");
    await waitFor("a denial alert naming dev", () =>
      fleet.alerts.find(
        (a) => a.type === "change-denied" && a.cluster === "dev" && a.object?.name === "dev-web",
      ),
    );
  });

  it("a promotion moves one environment at a time; status --fleet -o json shows each cluster's revision", async () => {
    const toDev = await fleet.git.commit("fleet", overlay("dev", 3), "dev: 3 replicas");
    await label("dev", { fleet: "web", env: "dev", revision: toDev });
    await fleet.synced("web-dev", toDev);
    assert.equal(await fleet.replicas(fleet.remote.dev, "dev"), "3");
    const toStaging = await fleet.git.commit("fleet", overlay("staging", 3), "staging: 3 replicas");
    await label("staging", { fleet: "web", env: "staging", revision: toStaging });
    await fleet.synced("web-staging", toStaging);
    assert.equal(await fleet.replicas(fleet.remote.staging, "staging"), "3");

    const rows = (await fleetStatus()).filter((r) => r.set === "web");
    assert.deepEqual(
      rows.map((r) => [r.set, r.cluster, r.name, r.revision, r.synced.split(" ")[0]]),
      [
        ["web", "dev", "web-dev", toDev.slice(0, 7), "True"],
        ["web", "in-cluster", "web-hub", first.slice(0, 7), "True"],
        ["web", "staging", "web-staging", toStaging.slice(0, 7), "True"],
      ],
    );
    assert.ok(
      rows.every((r) => r.drifted === "False"),
      JSON.stringify(rows),
    );
    // The gate moved with the promotion: dev is now judged by its new commit.
    const r = await k(fleet.remote.dev, ["-n", "web", "scale", "deployment", "dev-web", "--replicas=1"]);
    assertDenied(
      r,
      "scale.gitgate.io",
      /^Deployment web\/dev-web is managed by Git: spec\.replicas is 3 in /,
    );
    assert.ok(r.stderr.includes(`overlays/dev@${toDev.slice(0, 7)}`), r.stderr);
  });

  it("a cluster leaving the selector leaves its GitApp (prune off, listed as orphaned); with prune: true it is deleted", async () => {
    await label("dev", { env: "dev", revision: first });
    const orphaned = await waitFor("web-dev listed as orphaned", async () => {
      const s = await getSet("web");
      return s?.status?.orphaned?.includes("web-dev") ? s : undefined;
    });
    const upToDate = setCondition(orphaned, "ResourcesUpToDate");
    assert.equal(upToDate?.status, "False");
    assert.equal(upToDate?.reason, "Orphaned");
    assert.match(
      upToDate?.message ?? "",
      /GitApp web-dev no longer generated: left \(syncPolicy\.prune is off\)/,
    );
    assert.deepEqual(
      orphaned.status?.applications?.map((a) => a.name),
      ["web-staging", "web-hub"],
    );
    const left = await fleet.getApp("web-dev");
    assert.ok(left, "web-dev is left");
    assert.equal(condition(left, "Synced")?.status, "True");

    await applySet("web", webSet(true));
    await waitFor("web-dev pruned", async () => (await fleet.getApp("web-dev")) === undefined);
    const pruned = await waitFor("the set up to date again", async () => {
      const s = await getSet("web");
      return setCondition(s, "ResourcesUpToDate")?.status === "True" ? s : undefined;
    });
    assert.deepEqual(pruned.status?.orphaned, []);
    // The others stay; the pruned GitApp's objects stay on dev (its deletionPolicy: Orphan).
    assert.ok(await fleet.getApp("web-staging"));
    assert.ok(await fleet.getApp("web-hub"));
    assert.equal(await fleet.replicas(fleet.remote.dev, "dev"), "3");
  });
}

/** gitDirectories (apps/* but apps/legacy) × a list of two environments, on the hub. */
function svcSet(revision: string, prune: boolean): GitAppSetSpec {
  return {
    generators: [
      {
        matrix: {
          generators: [
            {
              gitDirectories: {
                repoURL: appsURL,
                revision,
                directories: [{ path: "apps/*" }, { path: "apps/legacy", exclude: true }],
              },
            },
            { list: { elements: [{ env: "dev" }, { env: "prod" }] } },
          ],
        },
      },
    ],
    template: {
      metadata: { name: "{{path.basenameNormalized}}-{{env}}" },
      spec: {
        source: { repoURL: appsURL, revision: "main", path: "{{path}}" },
        destination: { namespace: "svc-{{env}}" },
        sync: { interval: "1h" },
      },
    },
    interval: "1h",
    syncPolicy: { prune },
  };
}

function onTheHub(): void {
  const configMap = (name: string): string =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata: {app: ${name}}\n`;

  before(async () => {
    await fleet.git.createRepo("apps", {
      "apps/api/cm.yaml": configMap("api"),
      "apps/web/cm.yaml": configMap("web"),
      "apps/legacy/cm.yaml": configMap("legacy"),
      "README.md": "not a directory\n",
    });
    appsURL = fleet.git.repoURL("apps");
    for (const ns of ["svc-dev", "svc-prod", "team-a"])
      await fleet.admin.apply(
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        { fieldManager: "test" },
      );
    // Someone's own GitApp holds a name the set will generate.
    await fleet.applyApp("web-prod", {
      source: { repoURL: appsURL, revision: "main", path: "apps/web" },
      destination: { namespace: "elsewhere" },
    });
  });

  it("a matrix of gitDirectories (with an exclude) and a list makes one GitApp per directory and environment; a new directory pushed to Git adds one", async () => {
    await applySet("svc", svcSet("main", false));
    for (const name of ["api-dev", "api-prod", "web-dev"]) await fleet.synced(name);
    for (const [ns, name] of [
      ["svc-dev", "api"],
      ["svc-prod", "api"],
      ["svc-dev", "web"],
    ] as const)
      assert.ok(
        await fleet.admin.get({ apiVersion: "v1", kind: "ConfigMap", namespace: ns, name }),
        `${ns}/${name}`,
      );
    assert.equal(await fleet.getApp("legacy-dev"), undefined, "excluded");

    // web-prod is someone else's: left as it was, and the set says so.
    const set = await waitFor("svc reports the name it does not own", async () => {
      const s = await getSet("svc");
      return setCondition(s, "ErrorOccurred")?.reason === "NotOwned" ? s : undefined;
    });
    assert.equal(setCondition(set, "ErrorOccurred")?.status, "True");
    assert.match(
      setCondition(set, "ErrorOccurred")?.message ?? "",
      /GitApp web-prod exists and is not this set's: left as it is/,
    );
    const theirs = await fleet.getApp("web-prod");
    assert.equal(theirs?.spec.destination?.namespace, "elsewhere");
    assert.equal(theirs?.metadata.labels?.["gitgate.io/appset"], undefined);
    assert.equal(theirs?.metadata.ownerReferences, undefined);

    // The set runs hourly: the push to /hooks/git is what runs it again.
    const added = await fleet.git.commit("apps", { "apps/batch/cm.yaml": configMap("batch") }, "add batch");
    assert.equal(await fleet.push(appsURL, added), 202);
    await fleet.synced("batch-dev", added, 30_000);
    await fleet.synced("batch-prod", added, 30_000);
  });

  it("a revision that cannot be fetched is the set's error: nothing is pruned, even with prune: true", async () => {
    await applySet("svc", svcSet("no-such-branch", true));
    const c = await waitFor("svc reports the fetch failure", async () => {
      const cond = setCondition(await getSet("svc"), "ParametersGenerated");
      return cond?.status === "False" ? cond : undefined;
    });
    assert.match(c.message, /no-such-branch/);
    const errored = setCondition(await getSet("svc"), "ErrorOccurred");
    assert.equal(errored?.status, "True");
    for (const name of ["api-dev", "api-prod", "web-dev", "batch-dev", "batch-prod"])
      assert.ok(await fleet.getApp(name), `${name} stays`);
  });

  it("deleting a set deletes the GitApps it owns (garbage collection), never another's", async () => {
    await fleet.admin.delete({ apiVersion: API, kind: "GitAppSet", namespace: "default", name: "svc" });
    for (const name of ["api-dev", "api-prod", "web-dev", "batch-dev", "batch-prod"])
      await waitFor(
        `${name} deleted with its set`,
        async () => (await fleet.getApp(name)) === undefined,
        60_000,
      );
    assert.ok(await fleet.getApp("web-prod"), "someone else's GitApp stays");
  });

  it("a tenant's set may not use a clusters generator nor name a remote cluster; a bad template is the set's error", async () => {
    await applySet(
      "spy",
      {
        generators: [{ clusters: {} }],
        template: {
          metadata: { name: "x-{{cluster.name}}" },
          spec: { source: { repoURL: appsURL, path: "apps/api" } },
        },
      },
      "team-a",
    );
    await applySet(
      "remote",
      {
        generators: [{ list: { elements: [{ c: "dev" }] } }],
        template: {
          metadata: { name: "r-{{c}}" },
          spec: { source: { repoURL: appsURL, path: "apps/api" }, destination: { cluster: "{{c}}" } },
        },
      },
      "team-a",
    );
    await applySet("typo", {
      generators: [{ list: { elements: [{ env: "dev" }] } }],
      template: {
        metadata: { name: "t-{{enviroment}}" },
        spec: { source: { repoURL: appsURL, path: "apps/api" } },
      },
    });
    const refused: Array<[string, string, string, RegExp]> = [
      [
        "team-a",
        "spy",
        "RemoteClusterRefused",
        /a clusters generator is for GitAppSets in a platform namespace only/,
      ],
      [
        "team-a",
        "remote",
        "RemoteClusterRefused",
        /GitApp r-dev would name cluster "dev": only a GitAppSet in a platform namespace/,
      ],
      ["default", "typo", "TemplateError", /unknown param "enviroment" \(the generators give: env\)/],
    ];
    for (const [namespace, name, reason, message] of refused) {
      const c = await waitFor(`${namespace}/${name} refused`, async () => {
        const cond = setCondition(await getSet(name, namespace), "ErrorOccurred");
        return cond?.status === "True" ? cond : undefined;
      });
      assert.equal(c.reason, reason, c.message);
      assert.match(c.message, message);
    }
    const teamApps = await fleet.admin.list({ apiVersion: API, kind: "GitApp", namespace: "team-a" });
    assert.deepEqual(teamApps.items, [], "nothing generated for the tenant");
    assert.equal(await fleet.getApp("t-dev"), undefined);
  });
}
