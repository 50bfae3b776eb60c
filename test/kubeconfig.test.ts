/**
 * gitgate's own kubeconfig loader against a real kube-apiserver (token, token file, client
 * certificate, in-cluster, KUBECONFIG merge, exec plugin), and `gitgate run` becoming ready without
 * ever loading @kubernetes/client-node: a module-resolution trace of the process says so. Only an
 * exec user's process loads it.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ClusterClient } from "../src/cluster/client.js";
import { discoverIdentity } from "../src/cluster/identity.js";
import { loadKubeConfig, Transport } from "../src/cluster/transport.js";
import { call } from "../src/testenv/admission-client.js";
import { createClientCA, createClientCert } from "../src/testenv/client-certs.js";
import {
  DEFAULT_IDENTITIES,
  GITGATE_SA_USERNAME,
  startControlPlane,
  type ControlPlane,
} from "../src/testenv/controlplane.js";
import { pinnedTools, type PinnedTools } from "../src/testenv/tools.js";
import { startCli, type CliProcess } from "./harness/cli.js";
import { waitFor } from "./harness/env.js";
import { CLIENT_NODE, loadedModules, traceArgs } from "./harness/module-trace.js";

const ROOT = new URL("..", import.meta.url).pathname;
const TSX = import.meta.resolve("tsx");

let cp: ControlPlane;
let tools: PinnedTools;
let scratch: string;
const clients: ClusterClient[] = [];
const children: CliProcess[] = [];

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "testenv",
        cluster: {
          server: cp.server,
          "certificate-authority-data": Buffer.from(cp.caPem).toString("base64"),
          ...cluster,
        },
      },
    ],
    users: [{ name: "me", user }],
    contexts: [{ name: "testenv", context: { cluster: "testenv", user: "me" } }],
    "current-context": "testenv",
  });
}

async function file(name: string, content: string, mode = 0o600): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, content, { mode });
  return path;
}

function client(transport: Transport): ClusterClient {
  const c = new ClusterClient(transport);
  clients.push(c);
  return c;
}

/**
 * Who the API server takes the transport's credentials for. kube-apiserver 1.20 has no
 * SelfSubjectReview; a read the unprivileged users dora and erin may not do names them in its 403.
 */
async function whoAmI(c: ClusterClient): Promise<{ status: number; username?: string }> {
  const res = await c.raw({ method: "GET", path: "/api/v1/namespaces/kube-system/secrets/absent" });
  const message = (res.body as { message?: string } | undefined)?.message ?? "";
  const name = res.status === 403 ? /User "([^"]{1,253})" cannot/.exec(message)?.[1] : undefined;
  return { status: res.status, ...(name ? { username: name } : {}) };
}

/** In a child process (module trace on): the identity a kubeconfig gives, and whether client-node loaded. */
async function probeInChild(
  kubeconfigPath: string,
  name: string,
): Promise<{ username: string; clientNode: boolean }> {
  const script = await file(
    // .mts: an ES module wherever it lies (top-level await).
    `${name}.mts`,
    [
      `import { ClusterClient } from ${JSON.stringify(join(ROOT, "src/cluster/client.ts"))};`,
      `import { discoverIdentity } from ${JSON.stringify(join(ROOT, "src/cluster/identity.ts"))};`,
      `import { loadKubeConfig, Transport } from ${JSON.stringify(join(ROOT, "src/cluster/transport.ts"))};`,
      "const c = new ClusterClient(new Transport(loadKubeConfig({ kubeconfig: process.argv[2] })));",
      "const id = await discoverIdentity(c);",
      "c.transport.close();",
      "console.log(JSON.stringify(id));",
    ].join("\n"),
  );
  const trace = join(scratch, `${name}.trace`);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", TSX, ...traceArgs(trace), script, kubeconfigPath],
      { timeout: 120_000, cwd: ROOT },
      (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
    );
  });
  const modules = await loadedModules(trace);
  // The trace works: it saw the module the script imported.
  assert.ok(
    modules.some((m) => m.endsWith("/src/cluster/transport.ts")),
    "trace saw transport.ts",
  );
  return {
    username: (JSON.parse(stdout) as { username: string }).username,
    clientNode: modules.some((m) => m.includes(CLIENT_NODE)),
  };
}

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

