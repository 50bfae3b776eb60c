import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeEnvironment } from "../config/kube-env.js";
import { GitgateError } from "../errors.js";
import {
  inClusterConfig,
  mergeKubeConfigs,
  parseKubeConfig,
  selectKubeConfig,
  type KubeConfigDoc,
  type ResolvedKubeConfig,
} from "./kubeconfig.js";
import { defaultKubeconfigFiles, KubeConfig, loadKubeConfig } from "./kubeconfig-load.js";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const SECRET = "s3cr3t-t0ken-value";

interface Config {
  clusters?: unknown;
  users?: unknown;
  contexts?: unknown;
  "current-context"?: unknown;
}

function config(
  cluster: Record<string, unknown>,
  user?: Record<string, unknown>,
  extra: Config = {},
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster }],
    users: user ? [{ name: "u", user }] : [],
    contexts: [{ name: "x", context: { cluster: "c", ...(user ? { user: "u" } : {}), namespace: "ns" } }],
    "current-context": "x",
    ...extra,
  });
}

const server = { server: "https://10.0.0.1:6443/" };

function resolve(text: string, context?: string): ResolvedKubeConfig {
  return selectKubeConfig(parseKubeConfig(text, "/k/config", "/k"), "/k/config", context);
}

describe("selectKubeConfig", () => {
  const cases: Array<{
    what: string;
    text: string;
    context?: string;
    want?: Partial<ResolvedKubeConfig>;
    error?: RegExp;
  }> = [
    {
      what: "token user, CA data decoded, trailing slash dropped",
      text: config({ ...server, "certificate-authority-data": b64(CA) }, { token: SECRET }),
      want: {
        context: "x",
        namespace: "ns",
        cluster: { server: "https://10.0.0.1:6443", caData: CA, insecureSkipTLSVerify: false },
        user: { token: SECRET },
      },
    },
    {
      what: "relative file paths resolve against the kubeconfig's directory",
      text: config(
        { ...server, "certificate-authority": "ca.crt", "tls-server-name": "api.example" },
        { "client-certificate": "certs/u.crt", "client-key": "/abs/u.key" },
      ),
      want: {
        cluster: {
          server: "https://10.0.0.1:6443",
          caFile: "/k/ca.crt",
          insecureSkipTLSVerify: false,
          tlsServerName: "api.example",
        },
        user: { certFile: "/k/certs/u.crt", keyFile: "/abs/u.key" },
      },
    },
    {
      what: "tokenFile (and client-node's token-file), inline token wins",
      text: config(server, { tokenFile: "tok" }),
      want: { user: { tokenFile: "/k/tok" } },
    },
    { what: "token-file", text: config(server, { "token-file": "/t" }), want: { user: { tokenFile: "/t" } } },
    {
      what: "token wins over tokenFile",
      text: config(server, { token: SECRET, tokenFile: "/t" }),
      want: { user: { token: SECRET } },
    },
    {
      what: "basic auth and impersonation",
      text: config(server, { username: "bob", password: SECRET, as: "alice", "as-groups": ["g1", "g2"] }),
      want: {
        user: { username: "bob", password: SECRET, impersonate: "alice", impersonateGroups: ["g1", "g2"] },
      },
    },
    {
      what: "exec user kept as written",
      text: config(server, { exec: { command: "aws", args: ["eks", "get-token"] } }),
      want: { user: { exec: { command: "aws", args: ["eks", "get-token"] } } },
    },
    {
      what: "insecure-skip-tls-verify",
      text: config({ ...server, "insecure-skip-tls-verify": true }),
      want: { user: {}, cluster: { server: "https://10.0.0.1:6443", insecureSkipTLSVerify: true } },
    },
    {
      what: "another context by name",
      text: config(
        server,
        { token: "t" },
        {
          contexts: [
            { name: "x", context: { cluster: "missing" } },
            { name: "y", context: { cluster: "c", user: "u" } },
          ],
        },
      ),
      context: "y",
      want: { context: "y", clusterName: "c", userName: "u" },
    },
    { what: "not YAML", text: "clusters: [", error: /\/k\/config: not valid YAML/ },
    { what: "not a mapping", text: "- a", error: /not a mapping/ },
    {
      what: "no current-context",
      text: config(server, undefined, { "current-context": "" }),
      error: /current-context is not set/,
    },
    {
      what: "current-context names nothing",
      text: config(server, undefined, { "current-context": "z" }),
      error: /context "z" does not exist/,
    },
    {
      what: "context names a missing cluster",
      text: config(server, undefined, { contexts: [{ name: "x", context: { cluster: "nope" } }] }),
      error: /cluster "nope" does not exist/,
    },
    {
      what: "context names a missing user",
      text: config(server, undefined, {
        contexts: [{ name: "x", context: { cluster: "c", user: "nobody" } }],
      }),
      error: /user "nobody" does not exist/,
    },
    {
      what: "clusters not a list",
      text: config(server, undefined, { clusters: { c: 1 } }),
      error: /clusters is not a list/,
    },
    {
      what: "entry without a name",
      text: config(server, undefined, { clusters: [{ cluster: server }] }),
      error: /clusters\[0\] has no name/,
    },
    { what: "no server", text: config({}), error: /cluster "c": server is not set/ },
    { what: "server not a string", text: config({ server: 5 }), error: /server is not a string/ },
    { what: "server not a URL", text: config({ server: "::" }), error: /server is not a URL/ },
    {
      what: "server too long",
      text: config({ server: `https://h/${"/".repeat(5000)}x` }),
      error: /longer than 2048/,
    },
    { what: "http server", text: config({ server: "http://10.0.0.1:8080" }), error: /must be https/ },
    {
      what: "credentials in the URL",
      text: config({ server: `https://u:${SECRET}@h` }),
      error: /must not carry credentials/,
    },
    {
      what: "proxy-url",
      text: config({ ...server, "proxy-url": "http://p" }),
      error: /proxy-url is not supported/,
    },
    {
      what: "CA data and file",
      text: config({ ...server, "certificate-authority": "a", "certificate-authority-data": b64(CA) }),
      error: /both certificate-authority and certificate-authority-data/,
    },
    {
      what: "skip verify with a CA",
      text: config({ ...server, "insecure-skip-tls-verify": true, "certificate-authority-data": b64(CA) }),
      error: /insecure-skip-tls-verify with a certificate-authority/,
    },
    {
      what: "skip verify not boolean",
      text: config({ ...server, "insecure-skip-tls-verify": "yes" }),
      error: /not a boolean/,
    },
    {
      what: "CA data not base64",
      text: config({ ...server, "certificate-authority-data": "!!" }),
      error: /certificate-authority-data is not base64/,
    },
    {
      what: "token with a newline",
      text: config(server, { token: `${SECRET}\nX-Evil: 1` }),
      error: /token has characters/,
    },
    {
      what: "token not a string",
      text: config(server, { token: 42 }),
      error: /user "u": token is not a string/,
    },
    {
      what: "token and basic auth",
      text: config(server, { token: SECRET, username: "bob" }),
      error: /both a token and a username/,
    },
    {
      what: "cert without key",
      text: config(server, { "client-certificate-data": b64(CA) }),
      error: /client-certificate without client-key/,
    },
    {
      what: "key without cert",
      text: config(server, { "client-key-data": b64(SECRET) }),
      error: /client-key without client-certificate/,
    },
    {
      what: "key data and file",
      text: config(server, { "client-certificate": "c", "client-key": "k", "client-key-data": b64(SECRET) }),
      error: /both client-key and client-key-data/,
    },
    {
      what: "exec and auth-provider",
      text: config(server, { exec: { command: "x" }, "auth-provider": { name: "oidc" } }),
      error: /both exec and auth-provider/,
    },
    { what: "exec not a mapping", text: config(server, { exec: "aws" }), error: /exec is not a mapping/ },
    {
      what: "as-groups without as",
      text: config(server, { "as-groups": ["g"] }),
      error: /as-groups without as/,
    },
    { what: "as-uid", text: config(server, { as: "a", "as-uid": "1" }), error: /as-uid is not supported/ },
  ];
  for (const c of cases)
    it(c.what, () => {
      if (c.error) {
        assert.throws(
          () => resolve(c.text, c.context),
          (err: unknown) =>
            err instanceof GitgateError &&
            err.class === "terminal" &&
            err.reason === "InvalidKubeconfig" &&
            c.error!.test(err.message) &&
            // A secret value is never echoed back.
            !err.message.includes(SECRET) &&
            !err.message.includes(b64(SECRET)),
        );
        return;
      }
      const got = resolve(c.text, c.context);
      for (const [k, v] of Object.entries(c.want ?? {}))
        assert.deepEqual(got[k as keyof ResolvedKubeConfig], v, k);
    });

  it("a malformed unused entry does not matter (only the current context is validated)", () => {
    const text = config(
      server,
      { token: "t" },
      {
        clusters: [
          { name: "c", cluster: server },
          { name: "broken", cluster: { server: 5 } },
        ],
        users: [
          { name: "u", user: { token: "t" } },
          { name: "bad", user: { token: 1 } },
        ],
      },
    );
    assert.equal(resolve(text).cluster.server, "https://10.0.0.1:6443");
  });
});

