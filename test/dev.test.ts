/**
 * `gitgate dev` as a newcomer runs it: it starts, syncs the demo apps, the printed commands do what
 * the tour says, and Ctrl-C (SIGINT to the process group, as a terminal sends it) under admission
 * load stops everything within STOP_BUDGET_MS, without a page of connection errors, and leaves no
 * process or port behind.
 */
import { strict as assert } from "node:assert";
import { execFile, execFileSync } from "node:child_process";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { request } from "node:https";
import { load as parseYaml } from "js-yaml";
import { tmpdir } from "node:os";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { portOpen, startCli, type CliProcess } from "./harness/cli.js";
import { waitFor } from "./harness/env.js";
import { STOP_BUDGET_MS } from "../src/cli/cmd-dev.js";

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
    dev = startCli(["dev"], { cwd, processGroup: true });
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

  it("Ctrl-C under admission load stops everything within the budget, quietly, leaving nothing behind", async () => {
    const ports = [...dev.stdout.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(ports.length > 0);
    const load = admissionLoad(/export KUBECONFIG=(\S+)/.exec(dev.stdout)?.[1] ?? "", 50);
    await new Promise((r) => setTimeout(r, 10_000));
    const beforeStop = load.counts();
    const stderrBefore = dev.stderr.length;
    const interrupted = Date.now();
    dev.interrupt();
    const code = await Promise.race([
      dev.exited,
      new Promise<string>((r) => setTimeout(() => r("still running after 60 s"), 60_000).unref()),
    ]);
    const seconds = (Date.now() - interrupted) / 1000;
    await load.stop();
    const output = dev.stderr.slice(stderrBefore);
    console.log(
      `dev stop under load: ${seconds.toFixed(1)} s; before Ctrl-C ${beforeStop.denied} denied, ` +
        `${beforeStop.other} other answers; stop output ${output.split("\n").length} lines`,
    );
    assert.ok(beforeStop.denied > 0, "the load reached gitgate");
    assert.equal(code, 0, output);
    assert.ok(seconds < STOP_BUDGET_MS / 1000 + 1, `stopped in ${seconds} s`);
    assert.doesNotMatch(output, /ECONNREFUSED/, "gitgate talked to a stopped control plane");
    assert.ok(output.split("\n").length < 10, `a few lines on the way out:\n${output}`);
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

/**
 * Developers' scale requests (alice's token from the printed kubeconfig), `concurrency` at a time
 * straight to kube-apiserver, each of which gitgate denies; bounded by stop() and 5000 requests.
 */
function admissionLoad(
  kubeconfig: string,
  concurrency: number,
): {
  counts: () => { denied: number; other: number };
  stop: () => Promise<void>;
} {
  const tally = { denied: 0, other: 0 };
  let running = true;
  const once = (server: URL, ca: string, token: string): Promise<void> =>
    new Promise((resolve) => {
      const body = JSON.stringify({ spec: { replicas: 7 } });
      const req = request(
        new URL("/apis/apps/v1/namespaces/guestbook/deployments/guestbook-ui/scale", server),
        {
          method: "PATCH",
          ca,
          timeout: 10_000,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/merge-patch+json",
          },
        },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => {
            if (res.statusCode === 403 && text.includes("scale.gitgate.io")) tally.denied++;
            else tally.other++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        tally.other++;
        resolve();
      });
      req.end(body);
    });
  const loops = (async () => {
    const config = parseYaml(await readFile(kubeconfig, "utf8")) as {
      clusters: Array<{ cluster: { server: string; "certificate-authority-data": string } }>;
      users: Array<{ user: { token: string } }>;
    };
    const cluster = config.clusters[0]?.cluster;
    const server = new URL(cluster?.server ?? "");
    const ca = Buffer.from(cluster?.["certificate-authority-data"] ?? "", "base64").toString();
    const token = config.users[0]?.user.token ?? "";
    let sent = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (running && sent++ < 5000) await once(server, ca, token);
      }),
    );
  })();
  return {
    counts: () => ({ ...tally }),
    stop: async () => {
      running = false;
      await loops;
    },
  };
}
