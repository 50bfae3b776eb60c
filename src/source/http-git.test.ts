// The git fetcher's pure parts (credentials, config in the environment, failure classification),
// its credential helper run by a real /bin/sh, and a real fetch with credentials that leaves no
// secret in the cache.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GitgateError } from "../errors.js";
import { startGitServer, type GitServer } from "../testenv/git-server.js";
import { createGitSource } from "./git-source.js";
import { basicCredentials, classifyHttpGitFailure, configEnv, CREDENTIAL_HELPER } from "./http-git.js";

const ctx = { repo: "https://git.example.com/team/app.git", revision: "main", hasCredentials: true };

void describe("git fetcher: credentials and config", () => {
  void it("hands over basic credentials as remote.ts sends them", () => {
    const cases: [Parameters<typeof basicCredentials>[0], ReturnType<typeof basicCredentials>][] = [
      [undefined, undefined],
      [{}, undefined],
      [{ token: "t0k" }, { username: "x-access-token", password: "t0k" }],
      [
        { username: "oauth2", token: "t0k" },
        { username: "oauth2", password: "t0k" },
      ],
      [
        { username: "u", password: "p" },
        { username: "u", password: "p" },
      ],
      [{ caCert: "pem" }, undefined],
    ];
    for (const [input, want] of cases) assert.deepEqual(basicCredentials(input), want, JSON.stringify(input));
  });

  void it("refuses a line break in a credential (it would end the credential protocol's line)", () => {
    for (const bad of [
      { password: "a\nprotocol=https" },
      { username: "u\r", password: "p" },
      { token: "t\0" },
    ]) {
      assert.throws(
        () => basicCredentials(bad),
        (err: unknown) =>
          err instanceof GitgateError &&
          err.reason === "CredentialsInvalid" &&
          !err.message.includes("protocol="),
      );
    }
  });

  void it("puts config into GIT_CONFIG_* variables, in order", () => {
    assert.deepEqual(
      configEnv([
        ["credential.helper", ""],
        ["http.followRedirects", "false"],
      ]),
      {
        GIT_CONFIG_COUNT: "2",
        GIT_CONFIG_KEY_0: "credential.helper",
        GIT_CONFIG_VALUE_0: "",
        GIT_CONFIG_KEY_1: "http.followRedirects",
        GIT_CONFIG_VALUE_1: "false",
      },
    );
  });

  void it("credential helper answers `get` for the repository's protocol and host only", () => {
    const env = {
      PATH: "/usr/bin:/bin",
      GITGATE_GIT_HOST: "git.example.com:8443",
      GITGATE_GIT_PROTOCOL: "https",
      GITGATE_GIT_USERNAME: "deployer",
      GITGATE_GIT_PASSWORD: "s3cret $(touch /tmp/x) `id` %s\\n",
    };
    const helper = (action: string, input: string): string =>
      execFileSync("/bin/sh", ["-c", `${CREDENTIAL_HELPER.slice(1)} ${action}`], { env, input }).toString();
    assert.equal(
      helper("get", "protocol=https\nhost=git.example.com:8443\n"),
      "username=deployer\npassword=s3cret $(touch /tmp/x) `id` %s\\n\n",
    );
    assert.equal(helper("get", "protocol=https\nhost=evil.example.com\n"), "");
    assert.equal(helper("get", "protocol=http\nhost=git.example.com:8443\n"), "");
    assert.equal(helper("get", "protocol=https\nhost=git.example.com\n"), "");
    assert.equal(helper("store", "protocol=https\nhost=git.example.com:8443\nusername=a\npassword=b\n"), "");
    assert.equal(helper("erase", "protocol=https\nhost=git.example.com:8443\n"), "");
  });
});

