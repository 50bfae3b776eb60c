/**
 * Git over SSH against a real OpenSSH server with git-shell (src/testenv/sshd.ts): GitApps sync from
 * an ssh:// URL and from an scp-like URL with the key and known_hosts of their credentials Secret;
 * a changed host key fails the sync clearly, prunes nothing and leaves the last good state; a host
 * whose key the Secret does not hold is refused (never trusted on first use).
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import type { GitApp } from "../src/api/gitapp.js";
import { startSshServer, type SshServer } from "../src/testenv/sshd.js";
import { applySecret, condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;
let sshd: SshServer;

const cm = (name: string, value: string): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

const secret = (name: string, data: Record<string, string>): Promise<void> => applySecret(env, name, data);

async function liveValue(ns: string, name: string): Promise<string | undefined> {
  const obj = await env.get("v1", "ConfigMap", ns, name);
  return (obj?.data as Record<string, string> | undefined)?.value;
}

async function failedWith(name: string, reason: string): Promise<GitApp> {
  return waitFor(
    `${name} fails with ${reason}`,
    async () => {
      const app = await env.getGitApp(name);
      return condition(app, "Synced")?.reason === reason ? app : undefined;
    },
    45_000,
  );
}

describe("Git over SSH (real sshd, git-shell)", () => {
  let repoPath: string;
  let first: string;

  before(async () => {
    env = await startEnv();
    sshd = await startSshServer();
    first = (await env.git.createRepo("ssh-app", { "app/cm.yaml": cm("from-ssh", "1") })).commit;
    repoPath = env.git.repoPath("ssh-app");
    await secret("ssh-creds", { sshPrivateKey: sshd.clientKey.privateKey, known_hosts: sshd.knownHosts() });
  });
  after(async () => {
    await sshd?.stop();
    await env?.stop();
  });

  it("syncs a GitApp from an ssh:// URL with the Secret's sshPrivateKey and known_hosts", async () => {
    const repoURL = `ssh://root@${sshd.host}:${sshd.port}${repoPath}`;
    await env.applyGitApp("over-ssh", {
      source: { repoURL, revision: "main", path: "app", credentialsSecret: "ssh-creds" },
      destination: { namespace: "over-ssh" },
      sync: { interval: "2s", createNamespace: true },
    });
    const app = await waitSynced(env, "over-ssh", first, "default", 45_000);
    assert.equal(app.status?.revision, first);
    assert.equal(await liveValue("over-ssh", "from-ssh"), "1");
    assert.ok((await sshd.connections()) > 0, "the fetch went through sshd");
    assert.doesNotMatch(JSON.stringify(app.status), /PRIVATE KEY/);
  });

  it("syncs a GitApp from an scp-like URL (user@host:path), with Flux's key names identity and knownHosts", async () => {
    assert.ok(
      sshd.scpHost,
      "sshd listens on port 22 of a loopback address (scp-like URLs cannot name a port)",
    );
    await secret("flux-creds", { identity: sshd.clientKey.privateKey, knownHosts: sshd.knownHosts() });
    await env.applyGitApp("over-scp", {
      source: {
        repoURL: `root@${sshd.scpHost}:${repoPath}`,
        revision: "main",
        path: "app",
        credentialsSecret: "flux-creds",
      },
      destination: { namespace: "over-scp" },
      sync: { interval: "1h", createNamespace: true },
    });
    await waitSynced(env, "over-scp", first, "default", 45_000);
    assert.equal(await liveValue("over-scp", "from-ssh"), "1");
  });

  it("a host the Secret's known_hosts does not name is refused, never trusted on first use", async () => {
    const other = sshd.knownHosts().replace(/^\[127\.0\.0\.1\]:\d+/gm, "git.example.com");
    await secret("unknown-host-creds", { sshPrivateKey: sshd.clientKey.privateKey, known_hosts: other });
    await env.applyGitApp("unknown-host", {
      source: {
        repoURL: `ssh://root@${sshd.host}:${sshd.port}${repoPath}`,
        revision: "main",
        path: "app",
        credentialsSecret: "unknown-host-creds",
      },
      destination: { namespace: "unknown-host" },
      sync: { interval: "1h", createNamespace: true },
    });
    const app = await failedWith("unknown-host", "HostKeyUnknown");
    assert.match(
      condition(app, "Synced")?.message ?? "",
      /^fetch failed: host key of ssh:\/\/\S+@127\.0\.0\.1:\d+\/.* is not in the credentials secret's known_hosts/,
    );
    assert.equal(app.status?.revision, undefined, "nothing was synced");
    assert.equal(
      await env.get("v1", "Namespace", undefined, "unknown-host").then((n) => n?.metadata.name),
      undefined,
    );
  });

  it("a changed host key fails clearly: host key mismatch in the condition, nothing pruned, the last good state stays", async () => {
    await waitSynced(env, "over-ssh", first, "default", 45_000);
    await sshd.rotateHostKey();
    // A commit that would delete from-ssh and add another: neither may happen.
    const second = await env.git.commit(
      "ssh-app",
      { "app/cm.yaml": null, "app/other.yaml": cm("other", "2") },
      "move",
    );
    const app = await failedWith("over-ssh", "HostKeyMismatch");
    const synced = condition(app, "Synced");
    assert.equal(synced?.status, "False");
    assert.match(
      synced?.message ?? "",
      /^fetch failed: host key mismatch for ssh:\/\/\S+@127\.0\.0\.1:\d+\/\S+: the SSH server's key is not the one in the credentials secret's known_hosts/,
    );
    assert.equal(app.status?.revision, first, "status keeps the last synced commit");
    assert.notEqual(app.status?.revision, second);
    assert.equal(await liveValue("over-ssh", "from-ssh"), "1", "nothing pruned");
    assert.equal(
      await liveValue("over-ssh", "other"),
      undefined,
      "nothing applied from the unfetched commit",
    );
    // Trusting the new key (the operator's decision, in the Secret) recovers it.
    await secret("ssh-creds", { sshPrivateKey: sshd.clientKey.privateKey, known_hosts: sshd.knownHosts() });
    await waitSynced(env, "over-ssh", second, "default", 45_000);
    assert.equal(await liveValue("over-ssh", "other"), "2");
  });
});
