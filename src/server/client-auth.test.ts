import { strict as assert } from "node:assert";
import { X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { createClientCA, createClientCert } from "../testenv/client-certs.js";
import {
  parseCaBundle,
  peerNameAllowed,
  peerNamesOf,
  refuseBinding,
  refuseClient,
  verifiedPeer,
  type PeerNames,
} from "./client-auth.js";

describe("peerNameAllowed", () => {
  const cases: Array<[string, PeerNames, string[], boolean]> = [
    ["CN matches", { commonNames: ["kube-apiserver"], dnsNames: [] }, ["kube-apiserver"], true],
    ["CN is case-sensitive", { commonNames: ["Kube-Apiserver"], dnsNames: [] }, ["kube-apiserver"], false],
    [
      "CN is not a prefix match",
      { commonNames: ["kube-apiserver-evil"], dnsNames: [] },
      ["kube-apiserver"],
      false,
    ],
    ["one of several allowed", { commonNames: ["b"], dnsNames: [] }, ["a", "b"], true],
    [
      "DNS SAN matches, any case",
      { commonNames: ["x"], dnsNames: ["API.Example.com"] },
      ["api.example.com"],
      true,
    ],
    ["DNS SAN trailing dot", { commonNames: [], dnsNames: ["api.example.com."] }, ["api.example.com"], true],
    ["no wildcard matching", { commonNames: [], dnsNames: ["a.example.com"] }, ["*.example.com"], false],
    ["literal wildcard SAN", { commonNames: [], dnsNames: ["*.example.com"] }, ["*.example.com"], true],
    ["a SAN is not a CN", { commonNames: ["api.example.com"], dnsNames: [] }, ["API.example.com"], false],
    ["no names", { commonNames: [], dnsNames: [] }, ["kube-apiserver"], false],
    ["nothing allowed", { commonNames: ["kube-apiserver"], dnsNames: [] }, [], false],
  ];
  for (const [name, peer, allowed, want] of cases)
    it(name, () => assert.equal(peerNameAllowed(peer, allowed), want));
});

describe("certificates", () => {
  const ca = createClientCA("test-client-ca");
  const other = createClientCA("other-ca");
  const leaf = createClientCert(ca, "kube-apiserver-webhook-client", ["apiserver.example.com"]);

  it("peerNamesOf reads the CN and DNS SANs", () => {
    assert.deepEqual(peerNamesOf(new X509Certificate(leaf.cert).raw), {
      commonNames: ["kube-apiserver-webhook-client"],
      dnsNames: ["apiserver.example.com"],
    });
    assert.deepEqual(peerNamesOf(Buffer.from("not DER")), { commonNames: [], dnsNames: [] });
  });

  it("parseCaBundle takes every CA of a bundle and names what is wrong", () => {
    assert.equal(parseCaBundle(`${ca.cert}\n${other.cert}`).length, 2);
    assert.throws(() => parseCaBundle(""), /no PEM certificate/);
    assert.throws(() => parseCaBundle(ca.key), /no PEM certificate/);
    assert.throws(
      () => parseCaBundle("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
      /certificate 1 cannot be parsed/,
    );
    assert.throws(
      () => parseCaBundle(`${ca.cert}${leaf.cert}`),
      /certificate 2 \(CN=kube-apiserver-webhook-client\) is not a CA/,
    );
  });

  /** A request as node:https hands it over: only the socket's TLS state matters here. */
  const request = (socket: object): IncomingMessage => ({ socket }) as unknown as IncomingMessage;
  const tls = (raw: Buffer | undefined, authorized: boolean, authorizationError?: string): object => ({
    getPeerCertificate: () => (raw ? { raw } : {}),
    authorized,
    authorizationError,
  });
  const der = new X509Certificate(leaf.cert).raw;

  const cases: Array<[string, object, string[], string | undefined]> = [
    ["plain HTTP", {}, [], "no-certificate"],
    ["no certificate", tls(undefined, false, "UNABLE_TO_GET_ISSUER_CERT"), [], "no-certificate"],
    ["another CA", tls(der, false, "UNABLE_TO_VERIFY_LEAF_SIGNATURE"), [], "untrusted"],
    ["the CA, no names configured", tls(der, true), [], undefined],
    ["the CA, the right CN", tls(der, true), ["kube-apiserver-webhook-client"], undefined],
    ["the CA, the right SAN", tls(der, true), ["apiserver.example.com"], undefined],
    ["the CA, a wrong name", tls(der, true), ["kube-apiserver"], "name"],
    [
      "another CA, even with the right name",
      tls(der, false, "x"),
      ["kube-apiserver-webhook-client"],
      "untrusted",
    ],
  ];
  for (const [name, socket, names, want] of cases)
    it(`refuseClient: ${name} → ${want ?? "allowed"}`, () => {
      assert.equal(refuseClient(request(socket), { names })?.reason, want);
    });

  it("the certificate is read once per connection, however many requests it carries", () => {
    let reads = 0;
    const socket = { ...tls(der, true), getPeerCertificate: () => (reads++, { raw: der }) };
    for (let i = 0; i < 5; i++) {
      assert.equal(refuseClient(request(socket), { names: ["kube-apiserver-webhook-client"] }), undefined);
      assert.deepEqual(verifiedPeer(request(socket))?.commonNames, ["kube-apiserver-webhook-client"]);
    }
    assert.equal(reads, 1);
    // Another connection is read afresh, and its own verdict holds for it.
    let otherReads = 0;
    const untrusted = { ...tls(der, false, "x"), getPeerCertificate: () => (otherReads++, { raw: der }) };
    for (let i = 0; i < 3; i++) {
      assert.equal(refuseClient(request(untrusted), { names: [] })?.reason, "untrusted");
      assert.equal(verifiedPeer(request(untrusted)), undefined);
    }
    assert.equal(otherReads, 1);
  });

  it("a cached verdict is per policy: the same connection checked against other names", () => {
    const socket = tls(der, true);
    assert.equal(refuseClient(request(socket), { names: [] }), undefined);
    assert.equal(refuseClient(request(socket), { names: ["kube-apiserver"] })?.reason, "name");
    assert.equal(refuseClient(request(socket), { names: ["apiserver.example.com"] }), undefined);
  });

  it("refuseClient says why, naming the CA error and the certificate's names", () => {
    assert.match(
      refuseClient(request(tls(der, false, "UNABLE_TO_VERIFY_LEAF_SIGNATURE")), { names: [] })?.detail ?? "",
      /not signed by webhook\.clientCA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
    );
    assert.equal(
      refuseClient(request(tls(der, true)), { names: ["kube-apiserver"] })?.detail,
      'client certificate names ["kube-apiserver-webhook-client","apiserver.example.com"] are not in webhook.clientNames',
    );
  });
});

describe("refuseBinding: a cluster's bound certificate posts on that cluster's path only", () => {
  const cn = (name: string): PeerNames => ({ commonNames: [name], dnsNames: [] });
  const bindings = new Map<string, readonly string[]>([
    ["dev", ["dev-apiserver"]],
    ["prod", ["prod-apiserver", "prod.example.com"]],
  ]);
  const cases: Array<[string, PeerNames, string | undefined, RegExp | undefined]> = [
    ["dev's certificate on dev's path", cn("dev-apiserver"), "dev", undefined],
    [
      "prod's certificate by its DNS SAN",
      { commonNames: [], dnsNames: ["prod.example.com"] },
      "prod",
      undefined,
    ],
    ["dev's certificate on prod's path", cn("dev-apiserver"), "prod", /not one bound to cluster "prod"/],
    ["dev's certificate on the hub's path", cn("dev-apiserver"), undefined, /bound to cluster "dev"/],
    ["the hub's certificate on dev's path", cn("kube-apiserver"), "dev", /not one bound to cluster "dev"/],
    ["the hub's certificate on the hub's path", cn("kube-apiserver"), undefined, undefined],
    ["an unbound cluster's path, unbound certificate", cn("kube-apiserver"), "staging", undefined],
    [
      "an unbound cluster's path, dev's certificate",
      cn("dev-apiserver"),
      "staging",
      /bound to cluster "dev"/,
    ],
  ];
  for (const [name, peer, cluster, refused] of cases)
    it(name, () => {
      const got = refuseBinding(peer, cluster, bindings);
      if (refused) assert.match(got ?? "", refused);
      else assert.equal(got, undefined);
    });
  it("no bindings: nothing refused", () =>
    assert.equal(refuseBinding(cn("anyone"), "dev", new Map()), undefined));
});