describe("mergeKubeConfigs (KUBECONFIG)", () => {
  const doc = (file: string, text: string): KubeConfigDoc => parseKubeConfig(text, file, "/" + file);
  const cases: Array<{
    what: string;
    docs: KubeConfigDoc[];
    server: string;
    token?: string;
    caFile?: string;
  }> = [
    {
      what: "the first file's current-context and entries win",
      docs: [
        doc("a", config({ server: "https://a" }, { token: "ta" })),
        doc("b", config({ server: "https://b" }, { token: "tb" }, { "current-context": "other" })),
      ],
      server: "https://a",
      token: "ta",
    },
    {
      what: "current-context from a later file when the first sets none; entries still first-wins",
      docs: [
        doc("a", JSON.stringify({ users: [{ name: "u", user: { token: "ta" } }] })),
        doc("b", config({ server: "https://b", "certificate-authority": "ca" }, { token: "tb" })),
      ],
      server: "https://b",
      token: "ta",
      caFile: "/b/ca",
    },
  ];
  for (const c of cases)
    it(c.what, () => {
      const got = selectKubeConfig(mergeKubeConfigs(c.docs), "KUBECONFIG");
      assert.equal(got.cluster.server, c.server);
      assert.equal(got.user.token, c.token);
      assert.equal(got.cluster.caFile, c.caFile);
    });
});

