/**
 * Health for real on the control plane (issue #15): kube-controller-manager runs the Deployment
 * controller, so a Deployment whose pods cannot run (this control plane has no node) really exceeds
 * its progress deadline. Kinds whose controller is not here (an ingress controller, a Widget
 * operator) get their status written by the test with the admin client, as those controllers
 * would. The GitApp syncs once an hour: every health change below comes from the status watch, not
 * from a resync, and the degraded/recovered alerts reach a real Slack-format receiver.
 */
import { strict as assert } from "node:assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../src/api/gitapp.js";
import { startReceiver, type Receiver } from "./fixtures/alerts/receivers.js";
import { startCli } from "./harness/cli.js";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

const NS = "health-demo";
const deployment = (replicas: number): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ${replicas}
  progressDeadlineSeconds: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.invalid/web:1}]}
`;
const ingress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
`;
const cronJob = (suspend: boolean): string => `apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 0 1 1 *"
  suspend: ${suspend}
  jobTemplate:
    spec:
      template:
        spec: {restartPolicy: Never, containers: [{name: r, image: registry.invalid/report:1}]}
`;
const widget = `apiVersion: example.com/v1
kind: Widget
metadata: {name: gear}
spec: {size: 3}
`;
const widgetCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget" },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
};

let env: TestEnv;
let slack: Receiver;
let repoURL: string;
let work: string;

async function writeStatus(apiVersion: string, kind: string, name: string, status: unknown): Promise<void> {
  await env.admin.patch({ apiVersion, kind, namespace: NS, name }, { status }, "merge", {
    subresource: "status",
  });
}

async function waitHealth(health: string): Promise<GitApp> {
  let seen = "";
  try {
    return await waitFor(
      `GitApp health ${health}`,
      async () => {
        const app = await env.getGitApp("shop");
        seen = `${app?.status?.health ?? "none"} (${condition(app, "Ready")?.message ?? ""})`;
        return app?.status?.health === health ? app : undefined;
      },
      60_000,
    );
  } catch (err) {
    // Say what the app reported instead, with each object's own view of its status.
    const live = await env.kubectl("admin", [
      "-n",
      NS,
      "get",
      "deployment,ingress,cronjob,widget",
      "-o",
      "yaml",
    ]);
    throw new Error(`${(err as Error).message}; last seen ${seen}\n${live.stdout.slice(0, 20_000)}`);
  }
}

const alertTitles = (): string[] =>
  slack.requests.map((r) => ((r.json as { text?: string } | undefined)?.text ?? "").split(":")[0] ?? "");

