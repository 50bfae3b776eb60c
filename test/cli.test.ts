/**
 * The `gitgate` CLI as users run it: real child processes of `render`, `diff`, `check` and `status`
 * over the example apps, against a real control plane whose GitApps sync from a real Git server.
 * Output and exit codes are the documented ones (`--help`: diff and check exit 1 on a difference or
 * a denial); bad input fails with one line naming the path, exit code 2 and no stack trace.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import type { KubeObject } from "../src/manifest/object.js";
import { examplesDir, readTree } from "../src/testenv/files.js";
import { pinnedTools, type Tools } from "../src/testenv/tools.js";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = join(ROOT, "src/cli/main.ts");
const EXAMPLES = examplesDir();

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `gitgate <args>` as a child process from the repository root (relative example paths work). */
function gitgate(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", MAIN, ...args],
      { cwd: ROOT, timeout: 120_000, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const show = (r: CliResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** Failure as documented by main.ts: exit 2, nothing on stdout, one `gitgate: …` line, no stack. */
function assertCleanError(r: CliResult, message: RegExp): void {
  assert.equal(r.code, 2, show(r));
  assert.equal(r.stdout, "", show(r));
  assert.match(r.stderr, /^gitgate: [^\n]+\n$/, show(r));
  assert.match(r.stderr, message, show(r));
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:|node:internal/, show(r));
}

function objects(text: string): KubeObject[] {
  return yaml.loadAll(text).filter((d): d is KubeObject => typeof d === "object" && d !== null);
}

const keyOf = (o: KubeObject): string => `${o.kind}/${o.metadata.name ?? ""}`;
const byKey = (a: KubeObject, b: KubeObject): number => keyOf(a).localeCompare(keyOf(b));

function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(bin, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr || err.message)) : resolve(stdout),
    ),
  );
}

/** A temp copy of an example app with one file replaced by YAML that does not parse. */
async function brokenCopy(scratch: string, app: string, file: string): Promise<string> {
  const dir = join(scratch, `broken-${app}`);
  await cp(join(EXAMPLES, app), dir, { recursive: true });
  await writeFile(
    join(dir, file),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  TITLE: [unclosed\n  MORE: x\n",
  );
  return dir;
}

let scratch: string;
let tools: Tools;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "gitgate-cli-test-"));
  tools = await pinnedTools();
});
after(async () => rm(scratch, { recursive: true, force: true }));

