/**
 * Shared ref lookups and changed apps first (issue 18), on a real control plane and Git server:
 * 20 GitApps on one repository, one worker (so the log's order is the order syncs started).
 *
 * - A push that changes nothing re-syncs all 20 from ONE ref lookup (2 HTTP requests), not 20.
 * - A push ends the sharing: a lookup made just before it (within the window, sync.minInterval)
 *   is not served to the syncs the push queues — they all see the pushed commit.
 * - The push lists the one file it changed (GitHub's commits[].modified): that app syncs first.
 *
 * Ref lookups are counted at the server: ls-refs requests not sent by the git binary (its protocol
 * v2 fetch starts with an ls-refs of its own; gitgate's lookups go through isomorphic-git).
 */
import { strict as assert } from "node:assert";
import { createHmac } from "node:crypto";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../src/log/logger.js";
import { call } from "../src/testenv/admission-client.js";
import { startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

const APPS = 20;
const SECRET = "refs-secret";
/** sync.minInterval: the window a lookup is shared in, and the pace of pushes per GitApp. */
const WINDOW_S = 20;
let env: TestEnv;
let repoURL: string;
/** gitgate's log lines, parsed. */
const lines: Array<{ msg?: string; app?: string; commit?: string }> = [];

const cm = (name: string, value: string): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
const dir = (i: number): string => `apps/app-${String(i).padStart(2, "0")}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** gitgate's ref lookups since `since` (see the header). */
function lookups(since: number): number {
  return env.git.requests
    .slice(since)
    .filter((r) => r.path === "/mono.git/git-upload-pack" && r.command === "ls-refs")
    .filter((r) => !r.userAgent?.startsWith("git/")).length;
}

/** Apps of "reconciled" log lines from index `since` on, in order. */
function reconciled(since: number): string[] {
  return lines
    .slice(since)
    .filter((l) => l.msg === "reconciled")
    .map((l) => l.app ?? "");
}

async function push(paths: string[] = []): Promise<void> {
  const body = JSON.stringify({
    ref: "refs/heads/main",
    repository: { clone_url: repoURL },
    commits: paths.length > 0 ? [{ added: [], modified: paths, removed: [] }] : [],
  });
  const answer = await call(`${env.gitgate.url}/hooks/git`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
    },
    ca: env.gitgate.caPem ?? "",
    body,
  });
  assert.equal(answer.status, 202, answer.body);
}

describe("ref lookups shared per repository; the apps a push changed first", () => {
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const text of chunk.toString("utf8").split("\n")) {
          if (text.trim() === "") continue;
          try {
            lines.push(JSON.parse(text) as (typeof lines)[number]);
          } catch {
            // not a log line
          }
        }
        done();
      },
    });
    env = await startEnv({
      webhook: true,
      logger: createLogger("info", sink),
      config: (c) => {
        c.hooks.githubSecret = SECRET;
        c.sync.minInterval = `${WINDOW_S}s`;
        c.sync.workers = 1;
      },
    });
  });
  after(async () => {
    await env?.stop();
  });

  /** Each GitApp's resourceVersion: any write to it, status included, moves it. */
  async function statusVersions(): Promise<string[]> {
    const apps = await Promise.all(Array.from({ length: APPS }, (_, i) => env.getGitApp(`app-${i}`)));
    return apps.map((app) => app?.metadata.resourceVersion ?? "");
  }

  it("a no-op resync of 20 GitApps costs one lookup and writes no status; after a push every app sees the pushed commit, the changed one first", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < APPS; i++) files[`${dir(i)}/cm.yaml`] = cm(`cm-${i}`, "1");
    const { commit: first } = await env.git.createRepo("mono", files);
    repoURL = env.git.repoURL("mono");
    const start = env.git.requests.length;
    for (let i = 0; i < APPS; i++) {
      await env.applyGitApp(`app-${i}`, {
        source: { repoURL, revision: "main", path: dir(i) },
        destination: { namespace: `refs-${i}` },
        sync: { interval: "1h", createNamespace: true }, // only pushes move them here
      });
    }
    for (let i = 0; i < APPS; i++) await waitSynced(env, `app-${i}`, first, "default", 120_000);
    const initial = lookups(start);
    console.log(`first sync of ${APPS} GitApps: ${initial} ref lookups`);
    assert.ok(initial >= 1 && initial < APPS, `the first syncs shared lookups (${initial})`);

    // 1. A push that changes nothing, once every app may sync again (sync.minInterval).
    await sleep(WINDOW_S * 1000 + 1000);
    let mark = env.git.requests.length;
    let logMark = lines.length;
    const versions = await statusVersions();
    await push();
    await waitFor("20 reconciles after the no-op push", () => reconciled(logMark).length >= APPS, 60_000);
    // Nothing but lastSyncTime would change, well inside sync.statusHeartbeat (5m): no status write.
    assert.deepEqual(await statusVersions(), versions, "no GitApp was written by the no-op resync");
    assert.equal(lookups(mark), 1, "one ref lookup (GET info/refs + ls-refs) for 20 GitApps");
    assert.equal(
      env.git.requests.slice(mark).filter((r) => r.path.startsWith("/mono.git/")).length,
      2,
      "2 HTTP requests in all, no fetch",
    );

    // 2. A lookup just before a push (a new GitApp's first sync, inside the window) is not what the
    // push's syncs get: the push ends the sharing.
    await sleep(WINDOW_S * 1000 + 1000);
    await env.applyGitApp("late", {
      source: { repoURL, revision: "main", path: dir(0) },
      destination: { namespace: "refs-late" },
      sync: { interval: "1h", createNamespace: true },
    });
    await waitSynced(env, "late", first, "default", 60_000);
    const second = await env.git.commit("mono", { [`${dir(7)}/cm.yaml`]: cm("cm-7", "2") }, "touch app 7");
    mark = env.git.requests.length;
    logMark = lines.length;
    await push([`${dir(7)}/cm.yaml`]);
    for (let i = 0; i < APPS; i++) await waitSynced(env, `app-${i}`, second, "default", 60_000);
    const order = reconciled(logMark).filter((app) => app !== "default/late");
    assert.equal(
      order[0],
      "default/app-7",
      `the changed app synced first (then ${order.slice(1, 4).join(", ")}, …)`,
    );
    const after = lookups(mark);
    assert.equal(after, 1, "one fresh lookup for the 20 after the push");
    const obj = await env.get("v1", "ConfigMap", "refs-7", "cm-7");
    assert.equal((obj?.data as Record<string, string> | undefined)?.value, "2");
  });
});
