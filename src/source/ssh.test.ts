import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { describe, it } from "node:test";
import { GitgateError } from "../errors.js";
import { createGitSource } from "./git-source.js";
import {
  classifySshFailure,
  closeSession,
  gitEnv,
  hostKeyName,
  openSession,
  parseLsRemote,
  pinnedURL,
  sshCommand,
  type GitResult,
} from "./ssh.js";
import type { SshTarget } from "./url.js";

const ctx = { repo: "ssh://git@git.example.com/r.git", revision: "main", hasCredentials: true };
const target = (t: Partial<SshTarget>): SshTarget => ({
  user: "git",
  host: "git.example.com",
  path: "/r.git",
  scpLike: false,
  ...t,
});

void describe("sshCommand and gitEnv", () => {
  void it("checks host keys strictly against the Secret's known_hosts only, with the key file and no config", () => {
    const cmd = sshCommand("/tmp/gitgate-ssh-abc", "[git.example.com]:2222", 30);
    for (const part of [
      "/usr/bin/ssh -F /dev/null",
      "-o StrictHostKeyChecking=yes",
      "-o UserKnownHostsFile=/tmp/gitgate-ssh-abc/known_hosts",
      "-o GlobalKnownHostsFile=/dev/null",
      "-o BatchMode=yes",
      "-o IdentitiesOnly=yes",
      "-o IdentityAgent=none",
      "-o UpdateHostKeys=no",
      "-o 'HostKeyAlias=[git.example.com]:2222'",
      "-i /tmp/gitgate-ssh-abc/key",
    ])
      assert.ok(cmd.includes(part), `${part} in ${cmd}`);
  });
  void it("runs git with no user or system config, no prompts, ssh as the only protocol", () => {
    const env = gitEnv("/tmp/d", "ssh …");
    assert.deepEqual(
      [
        env.HOME,
        env.GIT_CONFIG_NOSYSTEM,
        env.GIT_CONFIG_GLOBAL,
        env.GIT_TERMINAL_PROMPT,
        env.GIT_ALLOW_PROTOCOL,
      ],
      ["/tmp/d", "1", "/dev/null", "0", "ssh"],
    );
    assert.equal(env.SSH_AUTH_SOCK, undefined);
  });
});

void describe("hostKeyName and pinnedURL", () => {
  const cases: [SshTarget, string, string, string][] = [
    [target({}), "10.0.0.5", "git.example.com", "ssh://git@10.0.0.5/r.git"],
    [target({ port: 22 }), "10.0.0.5", "git.example.com", "ssh://git@10.0.0.5:22/r.git"],
    [target({ port: 2222 }), "10.0.0.5", "[git.example.com]:2222", "ssh://git@10.0.0.5:2222/r.git"],
    [target({ scpLike: true, path: "org/r.git" }), "::1", "git.example.com", "git@[::1]:org/r.git"],
  ];
  for (const [t, address, alias, url] of cases) {
    void it(url, () => {
      assert.equal(hostKeyName(t), alias);
      assert.equal(pinnedURL(t, address), url);
    });
  }
});

void describe("classifySshFailure", () => {
  const result = (stderr: string, timedOut = false): GitResult => ({
    code: 128,
    stdout: "",
    stderr,
    timedOut,
  });
  const cases: [string, GitResult, string, string][] = [
    [
      "changed host key",
      result(
        "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\nfatal: Could not read from remote repository.",
      ),
      "terminal",
      "HostKeyMismatch",
    ],
    [
      "unknown host",
      result(
        "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.",
      ),
      "terminal",
      "HostKeyUnknown",
    ],
    [
      "key refused",
      result("git@127.0.0.1: Permission denied (publickey).\r\nfatal: Could not read"),
      "terminal",
      "AuthenticationFailed",
    ],
    ["bad key", result('Load key "/tmp/x/key": invalid format\r\n'), "terminal", "AuthenticationFailed"],
    [
      "no repo",
      result("fatal: '/srv/x.git' does not appear to be a git repository"),
      "terminal",
      "RepoNotFound",
    ],
    [
      "refused",
      result("ssh: connect to host 127.0.0.1 port 2: Connection refused"),
      "transient",
      "RepoUnreachable",
    ],
    ["timeout", result("", true), "transient", "RepoUnreachable"],
    [
      "no git",
      { code: null, stdout: "", stderr: "cannot run git: spawn git ENOENT", timedOut: false },
      "terminal",
      "SshUnavailable",
    ],
    [
      "no ssh",
      result("/usr/bin/ssh: not found\nfatal: Could not read from remote repository."),
      "terminal",
      "SshUnavailable",
    ],
    ["other", result("fatal: something else https://u:hunter2@x/"), "transient", "FetchFailed"],
  ];
  for (const [name, res, cls, reason] of cases) {
    void it(name, () => {
      const err = classifySshFailure(res, ctx, 60_000);
      assert.ok(err instanceof GitgateError);
      assert.equal(`${err.class}/${err.reason}`, `${cls}/${reason}`, err.message);
      assert.ok(err.message.includes(ctx.repo), err.message);
      assert.doesNotMatch(err.message, /hunter2/);
    });
  }
});

