/**
 * `npm start -- --kubeconfig <file>`: the demo against an existing cluster. The cluster is this
 * file's own harness control plane (its in-process gitgate stopped, so the demo is the only gitgate
 * there); the demo process gets that kubeconfig by flag and a KUBECONFIG naming no file, so it can
 * reach no other cluster. It starts no control plane, syncs and guards the demo apps in that
 * cluster, and on SIGTERM unregisters its webhooks and exits 0, leaving the cluster running.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { portOpen, startCli, type CliProcess } from "./harness/cli.js";
import { assertDenied } from "./harness/denied.js";
import { condition, startEnv, waitFor, type TestEnv } from "./harness/env.js";

const WEBHOOKS = "admissionregistration.k8s.io/v1";

/** The command lines of every process below `pid`. */
function descendants(pid: number): string[] {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,args="])
    .toString()
    .split("\n")
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] ?? "" }));
  const below = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of rows)
      if (below.has(r.ppid) && !below.has(r.pid)) {
        below.add(r.pid);
        grew = true;
      }
  }
  return rows.filter((r) => r.pid !== pid && below.has(r.pid)).map((r) => r.args);
}

let env: TestEnv;
let dev: CliProcess;
let cwd: string;
let kubeconfig: string;
let commit: string;

/** The URLs of the demo's validating webhooks, as registered in the cluster. */
async function webhookUrls(): Promise<string[]> {
  const validating = await env.get(
    WEBHOOKS,
    "ValidatingWebhookConfiguration",
    undefined,
    "gitgate-dev-validate",
  );
  return (validating?.webhooks as Array<{ clientConfig: { url?: string } }>).map(
    (w) => w.clientConfig.url ?? "",
  );
}

/** alice scales guestbook-ui away from Git's 1 replica. */
const scaleGuestbook = (): ReturnType<TestEnv["kubectl"]> =>
  env.kubectl("user", ["-n", "guestbook", "scale", "deployment", "guestbook-ui", "--replicas=5"]);

describe("gitgate dev --kubeconfig <file> (an existing cluster)", () => {
  before(async () => {
    env = await startEnv();
    await env.gitgate.stop();
    kubeconfig = env.cp.kubeconfigs.admin ?? "";
    cwd = await mkdtemp(join(tmpdir(), "gitgate-dev-kubeconfig-test-"));
    dev = startCli(["dev", "--kubeconfig", kubeconfig], {
      cwd,
      env: { ...process.env, KUBECONFIG: join(cwd, "no-such-kubeconfig"), NO_COLOR: "1" },
    });
    await dev.waitFor("the tour", () => dev.stdout.includes("Ctrl-C stops everything"), 180_000);
    commit = /demo repo \S+ at ([0-9a-f]{7})/.exec(dev.stderr)?.[1] ?? "no commit printed";
  });

  after(async () => {
    if (dev?.child.exitCode === null) dev.child.kill("SIGKILL");
    await dev?.exited;
    await env?.stop();
    await rm(cwd, { recursive: true, force: true });
  });

  it("starts no control plane: the tour's commands use the given kubeconfig", () => {
    assert.doesNotMatch(dev.stderr, /starting a local control plane/);
    assert.ok(dev.stdout.includes(`export KUBECONFIG=${kubeconfig} `), dev.stdout);
    assert.ok(dev.stdout.includes(`--kubeconfig ${kubeconfig} -n guestbook scale`), dev.stdout);
    const planes = descendants(dev.child.pid ?? 0).filter((a) =>
      /etcd|kube-apiserver|kube-controller-manager/.test(a),
    );
    assert.deepEqual(planes, []);
  });

  it("syncs the three demo apps into that cluster at the demo repo's commit", async () => {
    assert.match(dev.stderr, /all demo apps synced/);
    for (const name of ["guestbook", "podinfo", "echo"]) {
      const app = await env.getGitApp(name, "gitgate-demo");
      assert.equal(condition(app, "Synced")?.status, "True", `${name}: ${JSON.stringify(app?.status)}`);
      assert.ok(app?.status?.revision?.startsWith(commit), `${name} at ${app?.status?.revision}`);
    }
    const replicas = async (namespace: string, name: string): Promise<number | undefined> =>
      ((await env.get("apps/v1", "Deployment", namespace, name))?.spec as { replicas?: number } | undefined)
        ?.replicas;
    assert.equal(await replicas("guestbook", "guestbook-ui"), 1);
    assert.equal(await replicas("podinfo", "prod-podinfo"), 3);
    assert.ok(await env.get("apps/v1", "Deployment", "echo", "echo-echo"));
    assert.ok(await env.get("v1", "ConfigMap", "guestbook", "guestbook-config"));
  });

  it("guards them there: alice's out-of-band scale is denied by the demo's webhook, naming the Git file", async () => {
    const urls = await webhookUrls();
    assert.ok(urls.length > 0);
    for (const url of urls) assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/validate$/);
    const r = await scaleGuestbook();
    assertDenied(
      r,
      "scale.gitgate.io",
      new RegExp(
        `^Deployment guestbook/guestbook-ui is managed by Git: spec\\.replicas is 1 in \\S+ apps/guestbook/deployment\\.yaml@${commit}`,
      ),
    );
    await waitFor("the alert in the terminal", () =>
      dev.stdout.includes("[alert] change-denied Deployment guestbook/guestbook-ui by alice"),
    );
  });

  it("SIGTERM: unregisters its webhooks, closes its ports and exits 0; the cluster keeps running", async () => {
    const webhookUrl = (await webhookUrls())[0];
    const gitUrl = /demo repo (\S+)/.exec(dev.stderr)?.[1];
    const ports = [webhookUrl, gitUrl].map((u) => Number(new URL(u ?? "http://unset").port));
    assert.ok(
      ports.every((p) => p > 0),
      String(ports),
    );
    for (const port of ports) assert.ok(await portOpen(port), `port ${port} open while running`);

    assert.equal(await dev.stop("SIGTERM", 60_000), 0);
    for (const [kind, name] of [
      ["ValidatingWebhookConfiguration", "gitgate-dev-validate"],
      ["MutatingWebhookConfiguration", "gitgate-dev-mutate"],
    ] as const)
      assert.equal(await env.get(WEBHOOKS, kind, undefined, name), undefined, `${kind} ${name} removed`);
    for (const port of ports) assert.equal(await portOpen(port), false, `port ${port} closed`);
    // Nothing is left to fail writes, and the cluster is untouched: the same scale now goes through.
    const r = await scaleGuestbook();
    assert.equal(r.code, 0, r.stderr);
  });
});
