/**
 * Issue 18 benchmark (`npm run bench -- scale`): 500 GitApps over 5 repositories, 10,000
 * ConfigMaps (one per file, apps as directories of a monorepo and four smaller repositories), on
 * the real control plane and a real Git server (behind a counting proxy), with gitgate running as
 * its own process (`node dist/src/cli/main.js run`) so that its memory is its own.
 *
 * In order: `kubectl apply --server-side -R` of the same files (baseline), gitgate's first sync of
 * all 500 apps (time to all Synced, RSS), a no-op resync of everything (pushes for the 5 repos),
 * one commit touching one app (push → applied, Git bytes), a restart (time to /readyz and what the
 * webhook answers meanwhile), then admission throughput and decide() latency with the full index.
 * Every wait is bounded; figures are printed with their target and never fail the run.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { load } from "js-yaml";
import type { GitApp } from "../src/api/gitapp.js";
import { ClusterClient } from "../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../src/cluster/transport.js";
import type { DesiredEntry } from "../src/manifest/desired.js";
import { DesiredIndex } from "../src/gate/desired-index.js";
import {
  APP_LABEL,
  COMMIT_ANNOTATION,
  FILE_ANNOTATION,
  REPO_ANNOTATION,
  appLabelValue,
} from "../src/manifest/labels.js";
import { keyOf, objectKey, refOf, type KubeObject } from "../src/manifest/object.js";
import type { ControlPlane } from "../src/testenv/controlplane.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { kubectl } from "../src/testenv/kubectl.js";
import { pinnedTools, type Tools } from "../src/testenv/tools.js";
import { admissionWithIndex } from "./admission.js";
import { startGitMeter, type GitMeter } from "./lib/git-meter.js";
import { retainedBytes } from "./lib/heap.js";
import { GITGATE_MALLOC, spawnGitgate, type GitgateProcess, type LogLine } from "./lib/gitgate-process.js";
import { othersCpuPct, sampleCpu } from "./lib/noise.js";
import {
  answerOf,
  apiserverWrites,
  gitgateCall,
  allSynced,
  violatingReview,
  writesBetween,
} from "./lib/scale-cluster.js";
import {
  OBJECTS_PER_APP,
  appPath,
  configMapFile,
  configMapName,
  namespaceOf,
  repoFiles,
  scaleRepos,
  type ScaleRepo,
} from "./lib/scale-repos.js";
import { fmt, nowMs, poll, sleep, table, verdict } from "./lib/stats.js";
import { startControlPlaneWithRetry } from "./lib/world.js";

/**
 * GITGATE_BENCH_SCALE_QUICK=1: a fifth of the apps, no kubectl baseline and no admission part
 * (for working on gitgate; its figures are not the issue's). GITGATE_BENCH_GITGATE_MAIN: another
 * build's `src/cli/main.js` as the gitgate process (a before/after comparison on one machine).
 */
const QUICK = process.env.GITGATE_BENCH_SCALE_QUICK === "1";
const MAIN =
  process.env.GITGATE_BENCH_GITGATE_MAIN ?? new URL("../src/cli/main.js", import.meta.url).pathname;
