/**
 * HTTP(S) proxies as curl and git read them from the environment: HTTPS_PROXY for https URLs,
 * HTTP_PROXY for http ones, NO_PROXY for hosts reached directly. Connections go through an HTTP
 * CONNECT tunnel (TLS to the Git host inside it, so the proxy sees neither credentials nor data).
 * The decision is pure; connectThrough does the CONNECT.
 */
import { connect as netConnect, isIP, type Socket } from "node:net";
import { terminal, transient, type GitgateError } from "../errors.js";

export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  /** Comma-separated hosts, domain suffixes (`.corp`, `corp`), `host:port`, or `*` for all. */
  noProxy?: string;
}

/** A proxy's response header larger than this is not an HTTP proxy. */
const MAX_RESPONSE_HEAD = 16 * 1024;

function bare(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  return h.endsWith(".") ? h.slice(0, -1) : h;
}

/** Whether NO_PROXY says `host:port` is reached directly. */
export function bypassesProxy(host: string, port: number, noProxy: string | undefined): boolean {
  const name = bare(host);
  for (const raw of (noProxy ?? "").split(",")) {
    let entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    const portMatch = /^(.*[^:]):(\d+)$/.exec(entry);
    if (portMatch && isIP(bare(entry)) !== 6) {
      if (Number(portMatch[2]) !== port) continue;
      entry = portMatch[1] ?? "";
    }
    entry = bare(entry.startsWith("*.") ? entry.slice(1) : entry);
    const suffix = entry.startsWith(".") ? entry : `.${entry}`;
    if (name === entry.replace(/^\./, "") || name.endsWith(suffix)) return true;
  }
  return false;
}

/**
 * The proxy for a connection to `host:port` over `protocol`, or undefined to connect directly. A
 * proxy gitgate cannot use (not `http://`, or not a URL) is an error, never a silent direct connection.
 */
export function proxyFor(
  protocol: "http:" | "https:",
  host: string,
  port: number,
  settings: ProxySettings | undefined,
): URL | GitgateError | undefined {
  const raw = protocol === "https:" ? settings?.httpsProxy : settings?.httpProxy;
  if (!raw || bypassesProxy(host, port, settings?.noProxy)) return undefined;
  const name = protocol === "https:" ? "HTTPS_PROXY" : "HTTP_PROXY";
  let url: URL;
  try {
    url = new URL(raw.includes("://") ? raw : `http://${raw}`);
  } catch {
    return terminal("ProxyUnsupported", `${name} is not a URL`);
  }
  if (url.protocol !== "http:") {
    return terminal(
      "ProxyUnsupported",
      `${name} uses ${url.protocol.replace(/:$/, "")}; gitgate tunnels through http:// proxies (CONNECT) only`,
    );
  }
  return url;
}

/** The proxy's display form: no userinfo. */
export function proxyDisplay(proxy: URL): string {
  return `${proxy.hostname}:${proxy.port || "80"}`;
}

/** Opens a CONNECT tunnel to `host:port` through `proxy`; resolves with the tunnelled socket. */
export function connectThrough(proxy: URL, host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: bare(proxy.hostname), port: Number(proxy.port || 80) });
    const target = `${host.includes(":") ? `[${bare(host)}]` : host}:${port}`;
    const fail = (why: string): void => {
      socket.destroy();
      reject(transient("ProxyFailed", `proxy ${proxyDisplay(proxy)} could not connect to ${target}: ${why}`));
    };
    socket.setTimeout(timeoutMs, () => fail("timed out"));
    socket.once("error", (err: NodeJS.ErrnoException) => fail(err.code ?? "connection error"));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > MAX_RESPONSE_HEAD) fail("response header too large");
        return;
      }
      socket.off("data", onData);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, Math.min(end, 64)).toString("latin1"));
      if (status?.[1] !== "200") {
        fail(status ? `HTTP ${status[1]}` : "not an HTTP proxy");
        return;
      }
      socket.setTimeout(0);
      socket.removeAllListeners("error");
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on("data", onData);
    const auth =
      proxy.username || proxy.password
        ? `Proxy-Authorization: Basic ${Buffer.from(
            `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`,
          ).toString("base64")}\r\n`
        : "";
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
  });
}