describe("inClusterConfig", () => {
  const cases: Array<{ env: Record<string, string>; server?: string; error?: RegExp }> = [
    {
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      server: "https://10.96.0.1:443",
    },
    {
      env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
      server: "https://[fd00::1]:443",
    },
    // client-go's InClusterConfig is always https, whatever the port.
    {
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "80" },
      server: "https://10.96.0.1:80",
    },
    { env: { KUBERNETES_SERVICE_HOST: "10.96.0.1" }, error: /KUBERNETES_SERVICE_PORT must be set/ },
  ];
  for (const c of cases)
    it(JSON.stringify(c.env), () => {
      if (c.error) return assert.throws(() => inClusterConfig(c.env, "/sa"), c.error);
      const got = inClusterConfig(c.env, "/sa");
      assert.equal(got.cluster.server, c.server);
      assert.equal(got.cluster.caFile, "/sa/ca.crt");
      assert.deepEqual(got.user, { tokenFile: "/sa/token" });
    });
});

describe("defaultKubeconfigFiles", () => {
  const exists = (p: string): boolean => !p.includes("missing");
  const cases: Array<{ env: KubeEnvironment; want?: string[]; error?: RegExp }> = [
    { env: { KUBECONFIG: "/a::/missing:/b", HOME: "/h" }, want: ["/a", "/b"] },
    { env: { KUBECONFIG: "/missing", HOME: "/h" }, error: /none of its files exists/ },
    { env: { KUBECONFIG: Array.from({ length: 33 }, (_, i) => `/f${i}`).join(":") }, error: /more than 32/ },
    { env: { HOME: "/h" }, want: ["/h/.kube/config"] },
    { env: { KUBECONFIG: "", HOME: "/missing" }, want: [] },
  ];
  for (const c of cases)
    it(JSON.stringify(c.env).slice(0, 80), () => {
      if (c.error) return assert.throws(() => defaultKubeconfigFiles(c.env, exists), c.error);
      assert.deepEqual(defaultKubeconfigFiles(c.env, exists), c.want);
    });
});