/** GITGATE_BENCH_GITGATE_NODE_ARGS: node flags for the gitgate process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`. */
const NODE_ARGS = (process.env.GITGATE_BENCH_GITGATE_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
/** GITGATE_BENCH_SCALE_FRACTION: the share of the 500 apps to run (default 1, or 0.2 when QUICK). */
const REPOS = scaleRepos(Number(process.env.GITGATE_BENCH_SCALE_FRACTION ?? (QUICK ? 0.2 : 1)));
/** GITGATE_BENCH_SCALE_WORKERS: gitgate's sync.workers (default: gitgate's own default). */
const WORKERS = Number(process.env.GITGATE_BENCH_SCALE_WORKERS ?? 0);
/** GITGATE_BENCH_SCALE_PUSH_PATHS=0: the one-app commit's push lists no file (the queue's order alone). */
const PUSH_PATHS = process.env.GITGATE_BENCH_SCALE_PUSH_PATHS !== "0";
const TOTAL_APPS = REPOS.reduce((n, r) => n + r.apps.length, 0);
const TOTAL_OBJECTS = TOTAL_APPS * OBJECTS_PER_APP;
const APPS_NAMESPACE = "default";
const SYNC_TIMEOUT_MS = 900_000;
const STEP_TIMEOUT_MS = 180_000;

interface Reconciled {
  at: number;
  app: string;
  applied: number;
  drift: number;
  /** The reconcile failed (logged as a warning with its step). */
  failed: boolean;
}

/** What one gitgate process logged that the bench times: reconciles, listening, warnings. */
class LogTap {
  readonly reconciled: Reconciled[] = [];
  listeningAt = Number.NaN;
  primed?: LogLine;
  readonly problems: string[] = [];

  readonly onLog = (line: LogLine): void => {
    const failed = line.msg !== "reconciled" && typeof line.step === "string";
    if (line.msg === "reconciled" || failed)
      this.reconciled.push({
        at: nowMs(),
        app: typeof line.app === "string" ? line.app : "",
        applied: Number(line.applied ?? 0),
        drift: Number(line.drift ?? 0),
        failed,
      });
    else if (line.msg === "webhook server listening") this.listeningAt = nowMs();
    else if (line.msg === "index primed") this.primed = line;
    if (typeof line.level === "number" && line.level >= 40 && this.problems.length < 20)
      this.problems.push(JSON.stringify(line).slice(0, 300));
  };

  /**
   * Waits (bounded) until `count` reconciles were logged after index `from` (of `apps`, if given);
   * returns those seen, fewer on timeout.
   */
  async reconciles(from: number, count: number, apps?: Set<string>): Promise<Reconciled[]> {
    const since = (): Reconciled[] =>
      this.reconciled
        .slice(from)
        .filter((r) => apps === undefined || apps.has(r.app.slice(r.app.indexOf("/") + 1)));
    const deadline = nowMs() + STEP_TIMEOUT_MS;
    while (since().length < count && nowMs() < deadline) await sleep(20);
    return since();
  }
}

interface Scene {
  cp: ControlPlane;
  git: GitServer;
  meter: GitMeter;
  admin: ClusterClient;
  tools: Tools;
  scratch: string;
  config: string;
  commits: Map<string, string>;
  caPem: string;
}

const rows: string[][] = [["measurement", "value", "target", ""]];
function row(what: string, value: string, target = "", ok?: boolean): void {
  rows.push([what, value, target, ok === undefined ? "" : verdict(ok)]);
  console.log(`[scale] ${what}: ${value}${target ? ` (target ${target}: ${verdict(ok ?? false)})` : ""}`);
}

/** How many reconciles of how many, the last one's time from `started`, what they applied. */
function outcome(done: Reconciled[], count: number, started: number): { seconds: number; text: string } {
  const last = done.length > 0 ? (Math.max(...done.map((r) => r.at)) - started) / 1000 : Number.NaN;
  const sum = (f: (r: Reconciled) => number): number => done.reduce((n, r) => n + f(r), 0);
  const short =
    done.length >= count ? "" : ` — only ${done.length} of ${count} within ${STEP_TIMEOUT_MS / 1000} s`;
  return {
    seconds: done.length >= count ? last : Number.NaN,
    text: `${fmt(last)} s${short}; applied ${sum((r) => r.applied)}, drift ${sum((r) => r.drift)}, failed ${sum((r) => (r.failed ? 1 : 0))}`,
  };
}

function repoURL(scene: Scene, repo: ScaleRepo): string {
  return `${scene.meter.url}/${repo.name}.git`;
}

async function setUp(): Promise<Scene> {
  const t0 = nowMs();
  const [cp, git, tools] = await Promise.all([
    startControlPlaneWithRetry(false),
    startGitServer(),
    pinnedTools(),
  ]);
  const meter = await startGitMeter(git.url);
  const admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
  const scratch = await mkdtemp(join(tmpdir(), "gitgate-bench-scale-"));
  const commits = new Map<string, string>();
  for (const repo of REPOS) {
    const files = repoFiles(repo);
    commits.set(repo.name, (await git.createRepo(repo.name, files)).commit);
    if (!QUICK)
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(scratch, "files", repo.name, path)), { recursive: true });
        await writeFile(join(scratch, "files", repo.name, path), text);
      }
    for (const prefix of ["scale", "kc"])
      await admin.create({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: namespaceOf(repo, prefix) },
      });
  }
  const config = join(scratch, "gitgate.json");
  await writeFile(
    config,
    JSON.stringify({
      clusterName: "bench",
      leaderElection: { enabled: false },
      enforcement: { exemptGroups: ["system:masters", "platform-admins"] },
      sync: {
        minInterval: "1s",
        cacheDir: join(scratch, "cache"),
        ...(WORKERS ? { workers: WORKERS } : {}),
      },
      render: { helm: tools.helm, kubectl: tools.kubectl },
      tenancy: { platformNamespaces: [APPS_NAMESPACE] },
      // The sync is compared webhook-off (as in sync.ts): gitgate serves /validate and /readyz but
      // does not register its webhooks with kube-apiserver.
      webhook: { register: false },
      hooks: { allowUnsigned: true },
    }),
  );
  console.log(
    `[scale] control plane, Git server, ${REPOS.length} repositories (${TOTAL_OBJECTS} files) up in ${fmt((nowMs() - t0) / 1000, 1)} s`,
  );
  return { cp, git, meter, admin, tools, scratch, config, commits, caPem: "" };
}

