import { strict as assert } from "node:assert";
import { request } from "node:https";
import type { TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";
import { createCA, createServingCert } from "../certs/certs.js";
import { createClientCA, createClientCert, type CertKey } from "../testenv/client-certs.js";
import { listenHttps, type HttpsListener } from "./https.js";

/** What the handler saw of one request's connection: whether its client certificate was verified. */
function hit(
  listener: HttpsListener,
  serverCA: string,
  client?: CertKey,
): Promise<{ authorized: boolean; cn?: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(
      `https://127.0.0.1:${listener.port}/`,
      { ca: serverCA, agent: false, ...(client ? { cert: client.cert, key: client.key } : {}) },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(JSON.parse(body) as { authorized: boolean; cn?: string }));
      },
    );
    req.on("error", (err) => resolve({ error: err.message }));
    req.end();
  });
}

describe("listenHttps with a client CA", () => {
  const serverCA = createCA("server-ca", 1);
  const serving = createServingCert(serverCA, ["localhost"], ["127.0.0.1"], 1);
  const first = createClientCA("first-client-ca");
  const second = createClientCA("second-client-ca");
  const fromFirst = createClientCert(first, "apiserver");
  const fromSecond = createClientCert(second, "apiserver");
  let listener: HttpsListener;

  before(async () => {
    listener = await listenHttps(
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const cn = socket.getPeerCertificate().subject?.CN;
        res.end(JSON.stringify({ authorized: socket.authorized, cn }));
      },
      "127.0.0.1",
      0,
      serving,
      first.cert,
    );
  });
  after(async () => listener?.close());

  it("asks for a certificate but completes the handshake without one (probes present none)", async () => {
    assert.deepEqual(await hit(listener, serverCA.cert), { authorized: false });
  });

  it("verifies the certificate against the client CA", async () => {
    assert.deepEqual(await hit(listener, serverCA.cert, fromFirst), { authorized: true, cn: "apiserver" });
    assert.deepEqual(await hit(listener, serverCA.cert, fromSecond), { authorized: false, cn: "apiserver" });
  });

  it("keeps the client CA when the serving certificate rotates", async () => {
    const next = createServingCert(serverCA, ["localhost"], ["127.0.0.1"], 1);
    listener.setCertificate(next);
    assert.deepEqual(await hit(listener, serverCA.cert, fromFirst), { authorized: true, cn: "apiserver" });
    assert.deepEqual(await hit(listener, serverCA.cert, fromSecond), { authorized: false, cn: "apiserver" });
  });

  it("a reloaded client CA applies to new connections", async () => {
    listener.setClientCA(second.cert);
    assert.deepEqual(await hit(listener, serverCA.cert, fromFirst), { authorized: false, cn: "apiserver" });
    assert.deepEqual(await hit(listener, serverCA.cert, fromSecond), { authorized: true, cn: "apiserver" });
  });

  it("a listener started without one cannot be given one later", async () => {
    const plain = await listenHttps((_req, res) => res.end("{}"), "127.0.0.1", 0, serving);
    try {
      assert.throws(() => plain.setClientCA(first.cert), /started without a client CA/);
    } finally {
      await plain.close();
    }
  });
});
