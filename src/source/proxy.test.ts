import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GitgateError } from "../errors.js";
import { bypassesProxy, proxyFor } from "./proxy.js";

void describe("bypassesProxy (NO_PROXY)", () => {
  const cases: [string, number, string | undefined, boolean][] = [
    ["git.example.com", 443, undefined, false],
    ["git.example.com", 443, "", false],
    ["git.example.com", 443, "*", true],
    ["git.example.com", 443, "example.com", true],
    ["git.example.com", 443, ".example.com", true],
    ["git.example.com", 443, "*.example.com", true],
    ["example.com", 443, ".example.com", true],
    ["badexample.com", 443, "example.com", false],
    ["git.example.com", 443, "other.org, git.example.com ", true],
    ["GIT.Example.com.", 443, "git.example.com", true],
    ["git.example.com", 443, "git.example.com:8443", false],
    ["git.example.com", 8443, "git.example.com:8443", true],
    ["127.0.0.1", 8080, "localhost,127.0.0.1", true],
    ["::1", 443, "::1", true],
    ["::1", 443, "[::1]:443", true],
    ["10.0.0.1", 443, "127.0.0.1", false],
  ];
  for (const [host, port, noProxy, want] of cases) {
    void it(`${host}:${port} with ${JSON.stringify(noProxy)} → ${want}`, () =>
      assert.equal(bypassesProxy(host, port, noProxy), want));
  }
});

void describe("proxyFor", () => {
  const settings = { httpsProxy: "http://user:pw@proxy:3128", httpProxy: "proxy2:8080", noProxy: "internal" };
  const host = (u: ReturnType<typeof proxyFor>): string | undefined =>
    u instanceof URL ? u.host : undefined;
  void it("https URLs use HTTPS_PROXY, http ones HTTP_PROXY (scheme optional), NO_PROXY bypasses", () => {
    assert.equal(host(proxyFor("https:", "git.example.com", 443, settings)), "proxy:3128");
    assert.equal(host(proxyFor("http:", "git.example.com", 80, settings)), "proxy2:8080");
    assert.equal(proxyFor("https:", "git.internal", 443, settings), undefined);
    assert.equal(proxyFor("https:", "git.example.com", 443, undefined), undefined);
    assert.equal(proxyFor("http:", "git.example.com", 80, { httpsProxy: "http://p:1" }), undefined);
  });
  void it("refuses a proxy that is not http:// or not a URL, never connecting directly instead", () => {
    for (const httpsProxy of ["socks5://p:1080", "https://p:443", "http://[bad"]) {
      const result = proxyFor("https:", "x", 443, { httpsProxy });
      assert.ok(result instanceof GitgateError && result.reason === "ProxyUnsupported", httpsProxy);
      assert.doesNotMatch(result.message, /p:1080|p:443/);
    }
  });
});