async function kubectlBaseline(scene: Scene): Promise<number> {
  const before = sampleCpu();
  const version = await kubectl(scene.cp.binaries.kubectl, "/dev/null", ["version", "--client", "--short"]);
  let seconds = 0;
  let applied = 0;
  for (const repo of REPOS) {
    const started = nowMs();
    const result = await kubectl(scene.cp.binaries.kubectl, scene.cp.kubeconfigs.admin ?? "", [
      "apply",
      "--server-side",
      "-R",
      "-n",
      namespaceOf(repo, "kc"),
      "-f",
      join(scene.scratch, "files", repo.name, "apps"),
    ]);
    seconds += (nowMs() - started) / 1000;
    if (result.code !== 0) throw new Error(`kubectl apply failed: ${result.stderr.slice(0, 2000)}`);
    applied += result.stdout.split("\n").filter((l) => l.includes("serverside-applied")).length;
  }
  row(
    `${version.stdout.trim() || "kubectl"} apply --server-side -R (${REPOS.length} repos, one after another)`,
    `${fmt(seconds)} s, ${applied} objects, others' CPU ${fmt(othersCpuPct(before, sampleCpu()), 0)} %`,
  );
  return seconds;
}

async function startGitgate(scene: Scene, tap: LogTap): Promise<GitgateProcess> {
  const proc = await spawnGitgate({
    main: MAIN,
    kubeconfig: scene.cp.kubeconfigs.gitgate ?? "",
    config: scene.config,
    onLog: tap.onLog,
    nodeArgs: NODE_ARGS,
  });
  await Promise.race([
    poll("gitgate listening", () => (Number.isNaN(tap.listeningAt) ? undefined : true), 20, 120_000),
    proc.exited.then((code) => {
      throw new Error(`gitgate exited (${code}): ${tap.problems.join("; ")}`);
    }),
  ]);
  if (!scene.caPem) {
    const secret = await scene.admin.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: "gitgate-system",
      name: "gitgate-webhook-tls",
    });
    scene.caPem = Buffer.from(
      String((secret?.data as Record<string, string>)["ca.crt"]),
      "base64",
    ).toString();
  }
  return proc;
}

