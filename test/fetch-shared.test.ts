/**
 * One fetch per repository and commit, shared by every GitApp on it (issue 18): 20 GitApps, each on
 * its own directory of one repository, are synced from a single upload-pack fetch counted at the
 * real Git server; a commit touching one of them costs one more fetch, not 20. Ref lookups (shared
 * too: test/shared-refs.test.ts) are counted apart. That commit rewrites only app 7's object:
 * the others keep their resourceVersion (their content stamp did not change).
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import type { GitRequestRecord } from "../src/testenv/git-server.js";
import { startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

const APPS = 20;
let env: TestEnv;

const cm = (name: string, value: string): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
const dir = (i: number): string => `apps/app-${String(i).padStart(2, "0")}`;

function fetches(since = 0): GitRequestRecord[] {
  return env.git.requests
    .slice(since)
    .filter((r) => r.path === "/mono.git/git-upload-pack" && r.command === "fetch");
}

describe("one fetch per repository and commit, shared by all GitApps on it", () => {
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    await env?.stop();
  });

  it("syncs 20 GitApps of one repository from one fetch, and a commit to one app from one more", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < APPS; i++) files[`${dir(i)}/cm.yaml`] = cm(`cm-${i}`, "1");
    const { commit: first } = await env.git.createRepo("mono", files);
    const repoURL = env.git.repoURL("mono");
    const start = env.git.requests.length;
    await Promise.all(
      Array.from({ length: APPS }, (_, i) =>
        env.applyGitApp(`app-${i}`, {
          source: { repoURL, revision: "main", path: dir(i) },
          destination: { namespace: `shared-${i}` },
          sync: { interval: "2s", createNamespace: true },
        }),
      ),
    );
    for (let i = 0; i < APPS; i++) await waitSynced(env, `app-${i}`, first, "default", 90_000);
    assert.equal(fetches(start).length, 1, "one upload-pack fetch for 20 GitApps at one commit");
    // Ref lookups are shared too (test/shared-refs.test.ts counts them); the git binary's fetch
    // starts with an ls-refs of its own, so only the others are lookups.
    const lookups = env.git.requests
      .slice(start)
      .filter((r) => r.command === "ls-refs" && !r.userAgent?.startsWith("git/")).length;
    assert.ok(lookups >= 1, `the revision was looked up (${lookups} ls-refs)`);

    const versions = async (): Promise<string[]> =>
      Promise.all(
        Array.from({ length: APPS }, async (_, i) => {
          const obj = await env.get("v1", "ConfigMap", `shared-${i}`, `cm-${i}`);
          return obj?.metadata.resourceVersion ?? "missing";
        }),
      );
    const before = await versions();
    const afterFirst = env.git.requests.length;
    const second = await env.git.commit("mono", { [`${dir(7)}/cm.yaml`]: cm("cm-7", "2") }, "touch app 7");
    for (let i = 0; i < APPS; i++) await waitSynced(env, `app-${i}`, second, "default", 90_000);
    await waitFor(
      "cm-7 updated",
      async () => {
        const obj = await env.get("v1", "ConfigMap", "shared-7", "cm-7");
        return (obj?.data as Record<string, string> | undefined)?.value === "2" ? true : undefined;
      },
      30_000,
    );
    // Let every GitApp poll at least once more at the new commit: still no further fetch.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    assert.equal(fetches(afterFirst).length, 1, "one more fetch for the new commit, shared by all 20");
    const now = await versions();
    const rewritten = now.map((rv, i) => (rv === before[i] ? undefined : i)).filter((i) => i !== undefined);
    assert.deepEqual(rewritten, [7], "only the object the commit changed was written");
  });
});
