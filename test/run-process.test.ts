/**
 * `gitgate run` as users run it: child processes of the CLI against a real control plane and Git
 * server. /readyz waits for a complete desired-state index; two replicas share one Lease, the
 * follower answers admission from its own index but writes nothing until it takes the Lease over;
 * SIGTERM lets the request in flight finish, hands the Lease over and exits 0.
 */
import { strict as assert } from "node:assert";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ClusterClient } from "../src/cluster/client.js";
import { loadKubeConfig, Transport } from "../src/cluster/transport.js";
import { Informer } from "../src/cluster/watch.js";
import { silentLogger } from "../src/log/logger.js";
import type { KubeObject } from "../src/manifest/object.js";
import type { GitApp } from "../src/api/gitapp.js";
import { admissionReview, call, openRequest } from "../src/testenv/admission-client.js";
import { startControlPlane, type ControlPlane } from "../src/testenv/controlplane.js";
import { examplesDir, readTree } from "../src/testenv/files.js";
import { startGitServer, type GitServer } from "../src/testenv/git-server.js";
import { kubectl } from "../src/testenv/kubectl.js";
import { pinnedTools, type PinnedTools } from "../src/testenv/tools.js";
import { startCli } from "./harness/cli.js";
import { condition, waitFor } from "./harness/env.js";
import { assertDenied } from "./harness/denied.js";
import { heldGit, type HeldGit } from "./harness/held-git.js";

const ROOT = new URL("..", import.meta.url).pathname;
const LEASE = {
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  namespace: "gitgate-system",
  name: "gitgate-leader",
};

interface Replica {
  name: string;
  port: number;
  child: ChildProcess;
  /** Parsed JSON log lines (pino, on stderr). */
  logs: Array<{ msg?: string; [k: string]: unknown }>;
  exited: Promise<number | null>;
}

let cp: ControlPlane;
let git: GitServer;
let tools: PinnedTools;
let admin: ClusterClient;
let scratch: string;
let caPem = "";
const replicas: Replica[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `gitgate run` as a child process, as replica `name` (POD_NAME), serving webhooks on a free port. */
async function startReplica(name: string): Promise<Replica> {
  const port = await freePort();
  const config = join(scratch, `${name}.yaml`);
  await writeFile(
    config,
    JSON.stringify({
      clusterName: "testenv",
      enforcement: {
        exemptGroups: ["system:masters", "platform-admins"],
        breakGlass: { groups: ["sre-oncall"] },
      },
      sync: { minInterval: "1s", cacheDir: join(scratch, `cache-${name}`) },
      render: { helm: tools.helm, kubectl: tools.kubectl },
      // The test's GitApps live in "default", a platform namespace here (others are tenants').
      tenancy: { platformNamespaces: ["default"] },
      // Only kube-apiserver's client certificate counts, as in production (chart/README.md).
      webhook: { clientCA: cp.webhookClient.caPath },
    }),
  );
  const logs: Replica["logs"] = [];
  const cli = startCli(
    [
      "run",
      "--kubeconfig",
      cp.kubeconfigs.gitgate ?? "",
      "--config",
      config,
      "--webhook-address",
      `127.0.0.1:${port}`,
      "--log-level",
      "info",
    ],
    {
      cwd: ROOT,
      env: { ...process.env, POD_NAME: name, NO_COLOR: "1" },
      onStderrLine: (line) => {
        try {
          logs.push(JSON.parse(line) as Replica["logs"][number]);
        } catch {
          logs.push({ msg: line });
        }
      },
    },
  );
  const replica = { name, port, child: cli.child, logs, exited: cli.exited };
  replicas.push(replica);
  await waitFor(
    `${name} serving`,
    () => replica.logs.find((l) => l.msg === "webhook server listening"),
    90_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; logs: ${JSON.stringify(replica.logs)}`);
  });
  return replica;
}

/** GET on a replica's HTTPS server: status and body. */
async function probe(replica: Replica, path: string): Promise<{ status: number; body: string }> {
  const { status, body } = await call(`https://127.0.0.1:${replica.port}${path}`, {
    ca: caPem,
    agent: false,
  });
  return { status, body };
}