function gitApp(scene: Scene, repo: ScaleRepo, app: string): KubeObject {
  return {
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    metadata: { name: app, namespace: APPS_NAMESPACE },
    spec: {
      source: { repoURL: repoURL(scene, repo), revision: "main", path: appPath(app) },
      destination: { namespace: namespaceOf(repo) },
      sync: { interval: "1h", prune: true, selfHeal: true },
    },
  };
}

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

async function firstSync(scene: Scene, proc: GitgateProcess, kubectlSeconds: number): Promise<void> {
  await sleep(3000);
  row("gitgate RSS idle (0 GitApps, before the sync)", `${fmt(proc.memory().rssMiB, 0)} MiB`);
  proc.resetPeak();
  const repoOf = new Map(REPOS.flatMap((r) => r.apps.map((a) => [a, r] as const)));
  const commitOf = (app: GitApp): string | undefined =>
    scene.commits.get(repoOf.get(app.metadata.name ?? "")?.name ?? "");
  const before = sampleCpu();
  const writesBefore = await apiserverWrites(scene.admin);
  const started = nowMs();
  await pool([...repoOf.entries()], 16, async ([app, repo]) => {
    await scene.admin.apply(gitApp(scene, repo, app), { fieldManager: "bench", force: true });
  });
  const appliedAt = nowMs();
  await allSynced(scene.admin, APPS_NAMESPACE, commitOf, TOTAL_APPS, SYNC_TIMEOUT_MS);
  const seconds = (nowMs() - started) / 1000;
  const writes = writesBetween(writesBefore, await apiserverWrites(scene.admin));
  row(
    `gitgate first sync: ${TOTAL_APPS} GitApps applied → all Synced=True`,
    `${fmt(seconds)} s (GitApps applied in ${fmt((appliedAt - started) / 1000)} s), others' CPU ${fmt(othersCpuPct(before, sampleCpu()), 0)} %`,
  );
  row("  writes kube-apiserver served meanwhile", JSON.stringify(Object.fromEntries(writes)));
  if (!QUICK) {
    const ratio = seconds / kubectlSeconds;
    row("all Synced ÷ kubectl apply --server-side", fmt(ratio), "≤ 0.6", ratio <= 0.6);
  }
  row("gitgate peak RSS during the sync (VmRSS sampled every 100 ms)", `${fmt(proc.peakRssMiB(), 0)} MiB`);
  await sleep(5000);
  const rss = proc.memory().rssMiB;
  row("gitgate RSS after sync (5 s later)", `${fmt(rss, 0)} MiB`, "≤ 200 MiB", rss <= 200);
}

/** A generic push; `paths`: the files it changed, as GitHub's and GitLab's payloads list them. */
async function push(scene: Scene, proc: GitgateProcess, repo: ScaleRepo, paths?: string[]): Promise<void> {
  const reply = await gitgateCall(proc.port, scene.caPem, "POST", "/hooks/git", {
    repoURL: repoURL(scene, repo),
    ...(paths ? { paths } : {}),
  });
  if (reply.status !== 202) throw new Error(`push for ${repo.name}: HTTP ${reply.status} ${reply.body}`);
}

async function noopResync(scene: Scene, proc: GitgateProcess, tap: LogTap): Promise<void> {
  await sleep(2000);
  const mark = tap.reconciled.length;
  const writesBefore = await apiserverWrites(scene.admin);
  const git = { ...scene.meter.counts };
  const started = nowMs();
  for (const repo of REPOS) await push(scene, proc, repo);
  const done = outcome(await tap.reconciles(mark, TOTAL_APPS), TOTAL_APPS, started);
  await sleep(1000);
  const writes = writesBetween(writesBefore, await apiserverWrites(scene.admin));
  const objectWrites = writes.get("configmaps") ?? 0;
  row(
    `no-op resync of all ${TOTAL_APPS} apps: ${REPOS.length} pushes → ${TOTAL_APPS} reconciles logged`,
    done.text,
    "≤ 5 s",
    done.seconds <= 5,
  );
  row(
    "  object writes (ConfigMap writes counted by kube-apiserver)",
    String(objectWrites),
    "0",
    objectWrites === 0,
  );
  row("  all writes (reported apart)", JSON.stringify(Object.fromEntries(writes)));
  row(
    "  Git requests / bytes",
    `${scene.meter.counts.requests - git.requests} / ${scene.meter.counts.bytes - git.bytes} B`,
  );
}

