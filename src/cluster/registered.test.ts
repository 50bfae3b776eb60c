import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../manifest/object.js";
import { kubeConfigOf, MAX_KUBECONFIG_BYTES, parseClusterSecret } from "./registered.js";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const b64 = (s: string): string => Buffer.from(s).toString("base64");

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  });
}

function secret(
  name: string | undefined,
  config: string | undefined,
  extra: Record<string, string> = {},
): KubeObject {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) data[k] = b64(v);
  if (name !== undefined) data.name = b64(name);
  if (config !== undefined) data.kubeconfig = b64(config);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s", namespace: "gitgate-system" },
    data,
  };
}

const goodCluster = { server: "https://10.0.0.1:6443", "certificate-authority-data": b64(CA) };

describe("parseClusterSecret", () => {
  const cases: Array<{ what: string; secret: KubeObject; error?: RegExp }> = [
    { what: "token", secret: secret("dev", kubeconfig(goodCluster, { token: "t0k" })) },
    {
      what: "client certificate",
      secret: secret(
        "prod-1",
        kubeconfig(goodCluster, { "client-certificate-data": b64("C"), "client-key-data": b64("K") }),
      ),
    },
    {
      what: "YAML form",
      secret: secret(
        "dev",
        `clusters:\n- name: c\n  cluster:\n    server: https://h:6443\n    certificate-authority-data: ${b64(CA)}\nusers:\n- name: u\n  user:\n    token: abc\n`,
      ),
    },
    {
      what: "failurePolicy Ignore",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t" }), { failurePolicy: "Ignore" }),
    },
    {
      what: "webhookClientNames",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t" }), {
        webhookClientNames: "dev-apiserver, dev-apiserver.example.com\n",
      }),
    },
    {
      what: "webhookClientNames empty",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t" }), { webhookClientNames: " , " }),
      error: /webhookClientNames` is empty/,
    },
    {
      what: "webhookClientNames with a name no certificate carries",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t" }), { webhookClientNames: "a/b" }),
      error: /"a\/b" is not a certificate name/,
    },
    {
      what: "webhookClientNames too many",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t" }), {
        webhookClientNames: Array.from({ length: 17 }, (_, i) => `n${i}`).join(","),
      }),
      error: /more than 16/,
    },
    {
      what: "failurePolicy not Fail or Ignore",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t" }), { failurePolicy: "Maybe" }),
      error: /failurePolicy/,
    },
    {
      what: "missing name",
      secret: secret(undefined, kubeconfig(goodCluster, { token: "t" })),
      error: /`name`/,
    },
    {
      what: "name not a DNS label",
      secret: secret("Prod/../x", kubeconfig(goodCluster, { token: "t" })),
      error: /DNS label/,
    },
    { what: "missing kubeconfig", secret: secret("dev", undefined), error: /missing/ },
    { what: "not YAML", secret: secret("dev", "{{{"), error: /not valid YAML/ },
    { what: "not a mapping", secret: secret("dev", "- a"), error: /not a mapping/ },
    {
      what: "exec plugin",
      secret: secret("dev", kubeconfig(goodCluster, { exec: { command: "/bin/sh", args: ["-c", "id"] } })),
      error: /field "exec" is not allowed/,
    },
    {
      what: "auth-provider",
      secret: secret("dev", kubeconfig(goodCluster, { "auth-provider": { name: "gcp" } })),
      error: /field "auth-provider" is not allowed/,
    },
    {
      what: "token file",
      secret: secret("dev", kubeconfig(goodCluster, { tokenFile: "/var/run/secrets/token" })),
      error: /"tokenFile"/,
    },
    {
      what: "client certificate path",
      secret: secret(
        "dev",
        kubeconfig(goodCluster, { "client-certificate": "/etc/k.crt", "client-key": "/etc/k.key" }),
      ),
      error: /"client-certificate"/,
    },
    {
      what: "CA path",
      secret: secret(
        "dev",
        kubeconfig({ server: "https://h", "certificate-authority": "/etc/ca" }, { token: "t" }),
      ),
      error: /"certificate-authority"/,
    },
    {
      what: "insecure",
      secret: secret("dev", kubeconfig({ ...goodCluster, "insecure-skip-tls-verify": true }, { token: "t" })),
      error: /"insecure-skip-tls-verify"/,
    },
    {
      what: "impersonation",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t", as: "admin" })),
      error: /"as"/,
    },
    {
      what: "proxy",
      secret: secret("dev", kubeconfig({ ...goodCluster, "proxy-url": "http://p" }, { token: "t" })),
      error: /"proxy-url"/,
    },
    {
      what: "http server",
      secret: secret("dev", kubeconfig({ ...goodCluster, server: "http://h" }, { token: "t" })),
      error: /https/,
    },
    {
      what: "no CA",
      secret: secret("dev", kubeconfig({ server: "https://h" }, { token: "t" })),
      error: /certificate-authority-data/,
    },
    { what: "no credentials", secret: secret("dev", kubeconfig(goodCluster, {})), error: /needs a token/ },
    {
      what: "certificate without key",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t", "client-certificate-data": b64("C") })),
      error: /go together/,
    },
    {
      what: "too large",
      secret: secret("dev", kubeconfig(goodCluster, { token: "t".repeat(MAX_KUBECONFIG_BYTES) })),
      error: /larger than/,
    },
    {
      what: "context names a missing user",
      secret: secret(
        "dev",
        JSON.stringify({
          clusters: [{ name: "c", cluster: goodCluster }],
          users: [{ name: "u", user: { token: "t" } }],
          contexts: [{ name: "x", context: { cluster: "c", user: "nobody" } }],
          "current-context": "x",
        }),
      ),
      error: /no user "nobody"/,
    },
  ];
  for (const c of cases)
    it(c.what, () => {
      const parsed = parseClusterSecret(c.secret);
      if (!c.error) return assert.equal(parsed.ok, true, parsed.ok ? "" : parsed.error.message);
      assert.equal(parsed.ok, false);
      if (parsed.ok) return;
      assert.equal(parsed.error.reason, "InvalidClusterSecret");
      assert.match(parsed.error.message, c.error);
      // A credential is never echoed back.
      assert.doesNotMatch(parsed.error.message, /t0k|\/bin\/sh/);
    });

  it("webhookClientNames: split on commas and whitespace", () => {
    const parsed = parseClusterSecret(
      secret("dev", kubeconfig(goodCluster, { token: "t" }), { webhookClientNames: "a, b.example.com\nc" }),
    );
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.cluster.webhookClientNames, ["a", "b.example.com", "c"]);
  });

  it("connects with only the validated fields", () => {
    const parsed = parseClusterSecret(secret("dev", kubeconfig(goodCluster, { token: "t0k" })));
    assert.ok(parsed.ok);
    const kc = kubeConfigOf(parsed.cluster);
    assert.deepEqual(kc.user, { token: "t0k" });
    assert.deepEqual(kc.cluster, {
      server: "https://10.0.0.1:6443",
      caData: CA,
      insecureSkipTLSVerify: false,
    });
  });
});