describe("gitgate render", () => {
  it("prints a plain YAML directory as its files' objects, each under a `# Source: file:line` header", async () => {
    const r = await gitgate(["render", "examples/apps/guestbook"]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr, "");
    const expected: KubeObject[] = [];
    for (const file of (await readdir(join(EXAMPLES, "guestbook"))).sort())
      expected.push(...objects(await readFile(join(EXAMPLES, "guestbook", file), "utf8")));
    assert.deepEqual(objects(r.stdout), expected);
    const sources = [...r.stdout.matchAll(/^# Source: (\S+):(\d+)$/gm)];
    assert.deepEqual(
      sources.map((m) => m[1]),
      [
        "examples/apps/guestbook/config.yaml",
        "examples/apps/guestbook/config.yaml",
        "examples/apps/guestbook/deployment.yaml",
        "examples/apps/guestbook/service.yaml",
      ],
    );
    // Each header's line is where that document starts in the file.
    for (const [, file = "", line = ""] of sources) {
      const lines = (await readFile(join(ROOT, file), "utf8")).split("\n");
      assert.match(lines[Number(line) - 1] ?? "", /^apiVersion: /, `${file}:${line}`);
    }
  });

  it("builds a Kustomize overlay equal to `kubectl kustomize`, as a JSON List with -o json", async () => {
    const r = await gitgate(["render", "examples/apps/podinfo/overlays/prod", "-o", "json"]);
    assert.equal(r.code, 0, show(r));
    const list = JSON.parse(r.stdout) as { apiVersion: string; kind: string; items: KubeObject[] };
    assert.equal(list.apiVersion, "v1");
    assert.equal(list.kind, "List");
    assert.ok(tools.kubectl, "pinned kubectl");
    const built = objects(await run(tools.kubectl, ["kustomize", join(EXAMPLES, "podinfo/overlays/prod")]));
    assert.deepEqual([...list.items].sort(byKey), built.sort(byKey));
    const deploy = list.items.find((o) => o.kind === "Deployment");
    assert.equal(deploy?.metadata.name, "prod-podinfo");
    assert.equal((deploy?.spec as { replicas?: number }).replicas, 3, "the overlay's patch is applied");
  });

  it("templates a Helm chart equal to `helm template`, honouring --release-name, -n and -f", async () => {
    const chart = "examples/apps/echo-chart";
    const r = await gitgate([
      "render",
      chart,
      "--release-name",
      "rel",
      "-n",
      "echo",
      "-f",
      "values-prod.yaml",
    ]);
    assert.equal(r.code, 0, show(r));
    const built = objects(
      await run(tools.helm, [
        "template",
        "rel",
        join(EXAMPLES, "echo-chart"),
        "--namespace",
        "echo",
        "-f",
        join(EXAMPLES, "echo-chart/values-prod.yaml"),
      ]),
    );
    assert.deepEqual(objects(r.stdout).sort(byKey), built.sort(byKey));
    const deploy = objects(r.stdout).find((o) => o.kind === "Deployment");
    assert.equal(deploy?.metadata.name, "rel-echo");
    assert.equal((deploy?.spec as { replicas?: number }).replicas, 2, "values-prod.yaml applied");
    assert.match(r.stdout, /^# Source: examples\/apps\/echo-chart\/templates\/deployment\.yaml$/m);

    // Without flags: release named after the directory, chart defaults.
    const plain = await gitgate(["render", chart]);
    assert.equal(plain.code, 0, show(plain));
    const plainDeploy = objects(plain.stdout).find((o) => o.kind === "Deployment");
    assert.equal(plainDeploy?.metadata.name, "echo-chart-echo");
    assert.equal((plainDeploy?.spec as { replicas?: number }).replicas, 1);
  });

  it("fails clearly for a path that does not exist, or is a file", async () => {
    assertCleanError(
      await gitgate(["render", "examples/apps/no-such-app"]),
      /examples\/apps\/no-such-app: no such directory/,
    );
    assertCleanError(
      await gitgate(["render", "examples/apps/guestbook/deployment.yaml"]),
      /examples\/apps\/guestbook\/deployment\.yaml is not a directory/,
    );
  });

  it("fails clearly for a file that is not valid YAML, naming the file and line", async () => {
    const dir = await brokenCopy(scratch, "guestbook", "config.yaml");
    assertCleanError(await gitgate(["render", dir]), /config\.yaml:7: /);
  });

  it("fails clearly for a Helm value file that does not exist", async () => {
    assertCleanError(
      await gitgate(["render", "examples/apps/echo-chart", "-f", "values-nope.yaml"]),
      /values-nope\.yaml does not exist/,
    );
  });
});

describe("gitgate diff, check and status against a cluster", () => {
  let env: TestEnv;
  let admin: string;
  let alice: string;
  let repoURL: string;
  let commit: string;

  before(async () => {
    // GitApps here live in "default" and "ops", both the platform's (others would be tenants').
    env = await startEnv({ config: (c) => (c.tenancy = { platformNamespaces: ["default", "ops"] }) });
    admin = env.cp.kubeconfigs.admin ?? "";
    alice = env.cp.kubeconfigs.user ?? "";
    commit = (await env.git.createRepo("deploy", await readTree(EXAMPLES, "apps"))).commit;
    repoURL = env.git.repoURL("deploy");
    await env.admin.apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "ops" } },
      { fieldManager: "test", force: true },
    );
    await env.applyGitApp("guestbook", {
      source: { repoURL, revision: "main", path: "apps/guestbook" },
      destination: { namespace: "guestbook" },
      sync: { interval: "1h", createNamespace: true },
    });
    // selfHeal off: drift stays for diff and status to show.
    await env.applyGitApp("podinfo", {
      source: { repoURL, revision: "main", path: "apps/podinfo/overlays/prod" },
      destination: { namespace: "podinfo" },
      sync: { interval: "1h", createNamespace: true, selfHeal: false },
    });
    await env.applyGitApp(
      "echo",
      {
        source: {
          repoURL,
          revision: "main",
          path: "apps/echo-chart",
          helm: { valueFiles: ["values-prod.yaml"] },
        },
        destination: { namespace: "echo" },
        sync: { interval: "1h", createNamespace: true },
      },
      "ops",
    );
    await Promise.all([
      waitSynced(env, "guestbook", commit, "default", 90_000),
      waitSynced(env, "podinfo", commit, "default", 90_000),
      waitSynced(env, "echo", commit, "ops", 90_000),
    ]);
  });
  after(async () => env?.stop());

  describe("status", () => {
    it("lists the namespace's GitApps as a table with revision, sync, drift and health", async () => {
      const r = await gitgate(["status", "--kubeconfig", admin]);
      assert.equal(r.code, 0, show(r));
      const [header, ...rows] = r.stdout.trimEnd().split("\n");
      assert.deepEqual(header?.split(/\s+/), [
        "NAMESPACE",
        "NAME",
        "REVISION",
        "SYNCED",
        "DRIFTED",
        "HEALTH",
        "MESSAGE",
      ]);
      const cells = rows.map((row) => row.split(/\s{2,}/));
      assert.deepEqual(cells.map((c) => c.slice(0, 3)).sort(), [
        ["default", "guestbook", commit.slice(0, 7)],
        ["default", "podinfo", commit.slice(0, 7)],
      ]);
      for (const c of cells) {
        assert.match(c[3] ?? "", /^True \(\w+\)$/, `${c[1]} synced`);
        assert.equal(c[4], "False", `${c[1]} not drifted`);
        assert.match(c[5] ?? "", /^(Healthy|Progressing)$/, `${c[1]} health`);
      }
    });

    it("-A lists every namespace; -o json gives the rows; an empty namespace says so", async () => {
      const [all, json, empty] = await Promise.all([
        gitgate(["status", "--kubeconfig", admin, "-A"]),
        gitgate(["status", "--kubeconfig", admin, "-n", "ops", "-o", "json"]),
        gitgate(["status", "--kubeconfig", admin, "-n", "kube-public"]),
      ]);
      assert.equal(all.code, 0, show(all));
      assert.deepEqual(
        all.stdout
          .trimEnd()
          .split("\n")
          .slice(1)
          .map((row) => row.split(/\s+/).slice(0, 2).join("/"))
          .sort(),
        ["default/guestbook", "default/podinfo", "ops/echo"],
      );
      assert.equal(json.code, 0, show(json));
      const rows = JSON.parse(json.stdout) as Array<Record<string, string>>;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.namespace, "ops");
      assert.equal(rows[0]?.name, "echo");
      assert.equal(rows[0]?.revision, commit.slice(0, 7));
      assert.match(rows[0]?.synced ?? "", /^True /);
      assert.equal(rows[0]?.drifted, "False");
      assert.equal(empty.code, 0, show(empty));
      assert.equal(empty.stdout, "No GitApps found.\n");
    });

    it("exits 2 with one line naming what failed: a missing kubeconfig, an API server that refuses", async () => {
      const closed = join(scratch, "kubeconfig-closed.yaml");
      await writeFile(
        closed,
        [
          "apiVersion: v1",
          "kind: Config",
          'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
          "users: [{name: u, user: {token: t}}]",
          "contexts: [{name: x, context: {cluster: c, user: u}}]",
          "current-context: x",
        ].join("\n"),
      );
      const [missing, refused] = await Promise.all([
        gitgate(["status", "--kubeconfig", join(scratch, "no-such-kubeconfig.yaml")]),
        gitgate(["status", "--kubeconfig", closed, "-A"]),
      ]);
      assertCleanError(
        missing,
        /^gitgate: cannot read kubeconfig \S+\/no-such-kubeconfig\.yaml: no such file \(ENOENT\)\n$/,
      );
      assertCleanError(
        refused,
        /^gitgate: GET \/apis\/gitgate\.io\/v1alpha1: connect ECONNREFUSED 127\.0\.0\.1:1\n$/,
      );
    });

    it("kubectl get gapp -A shows the CRD's printer columns: Synced, Revision, Drifted and Age", async () => {
      // A discovery cache of its own: ~/.kube/cache may hold another control plane's on this port.
      const cache = ["--cache-dir", join(scratch, "kube-cache")];
      const table = await env.kubectl("admin", [...cache, "get", "gapp", "-A"]);
      const wide = await env.kubectl("admin", [...cache, "get", "gapp", "-n", "ops", "-o", "wide"]);
      assert.equal(table.code, 0, table.stderr);
      const [header, ...rows] = table.stdout.trimEnd().split("\n");
      assert.deepEqual(header?.split(/\s+/), ["NAMESPACE", "NAME", "SYNCED", "REVISION", "DRIFTED", "AGE"]);
      assert.deepEqual(
        rows
          .map((row) => row.split(/\s+/))
          .map(([ns, name, synced, revision, drifted, age]) => ({
            app: `${ns ?? ""}/${name ?? ""}`,
            synced,
            revision,
            drifted,
            age: /^\d+(s|m)/.test(age ?? ""),
          })),
        ["default/guestbook", "default/podinfo", "ops/echo"].map((app) => ({
          app,
          synced: "True",
          revision: commit,
          drifted: "False",
          age: true,
        })),
      );
      // Health is a wide column (priority 1).
      assert.equal(wide.code, 0, wide.stderr);
      const [wideHeader, echo] = wide.stdout.trimEnd().split("\n");
      assert.deepEqual(wideHeader?.split(/\s+/), ["NAME", "SYNCED", "REVISION", "DRIFTED", "HEALTH", "AGE"]);
      assert.match(
        echo ?? "",
        new RegExp(`^echo\\s+True\\s+${commit}\\s+False\\s+(Healthy|Progressing)\\s+\\d+`),
      );
    });
  });

  describe("diff", () => {
    it("exits 0 and says all objects match when the cluster equals Git (directory and GitApp)", async () => {
      const [dir, app, helmApp, helmDir] = await Promise.all([
        gitgate(["diff", "examples/apps/guestbook", "-n", "guestbook", "--kubeconfig", admin]),
        gitgate(["diff", "guestbook", "--kubeconfig", admin]),
        gitgate(["diff", "ops/echo", "--kubeconfig", admin]),
        // The chart directory, rendered as the GitApp `echo` renders it.
        gitgate([
          "diff",
          "examples/apps/echo-chart",
          "-n",
          "echo",
          "--release-name",
          "echo",
          "-f",
          "values-prod.yaml",
          "--kubeconfig",
          admin,
        ]),
      ]);
      for (const r of [dir, app]) {
        assert.equal(r.code, 0, show(r));
        assert.equal(r.stdout, "all 4 objects match Git\n");
      }
      for (const r of [helmApp, helmDir]) {
        assert.equal(r.code, 0, show(r));
        assert.equal(r.stdout, "all 2 objects match Git\n");
      }
    });

    it("exits 1 and lists objects missing from the cluster", async () => {
      const r = await gitgate(["diff", "examples/apps/guestbook", "-n", "elsewhere", "--kubeconfig", admin]);
      assert.equal(r.code, 1, show(r));
      assert.deepEqual(r.stdout.trimEnd().split("\n"), [
        "+ ConfigMap elsewhere/guestbook-config (not in the cluster)",
        "+ ConfigMap elsewhere/guestbook-feature-flags (not in the cluster)",
        "+ Deployment elsewhere/guestbook-ui (not in the cluster)",
        "+ Service elsewhere/guestbook-ui (not in the cluster)",
        "4 of 4 objects differ from Git",
      ]);
    });

    it("exits 1 and shows the drifted field with Git and live values; status shows the drift", async () => {
      const scaled = await env.kubectl("admin", [
        "-n",
        "podinfo",
        "scale",
        "deployment",
        "prod-podinfo",
        "--replicas=5",
      ]);
      assert.equal(scaled.code, 0, scaled.stderr);
      const [app, dir, json] = await Promise.all([
        gitgate(["diff", "default/podinfo", "--kubeconfig", admin]),
        gitgate(["diff", "examples/apps/podinfo/overlays/prod", "-n", "podinfo", "--kubeconfig", admin]),
        gitgate(["diff", "gitapp/podinfo", "-o", "json", "--kubeconfig", admin]),
      ]);
      for (const r of [app, dir]) {
        assert.equal(r.code, 1, show(r));
        assert.deepEqual(r.stdout.trimEnd().split("\n"), [
          "~ Deployment podinfo/prod-podinfo",
          "    spec.replicas: Git 3, live 5",
          "1 of 2 objects differ from Git",
        ]);
      }
      assert.equal(json.code, 1, show(json));
      const diffs = JSON.parse(json.stdout) as Array<{
        object: string;
        state: string;
        changes: Array<{ path: string; gitValue: unknown; liveValue: unknown }>;
      }>;
      assert.deepEqual(
        diffs.map((d) => [d.object, d.state]),
        [
          ["Service podinfo/prod-podinfo", "same"],
          ["Deployment podinfo/prod-podinfo", "differs"],
        ],
      );
      assert.deepEqual(
        diffs[1]?.changes.map((c) => [c.path, c.gitValue, c.liveValue]),
        [["spec.replicas", 3, 5]],
      );

      await waitFor("podinfo Drifted=True", async () => {
        const a = await env.getGitApp("podinfo");
        return condition(a, "Drifted")?.status === "True";
      });
      const status = await gitgate(["status", "--kubeconfig", admin]);
      assert.equal(status.code, 0, show(status));
      const row = status.stdout.split("\n").find((l) => /^default\s+podinfo\s/.test(l)) ?? "";
      assert.match(row, /\sTrue\s+\w+\s+.*Deployment podinfo\/prod-podinfo: spec\.replicas/, status.stdout);
    });

    it("never prints Secret values, from Git or from the cluster", async () => {
      const dir = join(scratch, "secret-app");
      await mkdir(dir);
      await writeFile(
        join(dir, "secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: git-canary-pw\n",
      );
      await env.admin.apply(
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "db", namespace: "default" },
          stringData: { password: "live-canary-pw" },
        },
        { fieldManager: "test", force: true },
      );
      const [text, json] = await Promise.all([
        gitgate(["diff", dir, "--kubeconfig", admin]),
        gitgate(["diff", dir, "-o", "json", "--kubeconfig", admin]),
      ]);
      for (const r of [text, json]) {
        assert.equal(r.code, 1, show(r));
        assert.match(r.stdout, /Secret default\/db/);
        for (const canary of ["git-canary-pw", "live-canary-pw"]) {
          assert.ok(!r.stdout.includes(canary), show(r));
          assert.ok(!r.stdout.includes(Buffer.from(canary).toString("base64")), show(r));
        }
      }
      assert.match(text.stdout, /password/);
    });

    it("fails clearly for a path or GitApp that does not exist, a file, and broken YAML", async () => {
      const broken = await brokenCopy(scratch, "guestbook", "config.yaml");
      const [missingDir, file, missingApp, badYaml] = await Promise.all([
        gitgate(["diff", "examples/apps/no-such-app", "--kubeconfig", admin]),
        gitgate(["diff", "examples/apps/guestbook/service.yaml", "--kubeconfig", admin]),
        gitgate(["diff", "ops/no-such-app", "--kubeconfig", admin]),
        gitgate(["diff", broken, "--kubeconfig", admin]),
      ]);
      assertCleanError(missingDir, /examples\/apps\/no-such-app: no such directory/);
      assertCleanError(file, /examples\/apps\/guestbook\/service\.yaml is not a directory/);
      assertCleanError(
        missingApp,
        /ops\/no-such-app is neither a directory nor a GitApp \(no GitApp no-such-app in namespace ops\)/,
      );
      assertCleanError(badYaml, /config\.yaml:7: /);
    });
  });

  describe("check", () => {
    it("admits the Git value, and exits 1 denying a change away from Git, naming the Git file and commit", async () => {
      const original = await readFile(join(EXAMPLES, "guestbook/deployment.yaml"), "utf8");
      const changed = join(scratch, "scale-guestbook.yaml");
      await writeFile(changed, original.replace("replicas: 1", "replicas: 5"));
      const [same, denied] = await Promise.all([
        gitgate([
          "check",
          "examples/apps/guestbook/deployment.yaml",
          "-n",
          "guestbook",
          "--kubeconfig",
          alice,
        ]),
        gitgate(["check", changed, "-n", "guestbook", "--kubeconfig", alice]),
      ]);
      assert.equal(same.code, 0, show(same));
      assert.equal(same.stdout, "admitted Deployment guestbook/guestbook-ui\n");
      assert.equal(denied.code, 1, show(denied));
      assert.equal(
        denied.stdout,
        `denied   Deployment guestbook/guestbook-ui: Deployment guestbook/guestbook-ui is managed by Git: ` +
          `spec.replicas is 1 in ${repoURL} apps/guestbook/deployment.yaml@${commit.slice(0, 7)}, ` +
          `request has 5. Change it in Git, or use break-glass.\n`,
      );
    });

    it("decides per object for a multi-document manifest; -o json; --as/--as-group with --config exemptions", async () => {
      const manifest = join(scratch, "mixed.yaml");
      await writeFile(
        manifest,
        [
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scratch-notes\ndata:\n  a: b\n",
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: guestbook-config\n  namespace: guestbook\n" +
            "data:\n  TITLE: Hacked\n  MAX_ENTRIES: '100'\n",
        ].join("---\n"),
      );
      const config = join(scratch, "gitgate.yaml");
      await writeFile(config, "enforcement:\n  exemptGroups: [platform-admins]\n");
      const [json, exempt, notExempt] = await Promise.all([
        gitgate(["check", manifest, "-o", "json", "--kubeconfig", alice]),
        gitgate([
          "check",
          manifest,
          "--config",
          config,
          "--as",
          "carol",
          "--as-group",
          "platform-admins",
          "--kubeconfig",
          admin,
        ]),
        gitgate([
          "check",
          manifest,
          "--config",
          config,
          "--as",
          "dave",
          "--as-group",
          "developers",
          "--kubeconfig",
          admin,
        ]),
      ]);
      assert.equal(json.code, 1, show(json));
      const results = JSON.parse(json.stdout) as Array<{
        object: string;
        verdict: string;
        allowed: boolean;
        message?: string;
      }>;
      assert.deepEqual(
        results.map((r) => [r.object, r.verdict, r.allowed]),
        [
          ["ConfigMap default/scratch-notes", "allowed", true],
          ["ConfigMap guestbook/guestbook-config", "denied", false],
        ],
      );
      assert.match(
        results[1]?.message ?? "",
        /data\.TITLE is Guestbook in \S+ apps\/guestbook\/config\.yaml@/,
      );
      assert.equal(exempt.code, 0, show(exempt));
      assert.deepEqual(exempt.stdout.trimEnd().split("\n"), [
        "admitted ConfigMap default/scratch-notes",
        "admitted ConfigMap guestbook/guestbook-config",
      ]);
      assert.equal(notExempt.code, 1, show(notExempt));
      assert.match(notExempt.stdout, /^denied {3}ConfigMap guestbook\/guestbook-config: /m);
    });

    it("judges a partial manifest as an apply: only the fields it names count", async () => {
      const head =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: guestbook-ui\n  namespace: guestbook\nspec:\n";
      const write = async (name: string, spec: string): Promise<string> => {
        const path = join(scratch, name);
        await writeFile(path, head + spec);
        return path;
      };
      const [sameReplicas, otherReplicas, sameImage] = await Promise.all([
        write("partial-replicas-1.yaml", "  replicas: 1\n"),
        write("partial-replicas-6.yaml", "  replicas: 6\n"),
        // One container named, with only its image: merged by name into the live list, as apply does.
        write(
          "partial-image.yaml",
          "  template:\n    spec:\n      containers:\n        - name: guestbook-ui\n" +
            "          image: gcr.io/heptio-images/ks-guestbook-demo:0.2\n",
        ),
      ]);
      const check = (file: string): Promise<CliResult> => gitgate(["check", file, "--kubeconfig", alice]);
      const [admitted, denied, image] = await Promise.all([
        check(sameReplicas),
        check(otherReplicas),
        check(sameImage),
      ]);
      for (const r of [admitted, image]) {
        assert.equal(r.code, 0, show(r));
        assert.equal(r.stdout, "admitted Deployment guestbook/guestbook-ui\n");
      }
      assert.equal(denied.code, 1, show(denied));
      assert.match(
        denied.stdout,
        /is managed by Git: spec\.replicas is 1 in \S+ apps\/guestbook\/deployment\.yaml@[0-9a-f]{7}, request has 6\. Change it in Git/,
      );
    });

    it("fails clearly for a manifest that does not exist or is not valid YAML", async () => {
      const broken = join(scratch, "broken.yaml");
      await writeFile(broken, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n");
      const [missing, bad] = await Promise.all([
        gitgate(["check", join(scratch, "no-such.yaml"), "--kubeconfig", alice]),
        gitgate(["check", broken, "--kubeconfig", alice]),
      ]);
      assertCleanError(missing, /cannot read \S+\/no-such\.yaml: no such file/);
      assertCleanError(bad, /broken\.yaml:\d+: /);
    });
  });
});