void describe("parseLsRemote", () => {
  void it("folds peeled tags and HEAD's symref into isomorphic-git's ServerRef shape", () => {
    const a = "a".repeat(40);
    const b = "b".repeat(40);
    const c = "c".repeat(40);
    const out = `ref: refs/heads/main\tHEAD\n${a}\tHEAD\n${a}\trefs/heads/main\n${b}\trefs/tags/v1\n${c}\trefs/tags/v1^{}\ngarbage line\n`;
    assert.deepEqual(parseLsRemote(out), [
      { ref: "HEAD", oid: a, target: "refs/heads/main" },
      { ref: "refs/heads/main", oid: a },
      { ref: "refs/tags/v1", oid: b, peeled: c },
    ]);
  });
});

void describe("openSession", () => {
  const creds = {
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----",
    knownHosts: "h ssh-ed25519 AAAA",
  };
  void it("writes the key 0600 in a 0700 dir that closeSession removes; the key is in no env value", async () => {
    const session = await openSession(target({}), creds, "10.0.0.5", ctx, 10);
    try {
      assert.equal((await stat(session.dir)).mode & 0o777, 0o700);
      assert.equal((await stat(`${session.dir}/key`)).mode & 0o777, 0o600);
      assert.ok(!Object.values(session.env).some((v) => v.includes("PRIVATE KEY")));
      assert.equal(session.url, "ssh://git@10.0.0.5/r.git");
    } finally {
      await closeSession(session.dir);
    }
    assert.equal(existsSync(session.dir), false);
  });
  void it("refuses without a key or without known_hosts (never trust on first use)", async () => {
    await assert.rejects(openSession(target({}), { knownHosts: "x" }, "10.0.0.5", ctx, 10), /sshPrivateKey/);
    await assert.rejects(
      openSession(target({}), { sshPrivateKey: "k" }, "10.0.0.5", ctx, 10),
      (err: unknown) =>
        err instanceof GitgateError && err.reason === "CredentialsInvalid" && /known_hosts/.test(err.message),
    );
  });
});

void describe("SSH hosts and the host policy", () => {
  const creds = { sshPrivateKey: "k", knownHosts: "h ssh-ed25519 AAAA" };
  const refused = (err: unknown): boolean => err instanceof GitgateError && err.reason === "HostNotAllowed";
  void it("refuses link-local and metadata addresses, and hosts off sync.allowedHosts, before connecting", async () => {
    const cacheRoot = "/nonexistent/gitgate-cache";
    const open = createGitSource({ cacheRoot });
    const allowList = createGitSource({ cacheRoot, allowedHosts: ["git.example.com"] });
    for (const repoURL of [
      "ssh://git@169.254.169.254/r.git",
      "git@[fe80::1]:r.git",
      "git@100.100.100.200:r.git",
    ]) {
      await assert.rejects(open.resolve({ repoURL, revision: "main", credentials: creds }), refused, repoURL);
    }
    await assert.rejects(
      allowList.resolve({ repoURL: "git@other.example.org:r.git", revision: "main", credentials: creds }),
      refused,
    );
  });
});
