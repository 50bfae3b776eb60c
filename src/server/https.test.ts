import { strict as assert } from "node:assert";
import { Agent, request } from "node:https";
import { once } from "node:events";
import { connect } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
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

describe("listenHttps close under keep-alive load", () => {
  const serverCA = createCA("server-ca", 1);
  const serving = createServingCert(serverCA, ["localhost"], ["127.0.0.1"], 1);

  it("a connection that finishes its handshake after close() began cannot hold the close open", async () => {
    // A grace far longer than the bound below: close() must end on its own, not by cutting sockets.
    const listener = await listenHttps(
      (req, res) => {
        req.resume();
        req.on("end", () => setImmediate(() => res.end("ok")));
      },
      "127.0.0.1",
      0,
      serving,
      undefined,
      { closeGraceMs: 120_000 },
    );
    // Accepted before close() and handshaken after it, as kube-apiserver's new connections under
    // load can be: the one sweep of idle connections that close() makes has come and gone.
    const raw = connect(listener.port, "127.0.0.1");
    await once(raw, "connect");
    await new Promise((r) => setTimeout(r, 100));
    let closed = false;
    const closing = listener.close().then(() => void (closed = true));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let reused = false;
    agent.createConnection = () => {
      // The raw socket once; any later connection is a new one, which the closed listener refuses.
      if (reused)
        return tlsConnect({
          host: "127.0.0.1",
          port: listener.port,
          ca: serverCA.cert,
          servername: "localhost",
        });
      reused = true;
      return tlsConnect({ socket: raw, ca: serverCA.cert, servername: "localhost" });
    };
    const outcomes = new Map<string, number>();
    // As kube-apiserver under load: the next review as soon as the last is answered; bounded.
    let bound: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => (bound = setTimeout(r, 20_000)));
    try {
      for (let i = 0; i < 20_000 && !closed; i++) {
        const outcome = await Promise.race([post(agent), deadline.then(() => ({ error: "bound" }))]);
        const key = "error" in outcome ? outcome.error : `connection: ${outcome.connection ?? "keep-alive"}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if ("error" in outcome) break;
      }
      await Promise.race([closing, deadline]);
      assert.ok(closed, `close() still waiting after 20 s; answers ${JSON.stringify([...outcomes])}`);
      // Who ended it: gitgate's answer said the connection ends, and the client went elsewhere.
      assert.equal(outcomes.get("connection: close"), 1, JSON.stringify([...outcomes]));
    } finally {
      clearTimeout(bound);
      agent.destroy();
      raw.destroy();
    }
  });

  /** One POST on the agent: its answer's Connection header, or the error's code. */
  function post(agent: Agent): Promise<{ connection?: string } | { error: string }> {
    return new Promise((resolve) => {
      const req = request({ host: "127.0.0.1", method: "POST", path: "/validate", agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ connection: res.headers.connection }));
      });
      req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end("{}");
    });
  }
});
