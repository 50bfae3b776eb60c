/**
 * `npm start -- --with-node` (`gitgate dev --with-node`, issue #14): the demo with a real node, so
 * the tour's apps run — on stand-in images (src/testenv/standins.ts) under the names the manifests
 * use, since nothing can be pulled here. The Deployments become Available, the GitApps Healthy, the
 * stand-ins answer as the manifests expect, and Ctrl-C stops gitgate, node and control plane within
 * the budget, leaving nothing behind (nodeLeftovers). Starts a node: the machine's node lock
 * (src/testenv/node-lock.ts) keeps it from running at once with test/in-cluster.test.ts.
 */
import { strict as assert } from "node:assert";
import { access, mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { NODE_STOP_BUDGET_MS } from "../src/cli/cmd-dev.js";
import { normalizedReference } from "../src/testenv/image.js";
import { kubectl } from "../src/testenv/kubectl.js";
import { nodeLeftovers } from "../src/testenv/node.js";
import { STAND_INS } from "../src/testenv/standins.js";
import { startCli, type CliProcess } from "./harness/cli.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** GET http://ip:port/path from the host (pods' addresses are reachable from it), bounded. */
function httpGet(ip: string, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ip, port, path, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${ip}:${port}${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

describe("npm start -- --with-node: the tour's apps run, on stand-in images", { timeout: 480_000 }, () => {
  let dev: CliProcess | undefined;
  let cwd = "";
  after(async () => {
    if (dev?.child.exitCode === null) {
      dev.interrupt();
      await Promise.race([dev.exited, new Promise((r) => setTimeout(r, NODE_STOP_BUDGET_MS).unref())]);
      if (dev.child.exitCode === null) dev.child.kill("SIGKILL");
    }
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it("the Deployments become Available and the GitApps Healthy; Ctrl-C stops gitgate, node and control plane, leaving nothing", async () => {
    cwd = await mkdtemp(join(tmpdir(), "gitgate-dev-node-"));
    const startedAt = Date.now();
    const cli = startCli(["dev", "--with-node"], { cwd, processGroup: true });
    dev = cli;
    await cli.waitFor(
      "the demo apps Healthy and the tour",
      () => /all demo apps Healthy/.test(cli.stderr) && cli.stdout.includes("Ctrl-C stops everything"),
      360_000,
    );
    const upSeconds = (Date.now() - startedAt) / 1000;
    // Said plainly: the images are stand-ins, under the names the manifests use.
    assert.match(cli.stderr, /STAND-INS/);
    for (const s of STAND_INS)
      assert.ok(cli.stderr.includes(`stand-in: ${normalizedReference(s.image)}`), s.image);
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(cli.stdout)?.[1] ?? "";
    const kubectlBin = /^\s+(\S+) --kubeconfig /m.exec(cli.stdout)?.[1] ?? "";
    const kc = (args: string[]): Promise<Run> => kubectl(kubectlBin, kubeconfig, args);
    interface Deployments {
      items: Array<{
        metadata: { namespace: string; name: string };
        spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } };
        status: { availableReplicas?: number };
      }>;
    }
    const listed = await kc(["get", "deployments", "-A", "-o", "json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const deployments = (JSON.parse(listed.stdout) as Deployments).items;
    assert.deepEqual(deployments.map((d) => `${d.metadata.namespace}/${d.metadata.name}`).sort(), [
      "echo/echo-echo",
      "guestbook/guestbook-ui",
      "podinfo/prod-podinfo",
    ]);
    for (const d of deployments) {
      assert.equal(d.status.availableReplicas, d.spec.replicas, `${d.metadata.name} Available`);
      // The manifests' own image names: nothing was rewritten.
      const image = d.spec.template.spec.containers[0]?.image ?? "";
      assert.ok(
        STAND_INS.some((s) => s.image === image),
        image,
      );
    }
    // The stand-ins answer as the manifests expect (podinfo's probe path, http-echo's -text).
    const podIP = async (ns: string): Promise<string> => {
      const r = await kc(["-n", ns, "get", "pods", "-o", "jsonpath={.items[0].status.podIP}"]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(await httpGet(await podIP("podinfo"), 9898, "/readyz"), "ok\n");
    assert.equal(await httpGet(await podIP("echo"), 5678, "/"), "hello from production\n");
    assert.match(await httpGet(await podIP("guestbook"), 80, "/"), /stand-in for guestbook/);

    const interrupted = Date.now();
    cli.interrupt();
    const code = await Promise.race([
      cli.exited,
      new Promise<string>((r) => setTimeout(() => r("still running"), NODE_STOP_BUDGET_MS + 10_000).unref()),
    ]);
    const stopSeconds = (Date.now() - interrupted) / 1000;
    console.log(
      `dev --with-node: start to all demo apps Healthy ${upSeconds.toFixed(1)} s, Ctrl-C to exit ${stopSeconds.toFixed(1)} s`,
    );
    assert.equal(code, 0, cli.stderr.slice(-2000));
    assert.deepEqual(await nodeLeftovers(), [], "dev --with-node left host state behind");
    const planeDir = dirname(kubeconfig);
    await assert.rejects(access(planeDir), "the control plane's data is removed");
  });
});
