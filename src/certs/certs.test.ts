import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { request as httpsRequest, createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { caBundleOf, createCA, createServingCert, needsRotation } from "./certs.js";

const DAY = 24 * 60 * 60 * 1000;

void describe("certs", () => {
  const now = new Date();
  const ca = createCA("gitgate-test-ca", 30, now);
  const serving = createServingCert(ca, ["gitgate.gitgate-system.svc", "localhost"], ["127.0.0.1"], 10, now);
  // Key generation uses node:crypto (generateKeyPairSync), not forge's JS keygen; its speed is not
  // asserted here (a timed assertion fails on a busy machine, proving nothing).

  void it("CA is a self-signed CA", () => {
    const cert = new X509Certificate(ca.cert);
    assert.ok(cert.ca);
    assert.ok(cert.verify(cert.publicKey));
    assert.match(cert.subject, /CN=gitgate-test-ca/);
  });

  void it("serving cert verifies against its CA and carries the SANs", () => {
    const caCert = new X509Certificate(ca.cert);
    const cert = new X509Certificate(serving.cert);
    assert.ok(!cert.ca);
    assert.ok(cert.verify(caCert.publicKey));
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.checkHost("gitgate.gitgate-system.svc"), "gitgate.gitgate-system.svc");
    assert.equal(cert.checkHost("localhost"), "localhost");
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkHost("evil.example"), undefined);
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  });

  void it("the key matches the certificate", () => {
    const fromKey = createPublicKey(createPrivateKey(serving.key)).export({ type: "spki", format: "der" });
    const fromCert = new X509Certificate(serving.cert).publicKey.export({ type: "spki", format: "der" });
    assert.deepEqual(fromKey, fromCert);
    assert.match(serving.key, /^-----BEGIN PRIVATE KEY-----/);
  });

  void it("is valid from slightly before now until validDays later", () => {
    const cert = new X509Certificate(serving.cert);
    assert.ok(Date.parse(cert.validFrom) <= now.getTime());
    assert.ok(Math.abs(Date.parse(cert.validTo) - (now.getTime() + 10 * DAY)) < 2000);
  });

  void it("needsRotation: before the renewal window no, within it yes; garbage yes; missing SAN yes", () => {
    assert.equal(needsRotation(serving.cert, now, 3 * DAY), false);
    assert.equal(needsRotation(serving.cert, new Date(now.getTime() + 8 * DAY), 3 * DAY), true);
    assert.equal(needsRotation(serving.cert, new Date(now.getTime() - DAY), 0), true);
    assert.equal(needsRotation("not a cert", now, 0), true);
    assert.equal(
      needsRotation(serving.cert, now, 0, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }),
      false,
    );
    assert.equal(needsRotation(serving.cert, now, 0, { dnsNames: ["other.svc"], ipAddresses: [] }), true);
  });

  void it("serves TLS that a client trusting only the CA accepts", async () => {
    const server = createServer({ cert: serving.cert, key: serving.key }, (_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const host of ["127.0.0.1", "localhost"]) {
        const body = await new Promise<string>((resolve, reject) => {
          const req = httpsRequest(
            {
              host: "127.0.0.1",
              servername: host === "localhost" ? host : undefined,
              port,
              ca: ca.cert,
              headers: { host },
            },
            (res) => {
              let text = "";
              res.on("data", (d: Buffer) => (text += d.toString()));
              res.on("end", () => resolve(text));
            },
          );
          req.on("error", reject);
          req.end();
        });
        assert.equal(body, "ok");
      }
    } finally {
      server.close();
    }
  });

  void it("caBundle is base64 of the CA PEM", () => {
    assert.equal(Buffer.from(caBundleOf(ca), "base64").toString(), ca.cert);
  });

  void it("rejects nonsense", () => {
    assert.throws(() => createCA("x", 0));
    assert.throws(() => createServingCert(ca, [], [], 1));
  });
});
