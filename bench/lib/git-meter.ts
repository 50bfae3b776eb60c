/**
 * A counting HTTP proxy in front of the test Git server (127.0.0.1, random port): every request
 * and the bytes of every response body pass through it, so the benchmark can say how many Git
 * requests and bytes a sync cost without touching the server itself.
 */
import { createServer, request, type Server } from "node:http";
import type { Socket } from "node:net";

export interface GitMeter {
  /** Base URL to use instead of the Git server's. */
  readonly url: string;
  /** Requests and response bytes so far. */
  readonly counts: { requests: number; bytes: number };
  stop(): Promise<void>;
}

export async function startGitMeter(upstream: string): Promise<GitMeter> {
  const target = new URL(upstream);
  const counts = { requests: 0, bytes: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    counts.requests++;
    const out = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
        timeout: 120_000,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.on("data", (chunk: Buffer) => (counts.bytes += chunk.length));
        up.pipe(res);
      },
    );
    out.on("timeout", () => out.destroy(new Error("upstream timeout")));
    out.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