async function oneAppCommit(scene: Scene, proc: GitgateProcess, tap: LogTap): Promise<void> {
  const repo = REPOS[0] as ScaleRepo;
  const app = repo.apps[7] as string;
  await sleep(2000);
  const changed = `${appPath(app)}/cm-03.yaml`;
  const commit = await scene.git.commit(
    repo.name,
    { [changed]: configMapFile(app, 3, 1) },
    `bench: change ${app}`,
  );
  scene.commits.set(repo.name, commit);
  const mark = tap.reconciled.length;
  const git = { ...scene.meter.counts };
  const target = {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: namespaceOf(repo),
    name: configMapName(app, 3),
  };
  const started = nowMs();
  await push(scene, proc, repo, PUSH_PATHS ? [changed] : undefined);
  const applied = await poll(
    "the changed ConfigMap applied",
    async () =>
      ((await scene.admin.get(target))?.data as Record<string, string> | undefined)?.REVISION === "1"
        ? { seconds: (nowMs() - started) / 1000, git: { ...scene.meter.counts } }
        : undefined,
    20,
    STEP_TIMEOUT_MS,
  );
  row(
    `one commit touching one app (${repo.name}, ${repo.apps.length} apps on it): push → applied`,
    `${fmt(applied.seconds)} s`,
    "≤ 2 s",
    applied.seconds <= 2,
  );
  row(
    "  Git requests / bytes until applied",
    `${applied.git.requests - git.requests} / ${applied.git.bytes - git.bytes} B`,
  );
  const done = outcome(
    await tap.reconciles(mark, repo.apps.length, new Set(repo.apps)),
    repo.apps.length,
    started,
  );
  row(`  push → all ${repo.apps.length} apps of the repo reconciled`, done.text);
  row(
    "  Git requests / bytes until all reconciled",
    `${scene.meter.counts.requests - git.requests} / ${scene.meter.counts.bytes - git.bytes} B`,
  );
}

interface Answer {
  at: number;
  what: string;
}

/** Polls /readyz (and posts a review) every 50 ms until ready or the step's timeout. */
async function watchStart(
  scene: Scene,
  proc: GitgateProcess,
  live: KubeObject,
): Promise<{ readyAt: number; answers: Answer[] }> {
  const answers: Answer[] = [];
  let n = 0;
  const deadline = nowMs() + STEP_TIMEOUT_MS;
  while (nowMs() < deadline) {
    const [ready, review] = await Promise.all([
      gitgateCall(proc.port, scene.caPem, "GET", "/readyz").catch((e: Error) => e),
      gitgateCall(proc.port, scene.caPem, "POST", "/validate", violatingReview(live, `r-${n++}`)).catch(
        (e: Error) => e,
      ),
    ]);
    const what = answerOf(review);
    if (answers.at(-1)?.what !== what) answers.push({ at: nowMs(), what });
    if (!(ready instanceof Error) && ready.status === 200) return { readyAt: nowMs(), answers };
    await sleep(50);
  }
  return { readyAt: Number.NaN, answers };
}