void describe("git fetcher: failures classified as isomorphic-git's are", () => {
  const run = (stderr: string, timedOut = false): GitgateError =>
    classifyHttpGitFailure({ code: 128, stdout: "", stderr, timedOut }, ctx, 60_000);
  const cases: [string, string, string, RegExp][] = [
    [
      "fatal: unable to access 'https://git.example.com/team/app.git/': The requested URL returned error: 403",
      "terminal",
      "AuthenticationFailed",
      /HTTP 403.*credentials were rejected/,
    ],
    [
      "fatal: Authentication failed for 'https://git.example.com/team/app.git/'",
      "terminal",
      "AuthenticationFailed",
      /HTTP 401/,
    ],
    [
      "fatal: repository 'https://git.example.com/team/app.git/' not found",
      "terminal",
      "RepoNotFound",
      /HTTP 404/,
    ],
    [
      "fatal: unable to access 'x': The requested URL returned error: 502",
      "transient",
      "RepoUnreachable",
      /HTTP 502/,
    ],
    [
      "fatal: unable to access 'x': SSL certificate problem: self-signed certificate in certificate chain",
      "terminal",
      "CertificateUntrusted",
      /ca\.crt/,
    ],
    [
      "fatal: unable to access 'x': Failed to connect to git.example.com port 443 after 1 ms: Couldn't connect to server",
      "transient",
      "RepoUnreachable",
      /cannot reach/,
    ],
    [
      "fatal: unable to access 'x': Could not resolve host: git.example.com",
      "transient",
      "RepoUnreachable",
      /cannot reach/,
    ],
    [
      "error: RPC failed; curl 18 transfer closed with outstanding read data remaining\nfatal: early EOF",
      "transient",
      "RepoUnreachable",
      /cannot reach/,
    ],
    [
      "fatal: https://git.example.com/team/app.git/info/refs not valid: is this a git repository?",
      "terminal",
      "RepoNotFound",
      /not a Git smart-HTTP repository/,
    ],
    [
      "fatal: unable to update url base from redirection:\n  asked for: x\n   redirect: y",
      "terminal",
      "FetchFailed",
      /does not follow redirects/,
    ],
    [
      "error: object 0123: fsck error in packed object\nfatal: fsck error in packed object",
      "terminal",
      "BadPack",
      /packfile/,
    ],
    ["fatal: something new", "transient", "FetchFailed", /fetching .* failed: fatal: something new/],
  ];
  for (const [stderr, cls, reason, message] of cases) {
    void it(`${reason}: ${stderr.slice(0, 60)}`, () => {
      const err = run(stderr);
      assert.equal(`${err.class}/${err.reason}`, `${cls}/${reason}`);
      assert.match(err.message, message);
    });
  }
  void it("a time-out is RepoUnreachable, as isomorphic-git's deadline gives", () => {
    const err = run("", true);
    assert.equal(`${err.class}/${err.reason}`, "transient/RepoUnreachable");
    assert.match(err.message, /timed out after 60s/);
  });
});

void describe("git fetcher against a real server with credentials", () => {
  const auth = { username: "deployer", password: "pa55-Git-Fetcher-Secret" };
  let server: GitServer;
  let scratch: string;

  before(async () => {
    server = await startGitServer({ auth });
    scratch = await mkdtemp(join(tmpdir(), "gitgate-http-git-"));
    await server.createRepo("private", { "a.yaml": "a: 1\n" });
  });
  after(async () => {
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  async function allFiles(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await allFiles(path)));
      else if (entry.isFile()) out.push(path);
    }
    return out;
  }

  void it("fetches with git, and no file of the cache holds the password", async () => {
    const cacheRoot = join(scratch, "cache");
    const git = createGitSource({ cacheRoot, fetcher: "git" });
    assert.equal(git.fetcher, "git");
    const main = await server.revParse("private", "main");
    const before = server.requests.length;
    const checkout = await git.resolve({
      repoURL: server.repoURL("private"),
      revision: "main",
      credentials: auth,
    });
    assert.equal(checkout.commit, main);
    assert.equal(await readFile(join(checkout.dir, "a.yaml"), "utf8"), "a: 1\n");
    // git (protocol v2) made the fetch, authenticated after its first 401.
    const fetch = server.requests.slice(before).filter((r) => r.command === "fetch");
    assert.equal(fetch.length, 1);
    assert.equal(fetch[0]?.status, 200);
    for (const file of await allFiles(cacheRoot)) {
      if ((await stat(file)).size > 1 << 20) continue;
      const text = (await readFile(file)).toString("latin1");
      assert.ok(!text.includes(auth.password), `${file} holds the password`);
    }
  });
});