describe("gitgate's kubeconfig loader against a real API server", () => {
  let certUser: { cert: string; key: string };

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "gitgate-kubeconfig-test-"));
    const clientCa = createClientCA("kubeconfig-test-client-ca");
    certUser = createClientCert(clientCa, "cert-user");
    const caPath = await file("client-ca.crt", clientCa.cert);
    [cp, tools] = await Promise.all([
      startControlPlane({
        apiserverArgs: [`--client-ca-file=${caPath}`],
        controllerManager: false,
        identities: [
          ...DEFAULT_IDENTITIES,
          { id: "dora", username: "dora", groups: [] },
          { id: "erin", username: "erin", groups: [] },
        ],
      }),
      pinnedTools(),
    ]);
  });

  after(async () => {
    await Promise.all(children.map((c) => c.stop("SIGKILL", 10_000)));
    for (const c of clients) c.transport.close();
    await cp?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it("a token kubeconfig: gitgate's identity; the process never loads client-node", async () => {
    const got = await probeInChild(cp.kubeconfigs.user ?? "", "token");
    assert.deepEqual(got, { username: "alice", clientNode: false });
  });

  it("an exec plugin user: its token is used, through client-node loaded for it alone", async () => {
    const credential = {
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: cp.tokens.oncall },
    };
    const plugin = await file("plugin.sh", `#!/bin/sh\necho '${JSON.stringify(credential)}'\n`, 0o700);
    const path = await file(
      "exec.yaml",
      kubeconfig({ exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin } }),
    );
    assert.deepEqual(await probeInChild(path, "exec"), { username: "bob", clientNode: true });
  });

  it("a client certificate from files named relative to the kubeconfig", async () => {
    await mkdir(join(scratch, "certs"), { recursive: true });
    await file("certs/u.crt", certUser.cert);
    await file("certs/u.key", certUser.key);
    const path = await file(
      "cert.yaml",
      kubeconfig({ "client-certificate": "certs/u.crt", "client-key": "certs/u.key" }),
    );
    const c = client(new Transport(loadKubeConfig({ kubeconfig: path })));
    // kube-apiserver 1.20 has no SelfSubjectReview: gitgate's name comes from the certificate it presents.
    const id = await discoverIdentity(c);
    assert.deepEqual([id.username, id.via], ["cert-user", "ClientCertificate"]);
    // And the API server took the certificate: an unprivileged user's read is refused by name.
    assert.deepEqual(await whoAmI(c), { status: 403, username: "cert-user" });
    const cert = new X509Certificate((await c.transport.kubeConfig.clientCertificate()) ?? "");
    assert.match(cert.subject, /CN=cert-user/);
  });

  it("a token file is read again after a 401 and once its time is up (rotation)", async () => {
    const tokenFile = await file("token", "not-a-valid-token\n");
    const path = await file("tokenfile.yaml", kubeconfig({ tokenFile: "token" }));
    const c = client(new Transport(loadKubeConfig({ kubeconfig: path }), { credentialsTtlMs: 3_000 }));
    assert.equal((await whoAmI(c)).status, 401);
    await writeFile(tokenFile, `${cp.tokens.dora}\n`);
    // The 401 dropped the cached credentials: the next request reads the file again.
    assert.deepEqual(await whoAmI(c), { status: 403, username: "dora" });
    await writeFile(tokenFile, cp.tokens.erin ?? "");
    // Within the time, the credentials read are kept; after it, the rotated token is used.
    assert.equal((await whoAmI(c)).username, "dora");
    await waitFor("rotated token used", async () => (await whoAmI(c)).username === "erin", 30_000);
  });

  it("in-cluster: the Service address from the environment, the mounted CA and token", async () => {
    const sa = join(scratch, "serviceaccount");
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, "ca.crt"), cp.caPem);
    await writeFile(join(sa, "token"), cp.tokens.gitgate ?? "");
    const url = new URL(cp.server);
    const env = { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port };
    const c = client(new Transport(loadKubeConfig({ inCluster: true, env, serviceAccountDir: sa })));
    assert.equal((await discoverIdentity(c)).username, GITGATE_SA_USERNAME);
  });

  it("KUBECONFIG: the first file's context and user win", async () => {
    const first = await file("first.yaml", kubeconfig({ token: cp.tokens.dora }));
    const second = JSON.parse(kubeconfig({ token: cp.tokens.erin })) as Record<string, unknown>;
    second["current-context"] = "other";
    second.contexts = [
      { name: "testenv", context: { cluster: "testenv", user: "me" } },
      { name: "other", context: { cluster: "testenv", user: "me" } },
    ];
    const secondPath = await file("second.yaml", JSON.stringify(second));
    const kc = loadKubeConfig({ env: { KUBECONFIG: `${first}:${join(scratch, "absent")}:${secondPath}` } });
    assert.equal(kc.resolved.context, "testenv");
    assert.equal((await whoAmI(client(new Transport(kc)))).username, "dora");
  });

  it("a malformed kubeconfig: `gitgate run` exits naming the fault, never the token", async () => {
    const secret = "s3cr3t-never-printed";
    const path = await file("bad.yaml", kubeconfig({ token: secret, username: "bob" }));
    const cli = startCli(["run", "--kubeconfig", path], { cwd: scratch });
    children.push(cli);
    const code = await Promise.race([
      cli.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 120_000).unref()),
    ]);
    assert.equal(code, 2, cli.stderr);
    assert.match(
      cli.stderr,
      /kubeconfig .*bad\.yaml: user "me": both a token and a username\/password are set/,
    );
    assert.doesNotMatch(cli.stderr + cli.stdout, new RegExp(secret));
  });

  it("`gitgate run` becomes ready without loading client-node", async () => {
    const port = await freePort();
    const config = await file(
      "gitgate.json",
      JSON.stringify({
        clusterName: "testenv",
        sync: { minInterval: "1s", cacheDir: join(scratch, "cache") },
        render: { helm: tools.helm, kubectl: tools.kubectl },
        webhook: { clientCA: cp.webhookClient.caPath },
      }),
    );
    const trace = join(scratch, "run.trace");
    const started = Date.now();
    const cli = startCli(
      [
        "run",
        "--kubeconfig",
        cp.kubeconfigs.gitgate ?? "",
        "--config",
        config,
        "--webhook-address",
        `127.0.0.1:${port}`,
      ],
      { cwd: scratch, env: { ...process.env, NO_COLOR: "1" }, nodeArgs: traceArgs(trace) },
    );
    children.push(cli);
    const admin = client(new Transport(loadKubeConfig({ kubeconfig: cp.kubeconfigs.admin })));
    const ca = await cli.waitFor(
      "webhook TLS Secret",
      async () => {
        const secret = await admin.get({
          apiVersion: "v1",
          kind: "Secret",
          namespace: "gitgate-system",
          name: "gitgate-webhook-tls",
        });
        const data = secret?.data as Record<string, string> | undefined;
        return data?.["ca.crt"] ? Buffer.from(data["ca.crt"], "base64").toString() : undefined;
      },
      120_000,
    );
    await cli.waitFor(
      "/readyz 200",
      async () =>
        (await call(`https://127.0.0.1:${port}/readyz`, { ca, agent: false }).catch(() => undefined))
          ?.status === 200,
      120_000,
    );
    console.log(`# gitgate run: start to /readyz 200 in ${Date.now() - started} ms`);
    const modules = await loadedModules(trace);
    assert.ok(
      modules.some((m) => m.endsWith("/src/runtime/runtime.ts")),
      "the trace saw the runtime",
    );
    assert.deepEqual(
      modules.filter((m) => m.includes(CLIENT_NODE)),
      [],
    );
    // Its exit code is run-process.test.ts's business (/readyz may answer before the signal handlers exist).
    await cli.stop("SIGKILL");
  });
});