/** Restart: stop the process, start a new one, watch /readyz and a review's answer until ready. */
async function restart(scene: Scene, old: GitgateProcess, tap: LogTap): Promise<GitgateProcess> {
  const repo = REPOS[1] as ScaleRepo;
  const live = await scene.admin.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: namespaceOf(repo),
    name: configMapName(repo.apps[0] as string, 0),
  });
  if (!live) throw new Error("no managed ConfigMap to review");
  await old.stop();
  const writesBefore = await apiserverWrites(scene.admin);
  const git = { ...scene.meter.counts };
  const proc = await startGitgate(scene, tap);
  const { readyAt, answers } = await watchStart(scene, proc, live);
  const gitAtReady = { ...scene.meter.counts };
  const afterReady = answerOf(
    await gitgateCall(proc.port, scene.caPem, "POST", "/validate", violatingReview(live, "after")).catch(
      (e: Error) => e,
    ),
  );
  const ready = (readyAt - proc.startedAt) / 1000;
  row(
    "restart: new process spawned → webhook server listening",
    `${fmt((tap.listeningAt - proc.startedAt) / 1000)} s`,
  );
  row("restart: spawned → /readyz 200 (index complete)", `${fmt(ready)} s`, "≤ 5 s", ready <= 5);
  row("restart: listening → /readyz 200", `${fmt((readyAt - tap.listeningAt) / 1000)} s`);
  row(
    "  Git requests / bytes until ready",
    `${gitAtReady.requests - git.requests} / ${gitAtReady.bytes - git.bytes} B`,
  );
  if (tap.primed) row("  index primed (gitgate's log)", JSON.stringify(tap.primed).slice(0, 200));
  for (const a of answers) row(`  review answered at +${fmt((a.at - proc.startedAt) / 1000)} s`, a.what);
  row("  review answered once ready", afterReady);
  const done = outcome(await tap.reconciles(0, TOTAL_APPS), TOTAL_APPS, proc.startedAt);
  row("restart: spawned → all apps reconciled", done.text);
  const writes = writesBetween(writesBefore, await apiserverWrites(scene.admin));
  row("  writes kube-apiserver served after the restart", JSON.stringify(Object.fromEntries(writes)));
  row(
    "restart: peak RSS / RSS once all reconciled",
    `${fmt(proc.memory().hwmMiB, 0)} / ${fmt(proc.memory().rssMiB, 0)} MiB`,
  );
  return proc;
}

/** The index entries the 500 apps hold, built from the same files (for the in-process admission bench). */
export function scaleEntries(): DesiredEntry[] {
  const entries: DesiredEntry[] = [];
  for (const repo of REPOS)
    for (const app of repo.apps) {
      const ref = { namespace: APPS_NAMESPACE, name: app };
      for (let i = 0; i < OBJECTS_PER_APP; i++) {
        const object = load(configMapFile(app, i)) as KubeObject;
        object.metadata.namespace = namespaceOf(repo);
        object.metadata.labels = { ...(object.metadata.labels ?? {}), [APP_LABEL]: appLabelValue(ref) };
        object.metadata.annotations = {
          ...(object.metadata.annotations ?? {}),
          [REPO_ANNOTATION]: `https://git.example.com/${repo.name}.git`,
          [FILE_ANNOTATION]: `${appPath(app)}/cm-${i}.yaml`,
          [COMMIT_ANNOTATION]: "0".repeat(40),
        };
        const r = refOf(object);
        entries.push({
          key: keyOf(r),
          ref: r,
          object,
          app: ref,
          source: {
            repoURL: `https://git.example.com/${repo.name}.git`,
            path: appPath(app),
            file: `${appPath(app)}/cm-${i}.yaml`,
            commit: "0".repeat(40),
          },
          mode: "enforce",
          ignore: [],
        });
      }
    }
  return entries;
}

/**
 * What each part keeps per object at this size, measured on this process's heap (full GC before
 * and after): the live objects as the informer's cache holds them (listed from the cluster, with
 * and without managedFields), the desired index, and the render cache (app → the index's entries).
 */
