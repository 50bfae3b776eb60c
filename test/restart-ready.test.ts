/**
 * Restart to ready: a restarted gitgate is kept out (/readyz 503) until every GitApp it listed at
 * start is in its desired index, and a change it cannot judge yet (the object's app not rendered)
 * is refused saying so, as the webhook's failurePolicy Fail would. With its Git cache in place, a
 * restart renders each app at the revision its status records and is ready without asking Git;
 * its renders are read back from the render store (src/sync/render-store.ts).
 *
 * Real control plane, real Git server behind a proxy the test can hold, gitgate's runtime in this
 * process (two restarts), its webhooks registered with kube-apiserver; changes go through kubectl.
 */
import { strict as assert } from "node:assert";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ClusterClient } from "../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../src/cluster/transport.js";
import { DEFAULT_CONFIG } from "../src/config/load.js";
import { createLogger, type LogLevel } from "../src/log/logger.js";
import { startRuntime, type Runtime } from "../src/runtime/runtime.js";
import { call } from "../src/testenv/admission-client.js";
import { startControlPlane, type ControlPlane } from "../src/testenv/controlplane.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { kubectl } from "../src/testenv/kubectl.js";
import { pinnedTools, type PinnedTools } from "../src/testenv/tools.js";
import { assertDenied } from "./harness/denied.js";
import { condition, waitFor } from "./harness/env.js";
import { heldGit, type HeldGit } from "./harness/held-git.js";

const APPS = ["alpha", "beta", "gamma"];

