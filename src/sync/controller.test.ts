/**
 * The controller with real parts that run without a cluster: the gate state, the Git source over a
 * local Git server, the renderer, and a cluster client whose API server is not there (so every
 * write — status, Events — fails, as it does while an API server restarts).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../api/gitapp.js";
import { ClusterClient } from "../cluster/client.js";
import { loadKubeConfig, Transport } from "../cluster/transport.js";
import { createGateState, type GateState } from "../gate/gate.js";
import { silentLogger } from "../log/logger.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { signHold } from "../manifest/hold-record.js";
import { LAST_CHANGE_ANNOTATION } from "../manifest/labels.js";
import type { AlertEvent } from "../manifest/event.js";
import { render } from "../render/render.js";
import { createGitSource } from "../source/git-source.js";
import { sameRepo } from "../source/url.js";
import { startGitServer, type GitServer } from "../testenv/git-server.js";
import { GitApps } from "./apps.js";
import { Controller } from "./controller.js";
import type { ReconcileContext } from "./reconcile.js";

const HOLD_SECRET = "test-hold-secret";
let scratch = "";
let git: GitServer;
let client: ClusterClient;
let transport: Transport;

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "gitgate-controller-test-"));
  git = await startGitServer();
  await git.createRepo("app", { "deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n" });
  const kubeconfig = join(scratch, "kubeconfig");
  const server = `https://127.0.0.1:${await closedPort()}`;
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "gone", cluster: { server, "insecure-skip-tls-verify": true } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "c", context: { cluster: "gone", user: "u" } }],
      "current-context": "c",
    }),
  );
  transport = new Transport(loadKubeConfig({ kubeconfig }));
  client = new ClusterClient(transport);
});
after(async () => {
  transport.close();
  await git.stop();
  await rm(scratch, { recursive: true, force: true });
});

function gitApp(name: string, repo: string, path: string): GitApp {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name, namespace: "apps", uid: `uid-${name}`, generation: 1 },
    spec: { source: { repoURL: git.repoURL(repo), path }, destination: { namespace: "web" } },
  };
}

interface Setup {
  controller: Controller;
  gate: GateState;
  apps: GitApps;
  alerts: AlertEvent[];
}

function setup(leading: boolean): Setup {
  const gate = createGateState({ holdSecret: HOLD_SECRET });
  const apps = new GitApps();
  const alerts: AlertEvent[] = [];
  const controller = new Controller({
    client,
    source: createGitSource({ cacheRoot: join(scratch, `git-${Math.random()}`) }),
    render: (req) => render(req, { tools: { helm: "/nonexistent/helm" } }),
    gate,
    apps,
    alerts: { emit: (e) => alerts.push(e) },
    logger: silentLogger,
    settings: { concurrency: 2, maxPruneShare: 0.5, defaultMode: "enforce", minIntervalMs: 60_000 },
    credentials: () => Promise.reject(new Error("no credentials in this test")),
    leadership: { isLeader: () => leading },
    sameRepo,
    workers: 1,
  });
  return { controller, gate, apps, alerts };
}

async function resultOf(controller: Controller, key: string): Promise<ReconcileContext> {
  for (let i = 0; i < 600; i++) {
    const ctx = controller.lastResult.get(key);
    if (ctx) return ctx;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no reconcile of ${key} within 30 s`);
}

void describe("controller: a push", () => {
  for (const leading of [true, false])
    void it(`queues the apps on that repo only, and records a failed render (${leading ? "leader" : "follower"})`, async () => {
      const { controller, gate, apps, alerts } = setup(leading);
      try {
        apps.set("apps/broken", gitApp("broken", "app", "missing-dir"));
        apps.set("apps/elsewhere", gitApp("elsewhere", "other", "deploy"));
        assert.deepEqual(controller.triggerRepo(git.repoURL("app")), ["apps/broken"]);
        const ctx = await resultOf(controller, "apps/broken");
        assert.deepEqual(
          [ctx.role, ctx.completed, ctx.failedStep],
          [leading ? "leader" : "follower", ["fetch"], "render"],
        );
        assert.equal(ctx.error?.class, "terminal");
        assert.equal(ctx.commit, await git.revParse("app", "main"));
        assert.equal(controller.lastResult.has("apps/elsewhere"), false, "another repo's app was not queued");
        // A render that failed before the app was ever indexed does not hold readiness hostage.
        gate.index.expect({ namespace: "apps", name: "broken" });
        assert.equal(gate.index.isComplete(), true);
        // Only the leader alerts (the status write fails here: no API server, and that is only logged).
        // The result is recorded before it is published: wait (bounded) for the leader's alert.
        for (let i = 0; leading && alerts.length === 0 && i < 400; i++)
          await new Promise((r) => setTimeout(r, 25));
        assert.deepEqual(
          alerts.map((a) => a.type),
          leading ? ["sync-failed"] : [],
        );
      } finally {
        controller.stop();
        gate.clear();
      }
    });
});

void describe("controller: a break-glass hold expires", () => {
  const entry: DesiredEntry = {
    key: "/ConfigMap/web/c",
    ref: { group: "", kind: "ConfigMap", namespace: "web", name: "c" },
    object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "web" } },
    app: { namespace: "apps", name: "held" },
    source: { repoURL: "https://r", path: "deploy", file: "deploy/cm.yaml", commit: "c".repeat(40) },
    mode: "enforce",
    ignore: [],
  };
  for (const leading of [true, false])
    void it(`${leading ? "alerts as leader" : "stays silent as follower"}`, async () => {
      const { controller, gate, alerts } = setup(leading);
      try {
        gate.index.replaceApp(entry.app, [entry]);
        // The window as another replica's mutating webhook stored it on the object.
        const record = {
          user: "dave",
          groups: ["oncall"],
          fields: [],
          time: new Date().toISOString(),
          breakGlass: signHold(HOLD_SECRET, entry.key, "dave", new Date(Date.now() + 20), "INC-7"),
        };
        const live = {
          ...entry.object,
          metadata: {
            ...entry.object.metadata,
            annotations: { [LAST_CHANGE_ANNOTATION]: JSON.stringify(record) },
          },
        };
        assert.equal(gate.isHeld(entry.key, live), true);
        for (let i = 0; i < 200 && gate.isHeld(entry.key); i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(gate.isHeld(entry.key), false);
        for (let i = 0; leading && alerts.length === 0 && i < 200; i++)
          await new Promise((r) => setTimeout(r, 10));
        const expired = alerts.filter((a) => a.type === "break-glass-expired");
        assert.deepEqual(
          expired.map((a) => [a.object?.name, a.actor?.username, a.detail, a.source?.file]),
          leading ? [["c", "dave", "reason: INC-7", "deploy/cm.yaml"]] : [],
        );
      } finally {
        controller.stop();
        gate.clear();
      }
    });
});
