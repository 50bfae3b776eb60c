/**
 * Issue 3 benchmark: sync 1,000 objects (800 ConfigMaps + 200 Deployments in six multi-document
 * files) from a real Git server into a real control plane with gitgate running in this process,
 * against `kubectl apply --server-side -f <dir>` of the same files; then a no-op resync.
 *
 * Each round uses a fresh repository (so gitgate's first sync includes a full clone) and fresh
 * namespaces; gitgate and kubectl alternate which goes first. kube-controller-manager is not started,
 * so 600 Deployments do not turn into ReplicaSets and Pods that load the API server mid-measurement.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Runtime } from "../src/cli/runtime.js";
import type { ReconcileContext } from "../src/sync/reconcile.js";
import type { GitApp } from "../src/sync/gitapp.js";
import { kubectl } from "../src/testenv/kubectl.js";
import { syncManifestFiles } from "./lib/manifests.js";
import { fmt, median, nowMs, poll, runs, sleep, table, verdict } from "./lib/stats.js";
import { recordWrites, startWorld, type World, type WriteRecord } from "./lib/world.js";

const ROUNDS = 3;
const OBJECTS = { configMaps: 800, deployments: 200 };
const TOTAL = OBJECTS.configMaps + OBJECTS.deployments;
const APP_NAMESPACE = "default";
const SYNC_TIMEOUT_MS = 180_000;

interface WriteCounts {
  objects: number;
  gitappStatus: number;
  events: number;
  other: number;
  total: number;
}

function classify(writes: WriteRecord[]): WriteCounts {
  const counts: WriteCounts = { objects: 0, gitappStatus: 0, events: 0, other: 0, total: writes.length };
  for (const w of writes) {
    if (/\/gitapps\/[^/]+\/status$/.test(w.path)) counts.gitappStatus++;
    else if (/\/events(\/|$)/.test(w.path)) counts.events++;
    else if (/\/(configmaps|deployments|namespaces)(\/|$)/.test(w.path)) counts.objects++;
    else counts.other++;
  }
  return counts;
}

function synced(app: GitApp | undefined, commit: string): boolean {
  const condition = app?.status?.conditions?.find((c) => c.type === "Synced");
  return condition?.status === "True" && app?.status?.revision === commit;
}

async function getGitApp(world: World, name: string): Promise<GitApp | undefined> {
  return (await world.admin.get({ apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", namespace: APP_NAMESPACE, name })) as GitApp | undefined;
}

interface FirstSync {
  seconds: number;
  /** Until the reconcile finished in the controller (before its status patch). */
  reconcileSeconds: number;
  writes: WriteCounts;
}

async function gitgateFirstSync(world: World, writes: WriteRecord[], round: number, commit: string): Promise<FirstSync> {
  const name = `shop-${round}`;
  const key = `${APP_NAMESPACE}/${name}`;
  const controller = world.gitgate.controller;
  const mark = writes.length;
  let reconciledAt = Number.NaN;
  const watchReconcile = poll("reconcile result", () => (controller.lastResult.get(key) ? nowMs() : undefined), 5, SYNC_TIMEOUT_MS).then((t) => (reconciledAt = t));
  const started = nowMs();
  await world.admin.apply(
    {
      apiVersion: "gitgate.io/v1alpha1",
      kind: "GitApp",
      metadata: { name, namespace: APP_NAMESPACE },
      spec: {
        source: { repoURL: world.git.repoURL(name), revision: "main", path: "shop" },
        destination: { namespace: `gg-${round}` },
        sync: { interval: "1h", prune: true, selfHeal: true, createNamespace: true },
      },
    },
    { fieldManager: "bench", force: true },
  );
  try {
    await poll(`GitApp ${name} Synced=True`, async () => (synced(await getGitApp(world, name), commit) ? true : undefined), 50, SYNC_TIMEOUT_MS);
  } catch (err) {
    const ctx = controller.lastResult.get(key);
    const app = await getGitApp(world, name).catch(() => undefined);
    throw new Error(
      `${String(err)}; last reconcile: ${ctx ? `step ${ctx.failedStep ?? "none failed"}, error ${ctx.error?.message ?? "none"}, applied ${ctx.appliedCount}` : "none"}; ` +
        `status: ${JSON.stringify(app?.status?.conditions ?? [])}`,
      { cause: err },
    );
  }
  const seconds = (nowMs() - started) / 1000;
  await watchReconcile;
  const ctx = controller.lastResult.get(key);
  if (ctx?.error) throw new Error(`gitgate sync failed: ${ctx.error.message}`);
  if (ctx?.appliedCount !== TOTAL) console.warn(`[sync] round ${round}: gitgate applied ${ctx?.appliedCount} objects, expected ${TOTAL}`);
  await controller.whenIdle();
  return { seconds, reconcileSeconds: (reconciledAt - started) / 1000, writes: classify(writes.slice(mark)) };
}