async function memoryPerObject(scene: Scene): Promise<void> {
  const { items } = await scene.admin.list(
    { apiVersion: "v1", kind: "ConfigMap" },
    { labelSelector: APP_LABEL },
  );
  const json = JSON.stringify(items);
  const n = items.length;
  const perObject = (bytes: number): string =>
    `${fmt(bytes / n / 1024, 2)} KiB/object (${fmt(bytes / 2 ** 20, 1)} MiB for ${n})`;
  const live = retainedBytes(() => new Map((JSON.parse(json) as KubeObject[]).map((o) => [objectKey(o), o])));
  row("memory: live cache (informer Map of listed ConfigMaps)", perObject(live.bytes));
  const managedFields = items.reduce((s, o) => s + JSON.stringify(o.metadata.managedFields ?? []).length, 0);
  row(
    "  of which managedFields, as JSON text",
    `${fmt(managedFields / n, 0)} B/object of ${fmt(json.length / n, 0)} B`,
  );
  const index = retainedBytes(() => {
    const idx = new DesiredIndex();
    const byApp = new Map<string, DesiredEntry[]>();
    for (const e of scaleEntries()) byApp.set(e.app.name, [...(byApp.get(e.app.name) ?? []), e]);
    for (const list of byApp.values()) idx.replaceApp((list[0] as DesiredEntry).app, list);
    return { idx, byApp };
  });
  row("memory: desired index (entries with their objects)", perObject(index.bytes));
  const render = retainedBytes(
    () => new Map([...index.value.byApp].map(([app, entries]) => [app, { id: "x".repeat(300), entries }])),
  );
  row("memory: render cache (app → the index's own entry arrays)", perObject(render.bytes));
}

async function tearDown(scene: Scene | undefined, procs: GitgateProcess[]): Promise<void> {
  for (const p of procs) await p.stop().catch(() => undefined);
  if (!scene) return;
  scene.admin.transport.close();
  await scene.meter.stop();
  await Promise.all([scene.cp.stop(), scene.git.stop()]);
  await rm(scene.scratch, { recursive: true, force: true });
}

export async function benchScale(): Promise<void> {
  console.log(
    `\n== Scale (issue 18): ${TOTAL_APPS} GitApps over ${REPOS.length} repositories, ${TOTAL_OBJECTS} ConfigMaps, gitgate as a process on ${GITGATE_MALLOC}${QUICK ? " (QUICK)" : ""} ==`,
  );
  const t0 = nowMs();
  let scene: Scene | undefined;
  const procs: GitgateProcess[] = [];
  const taps = [new LogTap(), new LogTap()] as const;
  try {
    scene = await setUp();
    const kubectlSeconds = QUICK ? Number.NaN : await kubectlBaseline(scene);
    const first = await startGitgate(scene, taps[0]);
    procs.push(first);
    await firstSync(scene, first, kubectlSeconds);
    await noopResync(scene, first, taps[0]);
    await oneAppCommit(scene, first, taps[0]);
    procs.push(await restart(scene, first, taps[1]));
    await memoryPerObject(scene);
  } finally {
    const problems = [...taps[0].problems, ...taps[1].problems];
    if (problems.length > 0)
      console.log(`[scale] gitgate warnings (first 10): ${problems.slice(0, 10).join(" | ")}`);
    await tearDown(scene, procs);
  }
  console.log(
    `\nScale: one run (10,000 objects take minutes per round); ${((nowMs() - t0) / 1000).toFixed(0)} s`,
  );
  console.log(table(rows));
  // GITGATE_BENCH_SCALE_ADMISSION=0: without the admission part (~5 min).
  if (!QUICK && process.env.GITGATE_BENCH_SCALE_ADMISSION !== "0") await benchScaleAdmission();
}

/** `npm run bench -- scale.admission`: the scale bench's admission part alone (no cluster). */
export async function benchScaleAdmission(): Promise<void> {
  await admissionWithIndex(scaleEntries(), { standard: 0.9, large: 0.75 });
}
