/**
 * Server-sent events: each client gets a bare `changed` event when something it may be shown
 * changed, and refetches its view (so no data crosses sessions here). Bounded clients, heartbeat,
 * removed on disconnect.
 */
import type { ServerResponse } from "node:http";

const HEARTBEAT_MS = 15_000;

export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly maxClients: number) {
    this.heartbeat = setInterval(() => this.write(": heartbeat\n\n"), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes the response over as an event stream; false (and a 503) when full. */
  add(res: ServerResponse): boolean {
    if (this.clients.size >= this.maxClients) {
      res
        .writeHead(503, { "content-type": "text/plain", "retry-after": "10" })
        .end("too many live clients\n");
      return false;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n");
    this.clients.add(res);
    const drop = (): void => void this.clients.delete(res);
    res.on("close", drop);
    res.on("error", drop);
    return true;
  }

  changed(): void {
    this.write("event: changed\ndata: {}\n\n");
  }

  private write(text: string): void {
    for (const res of this.clients) if (!res.writableEnded) res.write(text);
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
