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
import type { Counter } from "prom-client";
import type { ReconcileContext } from "../src/sync/reconcile.js";
import type { GitApp } from "../src/api/gitapp.js";
import { DEFAULT_CONFIG } from "../src/config/load.js";
import { kubectl } from "../src/testenv/kubectl.js";
import { pinnedTools } from "../src/testenv/tools.js";
import { syncManifestFiles } from "./lib/manifests.js";
import { othersCpuPct, sampleCpu } from "./lib/noise.js";
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
  return (await world.admin.get({
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    namespace: APP_NAMESPACE,
    name,
  })) as GitApp | undefined;
}

interface FirstSync {
  seconds: number;
  /** Until the reconcile finished in the controller (before its status patch). */
  reconcileSeconds: number;
  writes: WriteCounts;
  /** Admission requests kube-apiserver sent gitgate meanwhile (its own applies, webhooks on). */
  admission: AdmissionCalls;
}

interface AdmissionCalls {
  validate: number;
  mutate: number;
}

/** gitgate_admission_requests_total by webhook, all verdicts. */
async function admissionCalls(world: World): Promise<AdmissionCalls> {
  const counter = world.gitgate.registry.getSingleMetric("gitgate_admission_requests_total") as
    Counter | undefined;
  const calls: AdmissionCalls = { validate: 0, mutate: 0 };
  for (const v of (await counter?.get())?.values ?? []) {
    if (v.labels.webhook === "validate" || v.labels.webhook === "mutate") calls[v.labels.webhook] += v.value;
  }
  return calls;
}

async function gitgateFirstSync(
  world: World,
  writes: WriteRecord[],
  round: number,
  commit: string,
): Promise<FirstSync> {
  const name = `shop-${round}`;
  const key = `${APP_NAMESPACE}/${name}`;
  const controller = world.gitgate.controller;
  const mark = writes.length;
  const callsBefore = await admissionCalls(world);
  let reconciledAt = Number.NaN;
  const watchReconcile = poll(
    "reconcile result",
    () => (controller.lastResult.get(key) ? nowMs() : undefined),
    5,
    SYNC_TIMEOUT_MS,
  ).then((t) => (reconciledAt = t));
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
    await poll(
      `GitApp ${name} Synced=True`,
      async () => (synced(await getGitApp(world, name), commit) ? true : undefined),
      50,
      SYNC_TIMEOUT_MS,
    );
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
  if (ctx?.appliedCount !== TOTAL)
    console.warn(`[sync] round ${round}: gitgate applied ${ctx?.appliedCount} objects, expected ${TOTAL}`);
  await controller.whenIdle();
  const callsAfter = await admissionCalls(world);
  return {
    seconds,
    reconcileSeconds: (reconciledAt - started) / 1000,
    writes: classify(writes.slice(mark)),
    admission: {
      validate: callsAfter.validate - callsBefore.validate,
      mutate: callsAfter.mutate - callsBefore.mutate,
    },
  };
}

interface Kubectl {
  label: string;
  bin: string;
}

async function kubectlApply(world: World, tool: Kubectl, dir: string, namespace: string): Promise<number> {
  await world.admin.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  const started = nowMs();
  const result = await kubectl(tool.bin, world.cp.kubeconfigs.admin ?? "", [
    "apply",
    "--server-side",
    "-n",
    namespace,
    "-f",
    dir,
  ]);
  const seconds = (nowMs() - started) / 1000;
  if (result.code !== 0)
    throw new Error(`${tool.label} apply failed (${result.code}): ${result.stderr.slice(0, 2000)}`);
  const applied = result.stdout.split("\n").filter((l) => l.includes("serverside-applied")).length;
  if (applied !== TOTAL)
    console.warn(`[sync] ${namespace}: ${tool.label} reported ${applied} objects applied, expected ${TOTAL}`);
  return seconds;
}

async function kubectlVersion(bin: string): Promise<string> {
  const result = await kubectl(bin, "/dev/null", ["version", "--client", "-o", "json"]);
  try {
    return (
      (JSON.parse(result.stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion ??
      "?"
    );
  } catch {
    return "?";
  }
}

interface NoopResync {
  /** Trigger until the controller is idle again (status written). */
  seconds: number;
  /** Trigger until the new reconcile result is recorded (before the status patch). */
  reconcileSeconds: number;
  writes: WriteCounts;
  /** HTTP requests gitgate made to the Git server (the ref lookup; a fetch only if the commit is new). */
  gitRequests: number;
  applied: number;
  drift: number;
}

async function noopResync(
  world: World,
  writes: WriteRecord[],
  key: string,
  repoURL: string,
): Promise<NoopResync> {
  const { controller } = world.gitgate;
  await controller.whenIdle();
  await sleep(1000); // let watch events from earlier writes drain
  const previous: ReconcileContext | undefined = controller.lastResult.get(key);
  const mark = writes.length;
  const gitMark = world.git.requests.length;
  const started = nowMs();
  const queued = controller.triggerRepo(repoURL);
  if (!queued.includes(key))
    throw new Error(`triggerRepo(${repoURL}) did not queue ${key} (queued ${queued.join(", ")})`);
  await poll(
    "no-op reconcile",
    () => (controller.lastResult.get(key) !== previous ? true : undefined),
    2,
    60_000,
  );
  const reconcileSeconds = (nowMs() - started) / 1000;
  await controller.whenIdle();
  const seconds = (nowMs() - started) / 1000;
  await sleep(500); // anything written just after still counts
  const ctx = controller.lastResult.get(key);
  if (ctx?.error) throw new Error(`no-op resync failed: ${ctx.error.message}`);
  return {
    seconds,
    reconcileSeconds,
    writes: classify(writes.slice(mark)),
    gitRequests: world.git.requests.length - gitMark,
    applied: ctx?.appliedCount ?? -1,
    drift: ctx?.drift.length ?? -1,
  };
}

async function writeManifests(files: Record<string, string>): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), "gitgate-bench-manifests-"));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return { root, dir: join(root, "shop") };
}

