/**
 * `gitgate dev` as a newcomer runs it: it starts, syncs the demo apps, the printed commands do what
 * the tour says, and Ctrl-C (SIGINT) leaves no process or port behind.
 */
import { strict as assert } from "node:assert";
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { portOpen, startCli, type CliProcess } from "./harness/cli.js";
import { waitFor } from "./harness/env.js";

let dev: CliProcess;
let cwd: string;

function sh(command: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("bash", ["-c", command], { cwd, timeout: 60_000 }, (err, out, errOut) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: out + errOut }),
    );
  });
}

/** The command printed under the tour heading that starts with `prefix`, continuation lines joined. */
function tourCommand(heading: string): string {
  const lines = dev.stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith(heading));
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.trim()) break;
    out.push(line.trim().replace(/\\$/, ""));
  }
  return out.join(" ");
}

describe("gitgate dev", () => {
  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), "gitgate-dev-test-"));
    dev = startCli(["dev"], { cwd });
    await dev.waitFor("the tour", () => dev.stdout.includes("Ctrl-C stops everything"), 180_000);
  });
  after(async () => {
    if (dev?.child.exitCode === null) dev.child.kill("SIGKILL");
    await rm(cwd, { recursive: true, force: true });
  });

  it("syncs the demo apps and prints a kubeconfig", () => {
    assert.match(dev.stderr, /all demo apps synced/);
    assert.match(dev.stdout, /export KUBECONFIG=\S+kubeconfig-user\.yaml/);
  });

  it("the printed out-of-band edit is denied, naming the Git file", async () => {
    const r = await sh(tourCommand("1."));
    assert.notEqual(r.code, 0);
    assert.match(
      r.out,
      /admission webhook "scale\.gitgate\.io" denied the request: Deployment guestbook\/guestbook-ui is managed by Git: spec\.replicas is 1 in \S+ apps\/guestbook\/deployment\.yaml@[0-9a-f]{7}/,
    );
    await waitFor("the alert in the terminal", () =>
      dev.stdout.includes("[alert] change-denied Deployment guestbook/guestbook-ui by alice"),
    );
  });

  it("the printed undeclared change is denied, naming the field and the Git file", async () => {
    const r = await sh(tourCommand("2."));
    assert.notEqual(r.code, 0);
    assert.match(
      r.out,
      /admission webhook "validate\.gitgate\.io" denied the request: Deployment guestbook\/guestbook-ui is managed by Git: spec\.template\.spec\.containers\[name=debug\] is not in Git at \S+ apps\/guestbook\/deployment\.yaml@[0-9a-f]{7}/,
    );
  });

  it("the printed commit is synced", async () => {
    const kubectlBin = tourCommand("1.").split(" ")[0] ?? "kubectl";
    const block = tourCommand("3.");
    const push = block.slice(0, block.indexOf(` ${kubectlBin} `)); // clone, edit, commit, push; not the -w watch
    assert.match(push, /^git clone .* && git .* commit .* && git push/);
    const r = await sh(push);
    assert.equal(r.code, 0, r.out);
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(dev.stdout)?.[1] ?? "";
    const get = `${kubectlBin} --kubeconfig ${kubeconfig} -n guestbook get deployment guestbook-ui -o jsonpath={.spec.replicas}`;
    await waitFor("2 replicas", async () => (await sh(get)).out.trim() === "2", 30_000);
  });

  it("the printed warn-mode edit is admitted with a warning", async () => {
    const r = await sh(tourCommand("4."));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Warning: Deployment echo\/echo-echo is managed by Git/);
  });

  it("prints the dashboard URL and a one-time login link as alice", async () => {
    const url = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)/.exec(dev.stdout)?.[1];
    const link = /as alice, once, within 10 minutes: (\S+)/.exec(dev.stdout)?.[1];
    assert.ok(url && link?.startsWith(`${url}/login/once?code=`), dev.stdout);
    assert.equal((await fetch(`${url}/api/apps`)).status, 401);
    const login = await fetch(link ?? "", { redirect: "manual" });
    assert.equal(login.status, 303);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const apps = (await (await fetch(`${url}/api/apps`, { headers: { cookie } })).json()) as Array<{
      name: string;
    }>;
    assert.deepEqual(apps.map((a) => a.name).sort(), ["echo", "guestbook", "podinfo"]);
  });

  it("Ctrl-C stops everything and leaves no process or port behind", async () => {
    const ports = [...dev.stdout.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(ports.length > 0);
    assert.equal(await dev.stop("SIGINT", 60_000), 0);
    const planeDir = dirname(/export KUBECONFIG=(\S+)/.exec(dev.stdout)?.[1] ?? "/nonexistent/x");
    const left = execFileSync("ps", ["-eo", "args"])
      .toString()
      .split("\n")
      .filter((l) => l.includes(planeDir));
    assert.deepEqual(left, [], "no etcd, kube-apiserver or controller-manager of the demo remains");
    assert.equal(existsSync(planeDir), false, "the control plane's data is removed");
    for (const port of ports) assert.equal(await portOpen(port), false, `port ${port} closed`);
  });
});
