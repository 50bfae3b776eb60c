/**
 * A Git server in front of the real one whose requests wait while it is held: a fetch that has
 * started and not finished, so a GitApp stays out of the index for as long as the test wants.
 */
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";

/** What a test controls of it. */
export interface HeldGit {
  url: string;
  seen: () => number;
  hold: () => void;
  release: () => void;
  close: () => Promise<void>;
}

/** Starts held (`held: true`) or open; `hold()` and `release()` switch it. */
export function heldGit(target: string, opts: { held: boolean }): Promise<HeldGit> {
  let open = !opts.held;
  let seen = 0;
  const waiting: Array<() => void> = [];
  const server: Server = createHttpServer((req, res) => {
    seen++;
    const forward = (): void => {
      const upstream = httpRequest(
        `${target}${req.url ?? ""}`,
        { method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    };
    if (open) forward();
    else waiting.push(forward);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        seen: () => seen,
        hold: () => void (open = false),
        release: () => {
          open = true;
          for (const go of waiting.splice(0)) go();
        },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    ),
  );
}