describe("loadKubeConfig and the credentials it yields", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gitgate-kubeconfig-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a token file is read again on every call (rotation), CA and client cert from files", async () => {
    await writeFile(join(dir, "ca.crt"), CA);
    await writeFile(join(dir, "u.crt"), "CERT");
    await writeFile(join(dir, "u.key"), "KEY");
    await writeFile(join(dir, "tok"), "first\n");
    const file = join(dir, "config");
    await writeFile(
      file,
      config(
        { ...server, "certificate-authority": "ca.crt", "tls-server-name": "api" },
        {
          tokenFile: "tok",
          "client-certificate": "u.crt",
          "client-key": "u.key",
          as: "x",
          "as-groups": ["g"],
        },
      ),
    );
    const kc = loadKubeConfig({ kubeconfig: file });
    const opts = await kc.httpsOptions();
    assert.equal(String(opts.ca), CA);
    assert.equal(String(opts.cert), "CERT");
    assert.equal(String(opts.key), "KEY");
    assert.equal(opts.servername, "api");
    assert.deepEqual(opts.headers, {
      Authorization: "Bearer first",
      "Impersonate-User": "x",
      "Impersonate-Group": ["g"],
    });
    await writeFile(join(dir, "tok"), "second");
    assert.equal(await kc.bearerToken(), "second");
    assert.equal(String(await kc.clientCertificate()), "CERT");
    assert.equal(kc.usesPlugin, false);
  });

  it("basic auth and skip-verify become request options", async () => {
    const file = join(dir, "basic");
    await writeFile(
      file,
      config({ ...server, "insecure-skip-tls-verify": true }, { username: "bob", password: "pw" }),
    );
    const opts = await loadKubeConfig({ kubeconfig: file }).httpsOptions();
    assert.equal(opts.auth, "bob:pw");
    assert.equal(opts.rejectUnauthorized, false);
    assert.deepEqual(opts.headers, {});
  });

  it("KUBECONFIG: first-wins merge of real files; relative paths per file", async () => {
    await writeFile(join(dir, "k1"), config({ server: "https://one" }, { token: "t1" }));
    await mkdir(join(dir, "sub"), { recursive: true });
    await writeFile(
      join(dir, "sub", "k2"),
      config({ server: "https://two", "certificate-authority": "ca" }, { token: "t2" }),
    );
    const kc = loadKubeConfig({ env: { KUBECONFIG: `${join(dir, "k1")}:${join(dir, "sub", "k2")}` } });
    assert.equal(kc.cluster.server, "https://one");
    const reversed = loadKubeConfig({ env: { KUBECONFIG: `${join(dir, "sub", "k2")}:${join(dir, "k1")}` } });
    assert.equal(reversed.cluster.caFile, join(dir, "sub", "ca"));
    await writeFile(join(dir, "sub", "ca"), CA);
    assert.equal(await reversed.bearerToken(), "t2");
  });

  it("in-cluster: service-account token and CA; no token mounted is a clear error", async () => {
    const sa = join(dir, "sa");
    await mkdir(sa, { recursive: true });
    const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    assert.throws(
      () => loadKubeConfig({ inCluster: true, env, serviceAccountDir: sa }),
      /cannot read service-account token .*ENOENT/,
    );
    await writeFile(join(sa, "token"), "sa-token-1\n");
    await writeFile(join(sa, "ca.crt"), CA);
    const kc = loadKubeConfig({ inCluster: true, env, serviceAccountDir: sa });
    assert.equal(kc.cluster.server, "https://10.96.0.1:443");
    assert.equal(await kc.bearerToken(), "sa-token-1");
    await writeFile(join(sa, "token"), "sa-token-2\n");
    assert.equal(await kc.bearerToken(), "sa-token-2");
    // Nothing else found: the pod's service account, as client-node did.
    const fallback = loadKubeConfig({ env: { ...env, HOME: join(dir, "nohome") }, serviceAccountDir: sa });
    assert.equal(fallback.resolved.source, "in-cluster");
    assert.throws(
      () => loadKubeConfig({ env: { HOME: join(dir, "nohome") }, serviceAccountDir: join(dir, "nosa") }),
      (err: unknown) => err instanceof GitgateError && err.reason === "NoKubeconfig",
    );
  });

  it("caps: an oversized kubeconfig or token file is refused, naming the file, not its content", async () => {
    const big = join(dir, "big");
    await writeFile(big, "#".repeat(4 * 1024 * 1024 + 1));
    assert.throws(() => loadKubeConfig({ kubeconfig: big }), /kubeconfig .*big is larger than 4194304 bytes/);
    await writeFile(join(dir, "bigtok"), SECRET.repeat(5000));
    const file = join(dir, "bigtokcfg");
    await writeFile(file, config(server, { tokenFile: "bigtok" }));
    await assert.rejects(
      loadKubeConfig({ kubeconfig: file }).httpsOptions(),
      (err: unknown) =>
        err instanceof Error &&
        /token file .*bigtok is larger than/.test(err.message) &&
        !err.message.includes(SECRET),
    );
    await writeFile(join(dir, "badtok"), `${SECRET}\r\nX: y`);
    await writeFile(file, config(server, { tokenFile: "badtok" }));
    await assert.rejects(
      loadKubeConfig({ kubeconfig: file }).httpsOptions(),
      (err: unknown) =>
        err instanceof Error &&
        /has characters a header cannot carry/.test(err.message) &&
        !err.message.includes(SECRET),
    );
  });

  it("a missing --kubeconfig file or a directory is a classified error", () => {
    assert.throws(
      () => loadKubeConfig({ kubeconfig: dir }),
      (err: unknown) => err instanceof GitgateError && /: is a directory \(EISDIR\)$/.test(err.message),
    );
    assert.throws(
      () => loadKubeConfig({ kubeconfig: join(dir, "nope") }),
      (err: unknown) =>
        err instanceof GitgateError &&
        /^cannot read kubeconfig \S*\/nope: no such file \(ENOENT\)$/.test(err.message),
    );
  });

  it("an exec user's credentials come from its plugin (client-node, loaded for it only)", async () => {
    const plugin = join(dir, "plugin.sh");
    const credential = {
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: "from-exec" },
    };
    await writeFile(plugin, `#!/bin/sh\necho '${JSON.stringify(credential)}'\n`, { mode: 0o755 });
    const kc = new KubeConfig(
      resolve(config(server, { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin } })),
    );
    assert.equal(kc.usesPlugin, true);
    assert.equal(await kc.bearerToken(), "from-exec");
    const failing = new KubeConfig(resolve(config(server, { exec: { command: join(dir, "absent") } })));
    await assert.rejects(
      failing.httpsOptions(),
      (err: unknown) => err instanceof GitgateError && err.reason === "CredentialsPluginFailed",
    );
  });
});