async function kubectlApply(world: World, dir: string, round: number): Promise<number> {
  const namespace = `kc-${round}`;
  await world.admin.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  const started = nowMs();
  const result = await kubectl(world.cp.binaries.kubectl, world.cp.kubeconfigs.admin ?? "", ["apply", "--server-side", "-n", namespace, "-f", dir]);
  const seconds = (nowMs() - started) / 1000;
  if (result.code !== 0) throw new Error(`kubectl apply failed (${result.code}): ${result.stderr.slice(0, 2000)}`);
  const applied = result.stdout.split("\n").filter((l) => l.includes("serverside-applied")).length;
  if (applied !== TOTAL) console.warn(`[sync] round ${round}: kubectl reported ${applied} objects applied, expected ${TOTAL}`);
  return seconds;
}

interface NoopResync {
  /** Trigger until the controller is idle again (status written). */
  seconds: number;
  /** Trigger until the new reconcile result is recorded (before the status patch). */
  reconcileSeconds: number;
  writes: WriteCounts;
  applied: number;
  drift: number;
}

async function noopResync(runtime: Runtime, writes: WriteRecord[], key: string, repoURL: string): Promise<NoopResync> {
  const { controller } = runtime;
  await controller.whenIdle();
  await sleep(1000); // let watch events from earlier writes drain
  const previous: ReconcileContext | undefined = controller.lastResult.get(key);
  const mark = writes.length;
  const started = nowMs();
  const queued = controller.triggerRepo(repoURL);
  if (!queued.includes(key)) throw new Error(`triggerRepo(${repoURL}) did not queue ${key} (queued ${queued.join(", ")})`);
  await poll("no-op reconcile", () => (controller.lastResult.get(key) !== previous ? true : undefined), 2, 60_000);
  const reconcileSeconds = (nowMs() - started) / 1000;
  await controller.whenIdle();
  const seconds = (nowMs() - started) / 1000;
  await sleep(500); // anything written just after still counts
  const ctx = controller.lastResult.get(key);
  if (ctx?.error) throw new Error(`no-op resync failed: ${ctx.error.message}`);
  return { seconds, reconcileSeconds, writes: classify(writes.slice(mark)), applied: ctx?.appliedCount ?? -1, drift: ctx?.drift.length ?? -1 };
}

async function writeManifests(files: Record<string, string>): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), "gitgate-bench-manifests-"));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return { root, dir: join(root, "shop") };
}