describe("restart to ready", () => {
  let cp: ControlPlane;
  let git: GitServer;
  let held: HeldGit;
  let tools: PinnedTools;
  let admin: ClusterClient;
  let gitgate: Runtime | undefined;
  const caches: string[] = [];
  let commit = "";

  /** gitgate's runtime as the test environment composes it, webhooks on, with this Git cache. */
  async function start(cacheDir: string): Promise<Runtime> {
    const config = structuredClone(DEFAULT_CONFIG);
    config.clusterName = "testenv";
    config.webhook.enabled = true;
    config.webhook.clientCA = cp.webhookClient.caPath;
    config.leaderElection.enabled = false;
    config.tenancy = { platformNamespaces: ["default"] };
    config.sync.minInterval = "1s";
    config.enforcement.exemptGroups = ["system:masters", "platform-admins"];
    return startRuntime({
      config,
      logger: createLogger((process.env.GITGATE_TEST_LOG as LogLevel | undefined) ?? "silent"),
      kubeconfig: cp.kubeconfigs.gitgate,
      webhookAddress: "127.0.0.1:0",
      tools,
      cacheDir,
      alerts: { emit: () => undefined },
      installCrds: true,
    });
  }

  async function newCache(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "gitgate-cache-"));
    caches.push(dir);
    return dir;
  }

  async function readyz(): Promise<{ status: number; body: string }> {
    const running = gitgate as Runtime;
    const { status, body } = await call(`${running.url ?? ""}/readyz`, { ca: running.caPem, agent: false });
    return { status, body };
  }

  /** alice (not exempt) changes alpha's ConfigMap: every change goes through kube-apiserver's webhooks. */
  function aliceChanges(): ReturnType<typeof kubectl> {
    return kubectl(cp.binaries.kubectl, cp.kubeconfigs.user ?? "", [
      "-n",
      "ready",
      "patch",
      "configmap",
      "alpha-settings",
      "--type=merge",
      "-p",
      '{"data":{"LOG_LEVEL":"debug"}}',
    ]);
  }

  /** Stops gitgate (`beforeStart` runs while it is down), holds Git, and starts it on `cache` until ready. */
  async function restartWithGitHeld(cache: string, beforeStart?: () => Promise<void>): Promise<void> {
    await (gitgate as Runtime).stop();
    gitgate = undefined;
    await beforeStart?.();
    held.hold();
    gitgate = await start(cache);
    await waitFor(
      "ready with Git held",
      async () => ((await readyz()).status === 200 ? true : undefined),
      30_000,
    );
  }

  /** alice's change is refused by gitgate, judged against alpha's manifest at the first commit. */
  async function assertJudgedAgainstGit(): Promise<void> {
    assertDenied(
      await aliceChanges(),
      "validate.gitgate.io",
      new RegExp(
        `^ConfigMap ready/alpha-settings is managed by Git: data\\.LOG_LEVEL is "?info"? in .*apps/alpha/settings\\.yaml@${commit.slice(0, 7)}`,
      ),
    );
  }

  before(async () => {
    [cp, git, tools] = await Promise.all([startControlPlane(), startGitServer(), pinnedTools()]);
    held = await heldGit(git.url, { held: false });
    admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
    const files: Record<string, string> = {};
    for (const app of APPS)
      files[`apps/${app}/settings.yaml`] =
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${app}-settings\ndata:\n  LOG_LEVEL: info\n`;
    commit = (await git.createRepo("ready", files)).commit;
    await admin.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "ready" } });
    gitgate = await start(await newCache());
    for (const app of APPS)
      await admin.apply(
        {
          apiVersion: "gitgate.io/v1alpha1",
          kind: "GitApp",
          metadata: { name: app, namespace: "default" },
          spec: {
            source: { repoURL: `${held.url}/ready.git`, revision: "main", path: `apps/${app}` },
            destination: { namespace: "ready" },
            sync: { interval: "1h", selfHeal: true },
          },
        },
        { fieldManager: "test", force: true },
      );
    for (const app of APPS)
      await waitFor(
        `${app} synced`,
        async () => {
          const got = await admin.get({
            apiVersion: "gitgate.io/v1alpha1",
            kind: "GitApp",
            namespace: "default",
            name: app,
          });
          return condition(got as never, "Synced")?.status === "True" ? true : undefined;
        },
        60_000,
      );
  });

  after(async () => {
    held?.release();
    await gitgate?.stop().catch(() => undefined);
    admin?.transport.close();
    await held?.close();
    await Promise.all([cp?.stop(), git?.stop()]);
    for (const dir of caches) await rm(dir, { recursive: true, force: true });
  });

  it("a new replica (empty Git cache): /readyz 503 and unjudgeable changes refused until every GitApp is indexed, then 200 and judged against Git", async () => {
    await (gitgate as Runtime).stop();
    gitgate = undefined;
    held.hold();
    const seenBefore = held.seen();
    gitgate = await start(await newCache());
    // The positive signal that gitgate is rendering: its fetches reached the (held) Git server.
    await waitFor("gitgate fetching", () => held.seen() > seenBefore);
    assert.equal(gitgate.isReady(), false);
    assert.deepEqual(await readyz(), {
      status: 503,
      body: "not ready: desired-state index incomplete or shutting down",
    });
    // gitgate's webhooks are registered at this process: kube-apiserver asks it, and it says why it refuses.
    assertDenied(
      await aliceChanges(),
      "validate.gitgate.io",
      /^gitgate has not yet rendered GitApp default\/alpha since it started, so it cannot compare this change with Git; refused as the webhook's failurePolicy Fail would/,
    );
    const stored = await admin.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "ready",
      name: "alpha-settings",
    });
    assert.equal((stored?.data as Record<string, string> | undefined)?.LOG_LEVEL, "info");
    held.release();
    await waitFor("ready", async () => ((await readyz()).status === 200 ? true : undefined), 60_000);
    assert.equal((await readyz()).body, "ok");
    await assertJudgedAgainstGit();
  });

  it("a restart with the Git cache in place is ready while Git does not answer: each app indexed at the revision its status records", async () => {
    const seenBefore = held.seen();
    await restartWithGitHeld(caches.at(-1) as string);
    await assertJudgedAgainstGit();
    // The queue's reconciles still ask Git for the branch's head (held): the index did not need them.
    await waitFor("the reconciles' ref lookups reached Git", () => held.seen() > seenBefore);
    held.release();
  });

  it("a restart primes from the stored renders: the index is what was rendered, not the worktree's files read again", async () => {
    const cache = caches.at(-1) as string;
    const worktrees = join(cache, "git");
    let file = "";
    await restartWithGitHeld(cache, async () => {
      // Change the manifest inside gitgate's own worktree: a fresh render would index "tampered".
      file =
        (await readdir(worktrees, { recursive: true }))
          .map((f) => join(worktrees, f))
          .find((f) => f.endsWith(join("apps", "alpha", "settings.yaml"))) ?? "";
      assert.ok(file, "alpha's manifest in the Git cache");
      await writeFile(file, (await readFile(file, "utf8")).replace("LOG_LEVEL: info", "LOG_LEVEL: tampered"));
    });
    await assertJudgedAgainstGit();
    // The worktree was not rebuilt (which would also say "info"): the index came from the store.
    assert.match(await readFile(file, "utf8"), /LOG_LEVEL: tampered/);
    held.release();
  });
});
