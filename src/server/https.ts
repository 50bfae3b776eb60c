/** The HTTPS listener: certificate swapped in place on rotation, so no request ever fails. */
import { createServer, type Server } from "node:https";
import type { RequestListener } from "node:http";

export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface HttpsListener {
  server: Server;
  host: string;
  port: number;
  setCertificate(tls: TlsMaterial): void;
  /** Stops accepting connections and waits for in-flight requests to finish. */
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 10_000;

export async function listenHttps(
  handler: RequestListener,
  host: string,
  port: number,
  tls: TlsMaterial,
): Promise<HttpsListener> {
  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, handler);
  // kube-apiserver keeps connections alive across admission calls.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    server,
    host,
    port: typeof address === "object" && address ? address.port : port,
    setCertificate: (next) => server.setSecureContext({ cert: next.cert, key: next.key }),
    close: () =>
      new Promise<void>((resolve) => {
        // In-flight requests get a bounded time (pods get 30 s to terminate); then sockets are cut.
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