export async function benchSync(): Promise<void> {
  console.log(`\n== Sync (issue 3): ${TOTAL} objects (${OBJECTS.configMaps} ConfigMaps + ${OBJECTS.deployments} Deployments, 6 files), ${ROUNDS} rounds ==`);
  const t0 = nowMs();
  const world = await startWorld({ webhook: false, controllerManager: false });
  const files = syncManifestFiles(OBJECTS.configMaps, OBJECTS.deployments);
  const manifests = await writeManifests(files);
  const concurrency = 16; // DEFAULT_CONFIG.sync.concurrency, unchanged
  try {
    const commits: string[] = [];
    for (let r = 1; r <= ROUNDS; r++) commits.push((await world.git.createRepo(`shop-${r}`, files)).commit);
    console.log(`[sync] control plane, Git server and gitgate up in ${fmt((nowMs() - t0) / 1000, 1)} s; kubectl ${world.cp.binaries.kubectl}`);
    const recorder = recordWrites(world.gitgate.client.transport);
    const gitgate: FirstSync[] = [];
    const kubectlSeconds: number[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const order = r % 2 === 1 ? ["gitgate", "kubectl"] : ["kubectl", "gitgate"];
      for (const who of order) {
        if (who === "gitgate") {
          const result = await gitgateFirstSync(world, recorder.writes, r, commits[r - 1] ?? "");
          gitgate.push(result);
          console.log(`[sync] round ${r}: gitgate first sync ${fmt(result.seconds)} s (${result.writes.objects} object writes, ${result.writes.gitappStatus} status, ${result.writes.events} events)`);
        } else {
          const seconds = await kubectlApply(world, manifests.dir, r);
          kubectlSeconds.push(seconds);
          console.log(`[sync] round ${r}: kubectl apply --server-side ${fmt(seconds)} s`);
        }
      }
    }
    const noops: NoopResync[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const result = await noopResync(world.gitgate, recorder.writes, `${APP_NAMESPACE}/shop-${r}`, world.git.repoURL(`shop-${r}`));
      noops.push(result);
      console.log(`[sync] no-op resync of shop-${r}: ${fmt(result.seconds)} s, writes ${JSON.stringify(result.writes)}`);
    }
    recorder.restore();

    const firstSync = median(gitgate.map((g) => g.seconds));
    const kubectlMedian = median(kubectlSeconds);
    const ratio = firstSync / kubectlMedian;
    const noop = median(noops.map((n) => n.seconds));
    const objectWrites = Math.max(...noops.map((n) => n.writes.objects + n.writes.other));
    const statusWrites = Math.max(...noops.map((n) => n.writes.gitappStatus));
    const eventWrites = Math.max(...noops.map((n) => n.writes.events));
    const firstWrites = gitgate[0]?.writes;
    console.log(
      "\n" +
        table([
          ["measurement", "median", `runs (${ROUNDS})`, "target", ""],
          ["gitgate first sync: GitApp applied → Synced=True", `${fmt(firstSync)} s`, runs(gitgate.map((g) => g.seconds)), "", ""],
          ["  of which reconcile (before status patch)", `${fmt(median(gitgate.map((g) => g.reconcileSeconds)))} s`, runs(gitgate.map((g) => g.reconcileSeconds)), "", ""],
          ["kubectl apply --server-side -f (same files)", `${fmt(kubectlMedian)} s`, runs(kubectlSeconds), "", ""],
          ["first-sync ratio gitgate / kubectl", fmt(ratio), "", "≤ 1.0", verdict(ratio <= 1.0)],
          ["no-op resync: trigger → idle (status written)", `${fmt(noop)} s`, runs(noops.map((n) => n.seconds)), "≤ 2 s", verdict(noop <= 2)],
          ["  of which reconcile", `${fmt(median(noops.map((n) => n.reconcileSeconds)))} s`, runs(noops.map((n) => n.reconcileSeconds)), "", ""],
          ["object writes during no-op resync (max)", String(objectWrites), noops.map((n) => n.writes.objects + n.writes.other).join(" / "), "0", verdict(objectWrites === 0)],
          ["GitApp status writes during no-op resync", String(statusWrites), noops.map((n) => n.writes.gitappStatus).join(" / "), "(1 expected)", ""],
          ["Event writes during no-op resync", String(eventWrites), noops.map((n) => n.writes.events).join(" / "), "", ""],
        ]),
    );
    console.log(
      `\nfirst sync writes (round 1): ${firstWrites?.objects} object, ${firstWrites?.gitappStatus} status, ${firstWrites?.events} event, ${firstWrites?.other} other; ` +
        `sync.concurrency ${concurrency}; kube-controller-manager off; webhook off; ${((nowMs() - t0) / 1000).toFixed(0)} s total`,
    );
  } finally {
    await world.stop();
    await rm(manifests.root, { recursive: true, force: true });
  }
}
