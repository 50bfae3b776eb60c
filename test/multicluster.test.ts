/**
 * One gitgate, three real control planes: the hub (where gitgate, its GitApps and the cluster
 * Secrets live) and two registered clusters, dev and staging. One Kustomize overlay per environment
 * from one Git repository; each GitApp names its cluster. gitgate's webhooks on each remote cluster
 * call back with the cluster in the path, and answer from that cluster's index only.
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../src/api/gitapp.js";
import { fleetRows } from "../src/cli/cmd-status.js";
import { admissionReview, postReview } from "../src/testenv/admission-client.js";
import type { ControlPlane } from "../src/testenv/controlplane.js";
import { condition, waitFor } from "./harness/env.js";
import { assertDenied } from "./harness/denied.js";
import { deployment, overlay } from "./fixtures/fleet/repo.js";
import { REMOTES, startFleet, type Fleet } from "./harness/fleet.js";

let fleet: Fleet;
let repoURL: string;
let commit: string;

const k = (cp: ControlPlane, args: string[], identity = "user"): ReturnType<Fleet["k"]> =>
  fleet.k(cp, args, identity);
const getApp = (name: string, namespace = "default"): Promise<GitApp | undefined> =>
  fleet.getApp(name, namespace);
const applyApp = (name: string, spec: GitApp["spec"], namespace = "default"): Promise<void> =>
  fleet.applyApp(name, spec, namespace);
const synced = (name: string, at?: string, timeoutMs = 60_000): Promise<GitApp> =>
  fleet.synced(name, at, timeoutMs);

describe("one gitgate, several clusters", () => {
  before(async () => {
    fleet = await startFleet();
    ({ commit } = await fleet.git.createRepo("fleet", {
      "base/kustomization.yaml": "resources: [deployment.yaml]\n",
      "base/deployment.yaml": deployment,
      ...overlay("dev", 1),
      ...overlay("staging", 2),
    }));
    repoURL = fleet.git.repoURL("fleet");
    await Promise.all(REMOTES.map((name) => fleet.register(name)));
    for (const name of REMOTES)
      await applyApp(`web-${name}`, {
        source: { repoURL, revision: "main", path: `overlays/${name}` },
        destination: { namespace: "web", cluster: name },
        sync: { interval: "1h", createNamespace: true },
      });
  });

  after(async () => {
    await fleet?.stop();
  });

  it("syncs each environment's overlay to its own cluster, and only there", async () => {
    for (const name of REMOTES) {
      const app = await synced(`web-${name}`, commit);
      assert.equal(app.status?.cluster?.name, name);
      assert.equal(app.status?.cluster?.reachable, true);
      assert.match(app.status?.cluster?.serverVersion ?? "", /^v1\./);
    }
    assert.equal(await fleet.replicas(fleet.remote.dev, "dev"), "1");
    assert.equal(await fleet.replicas(fleet.remote.staging, "staging"), "2");
    // Not on the hub, and each cluster has only its own overlay.
    assert.equal(
      await fleet.admin.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "dev-web" }),
      undefined,
    );
    assert.match(await fleet.replicas(fleet.remote.dev, "staging"), /not found/);
    const metrics = await fleet.gitgate.registry.metrics();
    assert.match(metrics, /gitgate_cluster_reachable\{cluster="dev"\} 1/);
    assert.match(metrics, /gitgate_cluster_reachable\{cluster="staging"\} 1/);
  });

  it("registers its webhooks on each cluster with that cluster's path", async () => {
    for (const name of REMOTES) {
      const r = await k(
        fleet.remote[name],
        ["get", "validatingwebhookconfiguration", "gitgate-validate", "-o", "json"],
        "admin",
      );
      assert.equal(r.code, 0, r.stderr);
      const urls = (
        JSON.parse(r.stdout) as { webhooks: Array<{ clientConfig: { url: string } }> }
      ).webhooks.map((w) => w.clientConfig.url);
      assert.deepEqual(new Set(urls), new Set([`${fleet.webhookUrl}/validate/${name}`]));
    }
  });

  it("denies a developer's kubectl scale on a remote cluster, naming that overlay's file and commit", async () => {
    await fleet.webhookRegistered("dev");
    const r = await k(fleet.remote.dev, ["-n", "web", "scale", "deployment", "dev-web", "--replicas=5"]);
    assertDenied(
      r,
      "scale.gitgate.io",
      /^Deployment web\/dev-web is managed by Git: spec\.replicas is 1 in /,
    );
    // A Kustomize render is located by its overlay directory, at the commit gitgate synced.
    assert.ok(r.stderr.includes(`${repoURL} overlays/dev@${commit.slice(0, 7)}, request has 5`), r.stderr);
    assert.equal(await fleet.replicas(fleet.remote.dev, "dev"), "1");
    // The alert names the cluster it happened on.
    await waitFor("a denial alert naming dev", () =>
      fleet.alerts.find(
        (a) => a.type === "change-denied" && a.cluster === "dev" && a.object?.name === "dev-web",
      ),
    );
    // staging is judged by staging's overlay (2 replicas), not dev's.
    const s = await k(fleet.remote.staging, [
      "-n",
      "web",
      "scale",
      "deployment",
      "staging-web",
      "--replicas=5",
    ]);
    assertDenied(
      s,
      "scale.gitgate.io",
      /^Deployment web\/staging-web is managed by Git: spec\.replicas is 2 in /,
    );
    assert.ok(s.stderr.includes(`${repoURL} overlays/staging@${commit.slice(0, 7)}`), s.stderr);
  });

  it("refuses a review on the path of a cluster it does not manage", async () => {
    const review = admissionReview({
      userInfo: { username: "alice" },
      operation: "DELETE",
      oldObject: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "web" } },
    });
    // The hub's certificate: dev's is bound to dev's path (webhookClientNames).
    const client = fleet.hub.webhookClient;
    const answer = await postReview(`${fleet.webhookUrl}/validate/qa`, review, {
      ca: fleet.gitgate.caPem,
      cert: client.cert,
      key: client.key,
    });
    assert.equal(answer.status, 200, answer.body);
    const body = JSON.parse(answer.body) as { response: { allowed: boolean; status?: { message?: string } } };
    assert.equal(body.response.allowed, false);
    assert.match(body.response.status?.message ?? "", /gitgate does not manage cluster "qa"/);
  });

  it("a cluster's kube-apiserver certificate is served on its own path only (webhookClientNames)", async () => {
    const review = admissionReview({
      userInfo: { username: "alice" },
      operation: "DELETE",
      oldObject: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "staging-web", namespace: "web" },
      },
    });
    const as = (cp: ControlPlane): { ca: string | undefined; cert: string; key: string } => ({
      ca: fleet.gitgate.caPem,
      cert: cp.webhookClient.cert,
      key: cp.webhookClient.key,
    });
    const cases: Array<[string, string, ControlPlane, RegExp]> = [
      [
        "dev's certificate on staging's path",
        "/validate/staging",
        fleet.remote.dev,
        /not one bound to cluster "staging"/,
      ],
      [
        "dev's certificate on the hub's path",
        "/validate",
        fleet.remote.dev,
        /bound to cluster "dev"; it may post only/,
      ],
      ["the hub's certificate on dev's path", "/validate/dev", fleet.hub, /not one bound to cluster "dev"/],
    ];
    for (const [name, path, cp, reason] of cases) {
      const answer = await postReview(`${fleet.webhookUrl}${path}`, review, as(cp));
      // Refused by gitgate before the review: 403 with the binding named, no AdmissionReview answer.
      assert.equal(answer.status, 403, `${name}: ${answer.body}`);
      const { error } = JSON.parse(answer.body) as { error: string };
      assert.match(error, /^client refused \(binding\): /, name);
      assert.match(error, reason, name);
    }
    // Each on its own path is judged (the review of a managed object: gitgate denies the delete).
    const own = await postReview(`${fleet.webhookUrl}/validate/staging`, review, as(fleet.remote.staging));
    assert.equal(own.status, 200, own.body);
    const body = JSON.parse(own.body) as { response: { allowed: boolean; status?: { message?: string } } };
    assert.equal(body.response.allowed, false);
    assert.match(body.response.status?.message ?? "", /staging-web is managed by Git/);
  });

  it("a GitApp naming an unknown cluster, or a tenant's naming a remote one, syncs nothing and says why", async () => {
    await applyApp("web-qa", {
      source: { repoURL, revision: "main", path: "overlays/dev" },
      destination: { namespace: "web", cluster: "qa" },
    });
    const qa = await waitFor("web-qa refused", async () => {
      const c = condition(await getApp("web-qa"), "Synced");
      return c?.reason === "ClusterUnknown" ? c : undefined;
    });
    assert.equal(qa.status, "False");
    assert.match(qa.message, /destination cluster "qa" is not registered/);
    // Nothing went to the hub in its place.
    assert.equal(
      await fleet.admin.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "dev-web" }),
      undefined,
    );

    await fleet.admin.apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" } },
      { fieldManager: "test" },
    );
    await applyApp(
      "tenant",
      {
        source: { repoURL, revision: "main", path: "overlays/dev" },
        destination: { namespace: "web", cluster: "dev" },
      },
      "team-a",
    );
    const tenant = await waitFor("tenant refused", async () => {
      const c = condition(await getApp("tenant", "team-a"), "Synced");
      return c?.reason === "RemoteClusterRefused" ? c : undefined;
    });
    assert.match(tenant.message, /only GitApps in a platform namespace may name a registered cluster/);
  });

  it("the dashboard lists every cluster's GitApps with their cluster, and shows a remote app's objects from that cluster", async () => {
    const apps = await fleet.dashboard<Array<{ name: string; cluster: string; sync: string }>>("/api/apps");
    const rows = apps.filter((a) => a.name.startsWith("web-dev") || a.name.startsWith("web-staging"));
    assert.deepEqual(rows.map((a) => `${a.name} ${a.cluster} ${a.sync}`).sort(), [
      "web-dev dev Synced",
      "web-staging staging Synced",
    ]);
    const clusters =
      await fleet.dashboard<Array<{ name: string; reachable: boolean; lastError?: string }>>("/api/clusters");
    assert.deepEqual(
      clusters.map((c) => `${c.name} ${c.reachable}`),
      ["dev true", "staging true"],
    );
    // The Deployment as dev's watch has it (its uid is dev's), and the ReplicaSet dev's
    // kube-controller-manager made for it, listed on dev (the hub has neither).
    const uid = await k(fleet.remote.dev, [
      "-n",
      "web",
      "get",
      "deployment",
      "dev-web",
      "-o",
      "jsonpath={.metadata.uid}",
    ]);
    const detail = await waitFor("dev's ReplicaSet in the app's tree", async () => {
      const d = await fleet.dashboard<{
        objects: Array<{
          kind: string;
          name: string;
          uid?: string;
          sync: string;
          owned: Array<{ kind: string }>;
        }>;
      }>("/api/apps/default/web-dev");
      const deploy = d.objects.find((o) => o.kind === "Deployment");
      return deploy?.owned.some((o) => o.kind === "ReplicaSet") ? deploy : undefined;
    });
    assert.equal(detail.uid, uid.stdout.trim());
    assert.equal(detail.sync, "Synced");
    const page = await fetch(`${fleet.gitgate.dashboardUrl}/`, {
      headers: { authorization: `Bearer ${fleet.hub.tokens.user}` },
    });
    const body = await page.text();
    assert.match(body, /<th>Cluster<\/th>/);
    assert.match(body, /<tr data-cluster="staging">/);
  });

  it("with staging down, dev keeps syncing and gated, and staging's GitApp says why", async () => {
    await fleet.stopRemote("staging");
    const down = await waitFor(
      "web-staging reports its cluster unreachable",
      async () => {
        const app = await getApp("web-staging");
        const c = condition(app, "Synced");
        return c?.reason === "ClusterUnreachable" && app?.status?.cluster?.reachable === false
          ? app
          : undefined;
      },
      60_000,
    );
    assert.match(condition(down, "Synced")?.message ?? "", /destination cluster "staging" is unreachable/);
    assert.ok(down.status?.cluster?.lastError, "the last error is recorded");
    assert.match(await fleet.gitgate.registry.metrics(), /gitgate_cluster_reachable\{cluster="staging"\} 0/);
    // Its last inventory stays: an unreachable cluster is never pruned against.
    assert.ok((down.status?.inventory ?? []).length > 0);
    const clusters =
      await fleet.dashboard<Array<{ name: string; reachable: boolean; lastError?: string }>>("/api/clusters");
    assert.deepEqual(
      clusters.map((c) => `${c.name} ${c.reachable} ${c.lastError ?? "-"}`),
      ["dev true -", "staging false -"],
      "the dashboard shows it down; why is in its GitApps' status, for those who may see them",
    );

    const next = await fleet.git.commit("fleet", overlay("dev", 3), "dev: 3 replicas");
    await applyApp("web-dev", {
      source: { repoURL, revision: next, path: "overlays/dev" },
      destination: { namespace: "web", cluster: "dev" },
      sync: { interval: "1h", createNamespace: true },
    });
    await synced("web-dev", next, 30_000);
    assert.equal(await fleet.replicas(fleet.remote.dev, "dev"), "3");
    const r = await k(fleet.remote.dev, ["-n", "web", "scale", "deployment", "dev-web", "--replicas=7"]);
    assertDenied(
      r,
      "scale.gitgate.io",
      /^Deployment web\/dev-web is managed by Git: spec\.replicas is 3 in /,
    );
    assert.ok(r.stderr.includes(`${repoURL} overlays/dev@${next.slice(0, 7)}`), r.stderr);

    // `gitgate status --fleet`'s rows: what each environment runs, and which cluster is down.
    const listed = await fleet.admin.list({
      apiVersion: "gitgate.io/v1alpha1",
      kind: "GitApp",
      namespace: "default",
    });
    const rows = fleetRows(listed.items as GitApp[]).filter(
      (row) => row.name.startsWith("web-") && row.name !== "web-qa",
    );
    assert.deepEqual(
      rows.map((row) => [row.cluster, row.name, row.reachable, row.revision, row.synced.split(" ")[0]]),
      [
        ["dev", "web-dev", "yes", next.slice(0, 7), "True"],
        ["staging", "web-staging", "no", commit.slice(0, 7), "False"],
      ],
    );
  });
});
