/** The HTTPS listener: certificate swapped in place on rotation, so no request ever fails. */
import { createServer, type Server, type ServerOptions } from "node:https";
import type { RequestListener } from "node:http";
import { startIdleGc } from "./idle-gc.js";

export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface HttpsListener {
  server: Server;
  host: string;
  port: number;
  setCertificate(tls: TlsMaterial): void;
  /** Replaces the client CA bundle (only when the listener was started with one). */
  setClientCA(caPem: string): void;
  /** Stops accepting connections and waits for in-flight requests to finish. */
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 10_000;
const IDLE_SWEEP_MS = 100;

export async function listenHttps(
  handler: RequestListener,
  host: string,
  port: number,
  tls: TlsMaterial,
  clientCA?: string,
  options: { closeGraceMs?: number } = {},
): Promise<HttpsListener> {
  let serving = tls;
  let ca = clientCA;
  const context = (): ServerOptions => ({ cert: serving.cert, key: serving.key, ...(ca ? { ca } : {}) });
  // One port serves admission, the push receiver, probes and metrics. kubelet's probes and Git
  // hosts' pushes present no client certificate, so the handshake must not require one: a
  // certificate is requested and verified against the client CA, never demanded, and the admission
  // routes refuse a connection that is not `authorized` (server/client-auth.ts).
  const clientAuth: ServerOptions = ca ? { requestCert: true, rejectUnauthorized: false } : {};
  let closing = false;
  const server = createServer({ ...context(), ...clientAuth, minVersion: "TLSv1.2" }, (req, res) => {
    // Once closing, each answer ends its connection: kube-apiserver sends its next review on a
    // keep-alive connection as soon as the last is answered, so a busy connection never goes idle
    // and would hold close() open until the grace ran out (and then be cut mid-request).
    if (closing) res.setHeader("connection", "close");
    handler(req, res);
  });
  // kube-apiserver keeps connections alive across admission calls.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  // The heap a burst of admission requests grew is given back once the port goes quiet (idle-gc.ts).
  let requests = 0;
  server.on("request", () => void requests++);
  const stopIdleGc = startIdleGc(() => requests);
  const address = server.address();
  return {
    server,
    host,
    port: typeof address === "object" && address ? address.port : port,
    setCertificate: (next) => {
      serving = next;
      server.setSecureContext(context());
    },
    setClientCA: (next) => {
      if (!ca) throw new Error("the listener was started without a client CA");
      ca = next;
      server.setSecureContext(context());
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        stopIdleGc();
        // In-flight requests get a bounded time (pods get 30 s to terminate); then sockets are cut.
        const force = setTimeout(() => server.closeAllConnections(), options.closeGraceMs ?? CLOSE_GRACE_MS);
        // A connection whose handshake ends after close() began is idle with no request to answer.
        const idle = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
        server.close(() => {
          clearTimeout(force);
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