interface PhaseResult {
  gitgate: FirstSync[];
  kubectl: Map<string, number[]>;
  noops: NoopResync[];
  /** CPU other processes on the machine used during each timed run, % of one core. */
  others: number[];
}

/**
 * One world, ROUNDS rounds: each round a fresh repo + namespace for gitgate and a fresh namespace per
 * kubectl; the order rotates per round. Then a no-op resync of each app.
 */
async function phase(
  name: string,
  webhook: boolean,
  files: Record<string, string>,
  dir: string,
  kubectls: (world: World) => Promise<Kubectl[]>,
): Promise<PhaseResult> {
  const t0 = nowMs();
  const world = await startWorld({ webhook, controllerManager: false });
  try {
    const tools = await kubectls(world);
    const commits: string[] = [];
    for (let r = 1; r <= ROUNDS; r++) commits.push((await world.git.createRepo(`shop-${r}`, files)).commit);
    console.log(
      `[sync] ${name}: control plane, Git server and gitgate up in ${fmt((nowMs() - t0) / 1000, 1)} s`,
    );
    const recorder = recordWrites(world.gitgate.client.transport);
    const result: PhaseResult = {
      gitgate: [],
      kubectl: new Map(tools.map((t) => [t.label, []])),
      noops: [],
      others: [],
    };
    const contenders = ["gitgate", ...tools.map((t) => t.label)];
    for (let r = 1; r <= ROUNDS; r++) {
      const order = contenders.map((_, i) => contenders[(i + r - 1) % contenders.length] as string);
      for (const who of order) {
        const before = sampleCpu();
        const noise = (): string => {
          const pct = othersCpuPct(before, sampleCpu());
          result.others.push(pct);
          return `others' CPU ${fmt(pct, 0)} %`;
        };
        if (who === "gitgate") {
          const sync = await gitgateFirstSync(world, recorder.writes, r, commits[r - 1] ?? "");
          result.gitgate.push(sync);
          console.log(
            `[sync] ${name} round ${r}: gitgate first sync ${fmt(sync.seconds)} s (writes: ${sync.writes.objects} object, ${sync.writes.gitappStatus} status, ${sync.writes.events} event, ${sync.writes.other} other; ` +
              `admission calls: ${sync.admission.validate} validate, ${sync.admission.mutate} mutate), ${noise()}`,
          );
        } else {
          const tool = tools.find((t) => t.label === who) as Kubectl;
          const seconds = await kubectlApply(world, tool, dir, `kc-${tools.indexOf(tool)}-${r}`);
          result.kubectl.get(who)?.push(seconds);
          console.log(`[sync] ${name} round ${r}: ${who} ${fmt(seconds)} s, ${noise()}`);
        }
      }
    }
    for (let r = 1; r <= ROUNDS; r++) {
      const noop = await noopResync(
        world,
        recorder.writes,
        `${APP_NAMESPACE}/shop-${r}`,
        world.git.repoURL(`shop-${r}`),
      );
      result.noops.push(noop);
      console.log(
        `[sync] ${name}: no-op resync of shop-${r}: ${fmt(noop.seconds)} s, writes ${JSON.stringify(noop.writes)}, ${noop.gitRequests} Git requests, applied ${noop.applied}, drift ${noop.drift}`,
      );
    }
    recorder.restore();
    return result;
  } finally {
    await world.stop();
  }
}