async function leaseHolder(): Promise<string | undefined> {
  const lease = await admin.get(LEASE);
  return (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
}

async function getApp(name: string): Promise<GitApp | undefined> {
  return (await admin.get({
    apiVersion: "gitgate.io/v1alpha1",
    kind: "GitApp",
    namespace: "default",
    name,
  })) as GitApp | undefined;
}

const k = (who: string, args: string[], stdin?: string): ReturnType<typeof kubectl> =>
  kubectl(cp.binaries.kubectl, cp.kubeconfigs[who] ?? "", args, stdin);

describe("gitgate run as a process", () => {
  let held: HeldGit;
  let commit: string;
  let a: Replica;
  let b: Replica;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "gitgate-run-test-"));
    [cp, git, tools] = await Promise.all([startControlPlane(), startGitServer(), pinnedTools()]);
    admin = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
    commit = (await git.createRepo("deploy", await readTree(examplesDir(), "apps"))).commit;
    held = await heldGit(git.url, { held: true });
    // The GitApp exists before gitgate starts (CRD applied here), its repository behind the held server.
    const crd = await k("admin", ["apply", "-f", join(ROOT, "chart/crds")]);
    assert.equal(crd.code, 0, crd.stderr);
    await waitFor("GitApp CRD served", async () => (await k("admin", ["get", "gapp", "-A"])).code === 0);
    const app = {
      apiVersion: "gitgate.io/v1alpha1",
      kind: "GitApp",
      metadata: { name: "guestbook", namespace: "default" },
      spec: {
        source: { repoURL: `${held.url}/deploy.git`, revision: "main", path: "apps/guestbook" },
        destination: { namespace: "guestbook" },
        sync: { interval: "1h", createNamespace: true },
      },
    };
    const created = await k("admin", ["apply", "-f", "-"], JSON.stringify(app));
    assert.equal(created.code, 0, created.stderr);
  });

  after(async () => {
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    await Promise.all(replicas.map((r) => r.exited));
    admin?.transport.close();
    await held?.close();
    await Promise.all([cp?.stop(), git?.stop()]);
    await rm(scratch, { recursive: true, force: true });
  });

  it("/readyz answers 503 until the index holds every GitApp, then 200; the process syncs and leads", async () => {
    a = await startReplica("gitgate-a");
    const secret = await admin.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: "gitgate-system",
      name: "gitgate-webhook-tls",
    });
    caPem = Buffer.from(String((secret?.data as Record<string, string>)["ca.crt"]), "base64").toString();
    assert.equal((await probe(a, "/healthz")).status, 200);
    // The positive signal that gitgate is rendering the app: its fetch reached the (held) Git server.
    await waitFor("gitgate-a fetching", () => held.seen() > 0);
    assert.deepEqual(await probe(a, "/readyz"), {
      status: 503,
      body: "not ready: desired-state index incomplete or shutting down",
    });
    held.release();
    await waitFor("gitgate-a ready", async () => (await probe(a, "/readyz")).status === 200, 60_000);
    assert.equal((await probe(a, "/readyz")).body, "ok");
    const app = await waitFor(
      "guestbook synced by the process",
      async () => {
        const got = await getApp("guestbook");
        return condition(got, "Synced")?.status === "True" ? got : undefined;
      },
      60_000,
    );
    assert.equal(app.status?.revision, commit);
    assert.equal(await leaseHolder(), "gitgate-a");
    assert.ok(a.logs.some((l) => l.msg === "became leader" && l.identity === "gitgate-a"));
  });

  it("registers its webhooks at its own address, and they deny an out-of-band change", async () => {
    const validating = await admin.get({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      name: "gitgate-validate",
    });
    const urls = (validating?.webhooks as Array<{ clientConfig: { url?: string } }>).map(
      (w) => w.clientConfig.url,
    );
    assert.ok(urls.length >= 2);
    for (const url of urls) assert.equal(url, `https://127.0.0.1:${a.port}/validate`);
    const r = await k("user", ["-n", "guestbook", "scale", "deployment", "guestbook-ui", "--replicas=5"]);
    assertDenied(
      r,
      "scale.gitgate.io",
      new RegExp(
        `^Deployment guestbook/guestbook-ui is managed by Git: spec\\.replicas is 1 in .*/deploy\\.git apps/guestbook/deployment\\.yaml@${commit.slice(0, 7)}, request has 5\\.`,
      ),
    );
  });

  it("two replicas: the follower answers admission from its own index, writes nothing, and takes over the Lease", async () => {
    b = await startReplica("gitgate-b");
    await waitFor("gitgate-b ready", async () => (await probe(b, "/readyz")).status === 200, 60_000);
    assert.equal(await leaseHolder(), "gitgate-a", "the first replica still leads");
    assert.ok(!b.logs.some((l) => l.msg === "became leader"));
    // The webhooks now point at the follower (the last to register): it denies from its own index.
    const validating = await admin.get({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      name: "gitgate-validate",
    });
    for (const w of validating?.webhooks as Array<{ clientConfig: { url?: string } }>)
      assert.equal(w.clientConfig.url, `https://127.0.0.1:${b.port}/validate`);
    assertDenied(
      await k("user", ["-n", "guestbook", "scale", "deployment", "guestbook-ui", "--replicas=6"]),
      "scale.gitgate.io",
      /^Deployment guestbook\/guestbook-ui is managed by Git: spec\.replicas is 1 in .*, request has 6\./,
    );

    // The leader dies without handing over. An exempt admin changes a managed object: nobody may
    // revert it until the follower holds the Lease. etcd's resourceVersions order the writes.
    const leaseEvents: KubeObject[] = [];
    const informer = new Informer(
      admin,
      { apiVersion: LEASE.apiVersion, kind: LEASE.kind },
      (_t, obj) => leaseEvents.push(obj),
      silentLogger,
    );
    informer.start();
    try {
      await informer.hasSynced();
      a.child.kill("SIGKILL");
      await a.exited;
      const patched = await k("admin", [
        "-n",
        "guestbook",
        "patch",
        "configmap",
        "guestbook-config",
        "--type=merge",
        "-p",
        '{"data":{"TITLE":"hacked"}}',
        "-o",
        "json",
      ]);
      assert.equal(patched.code, 0, patched.stderr);
      const changedAt = Number((JSON.parse(patched.stdout) as KubeObject).metadata.resourceVersion);
      const taken = await waitFor(
        "gitgate-b takes the Lease",
        () =>
          leaseEvents.find(
            (l) =>
              l.metadata.name === LEASE.name &&
              (l.spec as { holderIdentity?: string }).holderIdentity === "gitgate-b",
          ),
        60_000,
      );
      const reverted = await waitFor(
        "the follower-turned-leader reverts the change",
        async () => {
          const cm = await admin.get({
            apiVersion: "v1",
            kind: "ConfigMap",
            namespace: "guestbook",
            name: "guestbook-config",
          });
          return (cm?.data as Record<string, string> | undefined)?.TITLE === "Guestbook" ? cm : undefined;
        },
        60_000,
      );
      const takenAt = Number(taken.metadata.resourceVersion);
      const revertedAt = Number(reverted.metadata.resourceVersion);
      assert.ok(changedAt < takenAt, `change ${changedAt} before the takeover ${takenAt}`);
      assert.ok(takenAt < revertedAt, `revert ${revertedAt} only after the takeover ${takenAt}`);
      assert.ok(b.logs.some((l) => l.msg === "became leader" && l.identity === "gitgate-b"));
    } finally {
      informer.stop();
    }
  });

  it("SIGTERM: the request in flight is answered, the Lease is handed over, and the process exits 0", async () => {
    const review = JSON.stringify(
      admissionReview({
        uid: "in-flight-1",
        userInfo: { username: "alice" },
        object: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "unmanaged", namespace: "default" },
        },
      }),
    );
    const half = Math.floor(review.length / 2);
    // `Expect: 100-continue`: the server's "100 Continue" is the positive signal that it has parsed
    // the request's headers, so the request is in flight before the signal is sent.
    const { req, answer } = openRequest(`https://127.0.0.1:${b.port}/validate`, {
      method: "POST",
      ca: caPem,
      // As kube-apiserver (the replicas run with webhook.clientCA).
      cert: cp.webhookClient.cert,
      key: cp.webhookClient.key,
      agent: false,
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(review),
        expect: "100-continue",
      },
    });
    const continued = new Promise<void>((resolve) => req.once("continue", () => resolve()));
    req.flushHeaders();
    await continued;
    req.write(review.slice(0, half));
    b.child.kill("SIGTERM");
    await waitFor("gitgate-b shutting down", () =>
      b.logs.find(
        (l) =>
          l.msg === "shutting down: readiness off, finishing in-flight requests" && l.signal === "SIGTERM",
      ),
    );
    req.end(review.slice(half));
    const res = await answer;
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "in-flight-1", allowed: true },
    });
    const code = await Promise.race([
      b.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve("still running after 30 s"), 30_000).unref()),
    ]);
    assert.equal(code, 0);
    // Handed over at once: no holder, a 1 s lease, so the next replica need not wait out 15 s.
    const lease = await admin.get(LEASE);
    assert.deepEqual(
      {
        holder: (lease?.spec as { holderIdentity?: string }).holderIdentity,
        seconds: (lease?.spec as { leaseDurationSeconds?: number }).leaseDurationSeconds,
      },
      { holder: "", seconds: 1 },
    );
  });
});
