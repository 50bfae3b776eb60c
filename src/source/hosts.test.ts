// Which hosts GitSource may reach: pure tables, then the real git server (allowed, not allowed,
// redirected to a metadata address or off the allow-list).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startGitServer, type GitServer } from "../testenv/git-server.js";
import { createGitSource } from "./git-source.js";
import { addressRefusal, hostRefusal, isAllowedHost, isForbiddenAddress } from "./hosts.js";
import { isGitError } from "./testing.js";

void describe("isForbiddenAddress", () => {
  const cases: Array<[string, boolean]> = [
    ["169.254.169.254", true],
    ["169.254.0.1", true],
    ["169.254.170.2", true],
    ["fe80::1", true],
    ["FE80::abcd", true],
    ["febf::1", true],
    ["[fe80::1]", true],
    ["::ffff:169.254.169.254", true],
    ["fd00:ec2::254", true],
    ["fd00:0ec2:0000:0000:0000:0000:0000:0254", true],
    ["100.100.100.200", true],
    ["127.0.0.1", false],
    ["10.0.0.1", false],
    ["169.255.0.1", false],
    ["fec0::1", false],
    ["::1", false],
    ["github.com", false],
  ];
  for (const [address, want] of cases)
    void it(address, () => assert.equal(isForbiddenAddress(address), want));
});

void describe("isAllowedHost", () => {
  const cases: Array<[host: string, allowed: string[], want: boolean]> = [
    ["anything.example", [], true],
    ["github.com", ["github.com"], true],
    ["GitHub.com", ["github.com"], true],
    ["github.com.", ["github.com"], true],
    ["evil-github.com", ["github.com"], false],
    ["git.example.com", ["*.example.com"], true],
    ["a.b.example.com", ["*.example.com"], true],
    ["example.com", ["*.example.com"], false],
    ["example.com.evil", ["*.example.com"], false],
    ["127.0.0.1", ["github.com", "127.0.0.1"], true],
    ["[::1]", ["::1"], true],
  ];
  for (const [host, allowed, want] of cases)
    void it(`${host} in ${JSON.stringify(allowed)}`, () =>
      assert.equal(isAllowedHost(host, { allowedHosts: allowed }), want));
});

void describe("hostRefusal / addressRefusal", () => {
  void it("refuses metadata addresses even when allow-listed", () => {
    assert.equal(
      hostRefusal("169.254.169.254", { allowedHosts: ["169.254.169.254"] })?.reason,
      "HostNotAllowed",
    );
  });
  void it("refuses a name that resolves to a link-local address among others", () => {
    assert.match(
      addressRefusal("meta.example", ["10.0.0.1", "169.254.169.254"])?.message ?? "",
      /resolves to 169\.254/,
    );
    assert.equal(addressRefusal("ok.example", ["10.0.0.1", "::1"]), undefined);
  });
});

void describe("GitSource hosts (real git server)", () => {
  let server: GitServer;
  let scratch: string;
  let redirector: Server;
  let redirectTo = "";
  let redirectorURL = "";
  let n = 0;
  const source = (allowedHosts?: string[]): ReturnType<typeof createGitSource> =>
    createGitSource({ cacheRoot: join(scratch, `cache-${++n}`), allowedHosts });

  before(async () => {
    server = await startGitServer();
    scratch = await mkdtemp(join(tmpdir(), "gitgate-hosts-"));
    await server.createRepo("app", { "a.yaml": "a: 1\n" });
    redirector = createServer((req, res) => {
      res.writeHead(302, { location: `${redirectTo}${req.url ?? ""}` });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    redirectorURL = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
  });
  after(async () => {
    redirector.close();
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  void it("fetches from an allowed host", async () => {
    const checkout = await source(["127.0.0.1"]).resolve({
      repoURL: server.repoURL("app"),
      revision: "main",
    });
    assert.match(checkout.commit, /^[0-9a-f]{40}$/);
  });

  void it("refuses a host off the allow-list before any request, credentials included", async () => {
    const before = server.requests.length;
    const url = server.repoURL("app").replace("127.0.0.1", "localhost").replace("://", "://u:secret@");
    await assert.rejects(
      source(["127.0.0.1"]).resolve({ repoURL: url, revision: "main" }),
      isGitError("terminal", "HostNotAllowed", (m) => assert.ok(!m.includes("secret"), m)),
    );
    assert.equal(server.requests.length, before);
  });

  void it("refuses a metadata address by default, with no allow-list", async () => {
    await assert.rejects(
      source().resolve({ repoURL: "http://169.254.169.254/latest/meta-data.git", revision: "main" }),
      isGitError("terminal", "HostNotAllowed", (m) => assert.match(m, /link-local or cloud metadata/)),
    );
    await assert.rejects(
      source().headOf({ repoURL: "http://[fe80::1]:8080/r.git", revision: "main" }),
      isGitError("terminal", "HostNotAllowed"),
    );
  });

  void it("refuses a redirect to a metadata address, or off the allow-list", async () => {
    redirectTo = "http://169.254.169.254";
    await assert.rejects(
      source().headOf({ repoURL: `${redirectorURL}/app.git`, revision: "main" }),
      isGitError("terminal", "HostNotAllowed", (m) => assert.match(m, /169\.254\.169\.254/)),
    );
    redirectTo = server.url.replace("127.0.0.1", "localhost");
    const before = server.requests.length;
    await assert.rejects(
      source(["127.0.0.1"]).headOf({ repoURL: `${redirectorURL}/app.git`, revision: "main" }),
      isGitError("terminal", "HostNotAllowed", (m) =>
        assert.match(m, /localhost is not in sync\.allowedHosts/),
      ),
    );
    assert.equal(server.requests.length, before, "the redirect target was never asked");
  });
});