export async function benchSync(): Promise<void> {
  console.log(
    `\n== Sync (issue 3): ${TOTAL} objects (${OBJECTS.configMaps} ConfigMaps + ${OBJECTS.deployments} Deployments, 6 files), ${ROUNDS} rounds ==`,
  );
  const t0 = nowMs();
  const files = syncManifestFiles(OBJECTS.configMaps, OBJECTS.deployments);
  const manifests = await writeManifests(files);
  try {
    const pinned = await pinnedTools();
    const versions = new Map<string, string>();
    const tools = async (world: World): Promise<Kubectl[]> => {
      const bins = [world.cp.binaries.kubectl, pinned.kubectl];
      const out: Kubectl[] = [];
      for (const bin of bins) {
        const version = versions.get(bin) ?? (await kubectlVersion(bin));
        versions.set(bin, version);
        out.push({ label: `kubectl ${version}`, bin });
      }
      return out;
    };
    // The issue's comparison: gitgate's reconciler alone, no webhooks registered.
    const plain = await phase("webhook off", false, files, manifests.dir, tools);
    // As deployed: gitgate's own applies pass through its webhooks (creates: validating only; updates: both).
    const hooked = await phase("webhooks on", true, files, manifests.dir, async (world) =>
      (await tools(world)).slice(0, 1),
    );

    const rows: string[][] = [["measurement", "median", `runs (${ROUNDS})`, "target", ""]];
    const kubectlRows = (p: PhaseResult): void => {
      for (const [label, secs] of p.kubectl)
        rows.push([
          `${label} apply --server-side -f (same files)`,
          `${fmt(median(secs))} s`,
          runs(secs),
          "",
          "",
        ]);
    };
    const firstSyncRows = (p: PhaseResult, label: string, target: boolean): void => {
      const first = median(p.gitgate.map((g) => g.seconds));
      rows.push([
        `gitgate first sync, ${label}: GitApp applied → Synced=True`,
        `${fmt(first)} s`,
        runs(p.gitgate.map((g) => g.seconds)),
        "",
        "",
      ]);
      rows.push([
        "  of which reconcile (before the status patch)",
        `${fmt(median(p.gitgate.map((g) => g.reconcileSeconds)))} s`,
        runs(p.gitgate.map((g) => g.reconcileSeconds)),
        "",
        "",
      ]);
      kubectlRows(p);
      for (const [kLabel, secs] of p.kubectl) {
        const ratio = first / median(secs);
        rows.push([
          `first-sync ratio gitgate / ${kLabel} (${label})`,
          fmt(ratio),
          "",
          target ? "≤ 1.0" : "(info)",
          target ? verdict(ratio <= 1) : "",
        ]);
      }
    };
    firstSyncRows(plain, "webhook off", true);
    const noop = median(plain.noops.map((n) => n.seconds));
    const objectWrites = Math.max(...plain.noops.map((n) => n.writes.objects + n.writes.other));
    rows.push([
      "no-op resync (webhook off): trigger → idle, status written",
      `${fmt(noop)} s`,
      runs(plain.noops.map((n) => n.seconds)),
      "≤ 2 s",
      verdict(noop <= 2),
    ]);
    rows.push([
      "  of which reconcile",
      `${fmt(median(plain.noops.map((n) => n.reconcileSeconds)))} s`,
      runs(plain.noops.map((n) => n.reconcileSeconds)),
      "",
      "",
    ]);
    rows.push([
      "  Git HTTP requests (ref lookup, no fetch)",
      String(median(plain.noops.map((n) => n.gitRequests))),
      plain.noops.map((n) => n.gitRequests).join(" / "),
      "",
      "",
    ]);
    rows.push([
      "  object writes",
      String(objectWrites),
      plain.noops.map((n) => n.writes.objects + n.writes.other).join(" / "),
      "0",
      verdict(objectWrites === 0),
    ]);
    rows.push([
      "  GitApp status writes (reported apart)",
      String(median(plain.noops.map((n) => n.writes.gitappStatus))),
      plain.noops.map((n) => n.writes.gitappStatus).join(" / "),
      "",
      "",
    ]);
    rows.push([
      "  Event writes",
      String(median(plain.noops.map((n) => n.writes.events))),
      plain.noops.map((n) => n.writes.events).join(" / "),
      "",
      "",
    ]);
    firstSyncRows(hooked, "webhooks on", false);
    const hookedNoop = median(hooked.noops.map((n) => n.seconds));
    const hookedWrites = Math.max(...hooked.noops.map((n) => n.writes.objects + n.writes.other));
    rows.push([
      "no-op resync (webhooks on)",
      `${fmt(hookedNoop)} s`,
      runs(hooked.noops.map((n) => n.seconds)),
      "≤ 2 s",
      verdict(hookedNoop <= 2),
    ]);
    rows.push([
      "  object writes",
      String(hookedWrites),
      hooked.noops.map((n) => n.writes.objects + n.writes.other).join(" / "),
      "0",
      verdict(hookedWrites === 0),
    ]);
    const first = plain.gitgate[0]?.writes;
    const calls = hooked.gitgate.map(
      (g) => `${g.admission.validate} validate + ${g.admission.mutate} mutate`,
    );
    console.log("\n" + table(rows));
    console.log(
      `first sync writes per app: ${first?.objects} object (1,000 applies + 1 namespace), ${first?.gitappStatus} status, ${first?.events} event; ` +
        `sync.concurrency ${DEFAULT_CONFIG.sync.concurrency} (default); kube-controller-manager off; ${((nowMs() - t0) / 1000).toFixed(0)} s total`,
    );
    console.log(`admission calls per first sync, webhooks on (gitgate's own applies): ${calls.join(" / ")}`);
    const others = [...plain.others, ...hooked.others];
    console.log(
      `other processes' CPU during the timed runs (% of one core, machine has 2): median ${fmt(median(others), 0)} %, max ${fmt(Math.max(...others), 0)} %`,
    );
  } finally {
    await rm(manifests.root, { recursive: true, force: true });
  }
}