describe("health between syncs, as Argo CD users know it", () => {
  before(async () => {
    slack = await startReceiver();
    work = await mkdtemp(join(tmpdir(), "gitgate-health-"));
    env = await startEnv({
      realAlerts: true,
      config: (c) => {
        c.alerts.channels = [
          { name: "slack", type: "slack", url: slack.url, events: ["health-degraded", "health-recovered"] },
        ];
        // Each sync moves lastSyncTime, so an unchanged one proves no sync ran.
        c.sync.statusHeartbeat = "0s";
      },
    });
    await env.admin.apply(widgetCrd, { fieldManager: "test", force: true });
    await waitFor("Widget CRD established", async () => {
      const crd = await env.get(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        undefined,
        "widgets.example.com",
      );
      const conditions = (crd?.status as { conditions?: Array<{ type: string; status: string }> } | undefined)
        ?.conditions;
      return conditions?.some((c) => c.type === "Established" && c.status === "True") === true;
    });
    const repo = await env.git.createRepo("shop", {
      "deploy/web.yaml": deployment(1),
      "deploy/ingress.yaml": ingress,
      "deploy/cronjob.yaml": cronJob(true),
      "deploy/widget.yaml": widget,
    });
    repoURL = env.git.repoURL("shop");
    await env.applyGitApp("shop", {
      source: { repoURL, revision: "main", path: "deploy" },
      destination: { namespace: NS },
      sync: { interval: "1h", createNamespace: true },
    });
    await waitSynced(env, "shop", repo.commit);
  });
  after(async () => {
    await env?.stop();
    await slack?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("a Deployment past its progress deadline makes the app Degraded without a resync, and alerts", async () => {
    const synced = await env.getGitApp("shop");
    const app = await waitHealth("Degraded");
    const ready = condition(app, "Ready");
    assert.equal(ready?.reason, "Degraded");
    assert.match(ready?.message ?? "", /^Degraded: Deployment health-demo\/web: .*progress/);
    assert.ok(app.status?.degradedSince);
    assert.equal(
      app.status?.lastSyncTime,
      synced?.status?.lastSyncTime,
      "judged from the watch, not by a new sync",
    );
    await slack.waitFor(1, 15_000);
    assert.deepEqual(alertTitles(), ["[testenv] Health degraded"]);
    assert.match(slack.requests[0]?.body ?? "", /Deployment health-demo\/web/);
  });

  it("`gitgate health -f` judges the saved live objects as the sync does", async () => {
    const saved = await env.kubectl("admin", [
      "-n",
      NS,
      "get",
      "deployment,ingress,cronjob,widget",
      "-o",
      "yaml",
    ]);
    assert.equal(saved.code, 0, saved.stderr);
    const file = join(work, "live.yaml");
    await writeFile(file, saved.stdout);
    const cli = startCli(["health", "-f", file, "-o", "json"], { cwd: work });
    assert.equal(await cli.exited, 0, cli.stderr);
    const rows = JSON.parse(cli.stdout) as Array<{ object: string; status: string; message: string }>;
    assert.deepEqual(
      rows.map((r) => [r.object, r.status]),
      [
        ["Deployment health-demo/web", "Degraded"],
        ["Ingress health-demo/web", "Progressing"],
        ["CronJob health-demo/report", "Suspended"],
        ["Widget health-demo/gear", "Unknown"],
      ],
    );
    assert.match(rows[0]?.message ?? "", /progress/);
  });

  it("a custom resource's Ready=False is Degraded too, and named", async () => {
    // The Widget operator (the test, with the admin client) reports a failure.
    await writeStatus("example.com/v1", "Widget", "gear", {
      conditions: [{ type: "Ready", status: "False", reason: "PortTaken", message: "port 8080 is taken" }],
    });
    await waitFor("the Ready message names the Widget", async () =>
      /Widget health-demo\/gear: port 8080 is taken/.test(
        condition(await env.getGitApp("shop"), "Ready")?.message ?? "",
      ),
    );
    assert.equal(slack.requests.length, 1, "still degraded: no second alert");
  });

  it("a fix commit and the controllers' reports: Suspended (a suspended CronJob), then Healthy and recovered", async () => {
    const fix = await env.git.commit("shop", { "deploy/web.yaml": deployment(0) }, "scale web to zero");
    env.gitgate.controller.triggerRepo(repoURL);
    await waitSynced(env, "shop", fix);
    // The ingress controller assigns an address; the Widget operator reports Ready.
    await writeStatus("networking.k8s.io/v1", "Ingress", "web", {
      loadBalancer: { ingress: [{ ip: "10.0.0.10" }] },
    });
    await writeStatus("example.com/v1", "Widget", "gear", {
      conditions: [{ type: "Ready", status: "True", reason: "Running", message: "3 gears" }],
    });
    const suspended = await waitHealth("Suspended");
    assert.ok(suspended.status?.degradedSince, "Suspended is not recovered yet");
    assert.equal(slack.requests.length, 1);

    const resume = await env.git.commit(
      "shop",
      { "deploy/cronjob.yaml": cronJob(false) },
      "resume the report",
    );
    env.gitgate.controller.triggerRepo(repoURL);
    await waitSynced(env, "shop", resume);
    const healthy = await waitHealth("Healthy");
    assert.equal(healthy.status?.degradedSince, undefined);
    assert.equal(condition(healthy, "Ready")?.status, "True");
    await slack.waitFor(2, 15_000);
    assert.deepEqual(alertTitles(), ["[testenv] Health degraded", "[testenv] Health recovered"]);
  });

  it("an object deleted behind gitgate's back is Missing until self-heal puts it back", async () => {
    // Self-heal is on: the deletion is drift and the sync recreates it; health never stays Missing.
    const del = await env.kubectl("admin", ["-n", NS, "delete", "ingress", "web"]);
    assert.equal(del.code, 0, del.stderr);
    await waitFor("Ingress recreated", () => env.get("networking.k8s.io/v1", "Ingress", NS, "web"));
    // A recreated Ingress has no address yet: Progressing until the controller assigns one.
    await waitHealth("Progressing");
  });
});
