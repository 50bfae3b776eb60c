/**
 * Which hosts gitgate may fetch from. A repoURL is anyone's to write (a GitApp), so without a check
 * it could point gitgate's fetches, with their credentials, at cluster-internal services or at the
 * cloud metadata service. Refused always: link-local addresses (169.254.0.0/16, fe80::/10, where
 * metadata services live) and the metadata addresses outside them; with `sync.allowedHosts` set,
 * every host not on it. Checked per connection (redirects included) and on the addresses a name
 * resolves to, before anything, credentials included, is sent.
 */
import { createHash } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, rootCertificates, type ConnectionOptions as TlsOptions } from "node:tls";
import { terminal, type GitgateError } from "../errors.js";
import { connectThrough, proxyFor, type ProxySettings } from "./proxy.js";

export interface HostPolicy {
  /** Hostnames (`git.example.com`) or suffix wildcards (`*.example.com`); absent or empty = any host. */
  allowedHosts?: readonly string[];
}

/** Metadata services outside link-local ranges: AWS over IPv6, Alibaba Cloud. */
const METADATA_ADDRESSES = new Set(["fd00:ec2::254", "100.100.100.200"]);

/** Whether an IP address is link-local or a cloud metadata address. */
export function isForbiddenAddress(address: string): boolean {
  let ip = address.toLowerCase();
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped?.[1]) ip = mapped[1];
  if (METADATA_ADDRESSES.has(ip)) return true;
  const family = isIP(ip);
  if (family === 4) return ip.startsWith("169.254.");
  if (family === 6) return /^fe[89ab][0-9a-f]?:/.test(ip) || expandedFd00Ec2(ip);
  return false;
}

/** fd00:ec2::254 written another way (leading zeros, no ::). */
function expandedFd00Ec2(ip: string): boolean {
  const parts = ip.split(":");
  return (
    parts.length === 8 && parts.map((p) => p.replace(/^0+(?=.)/, "")).join(":") === "fd00:ec2:0:0:0:0:0:254"
  );
}

/** Whether `host` (a URL's hostname) is on the allow-list; any host when there is none. */
export function isAllowedHost(host: string, policy: HostPolicy): boolean {
  const allowed = policy.allowedHosts ?? [];
  if (allowed.length === 0) return true;
  const name = normalizeHost(host);
  return allowed.some((pattern) => {
    const p = normalizeHost(pattern);
    return p.startsWith("*.") ? name.endsWith(p.slice(1)) && name.length > p.length - 1 : name === p;
  });
}

function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  return h.endsWith(".") ? h.slice(0, -1) : h;
}

/** Why gitgate may not connect to `host` (a hostname or an IP literal); undefined when it may. */
export function hostRefusal(host: string, policy: HostPolicy): GitgateError | undefined {
  if (!isAllowedHost(host, policy))
    return terminal("HostNotAllowed", `Git host ${host} is not in sync.allowedHosts`);
  if (isForbiddenAddress(host))
    return terminal("HostNotAllowed", `Git host ${host} is a link-local or cloud metadata address`);
  return undefined;
}

/** Why gitgate may not connect to the addresses `host` resolved to; undefined when it may. */
export function addressRefusal(host: string, addresses: readonly string[]): GitgateError | undefined {
  const bad = addresses.find(isForbiddenAddress);
  return bad === undefined
    ? undefined
    : terminal(
        "HostNotAllowed",
        `Git host ${host} resolves to ${bad}, a link-local or cloud metadata address`,
      );
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** dns.lookup that fails for a name resolving to any forbidden address (net.connect's `lookup` option). */
function guardedLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const refused = addressRefusal(
      hostname,
      addresses.map((a) => a.address),
    );
    if (refused) return callback(refused, []);
    const first = addresses[0];
    if (options.all) callback(null, addresses);
    else callback(null, first?.address ?? "", first?.family);
  });
}

type ConnectionOptions = TlsOptions & {
  host?: string | null;
  hostname?: string | null;
  port?: number | string | null;
  lookup?: unknown;
};
type CreateConnection = (
  options: ConnectionOptions,
  callback: (err: Error | null, socket?: Duplex) => void,
) => Duplex | undefined;

/** A proxy that does not answer within this fails the connection (transient). */
const PROXY_CONNECT_TIMEOUT_MS = 30_000;

/**
 * Wraps an agent's connections: the host is checked, and the names it resolves, before connecting.
 * Through a proxy the proxy resolves the name, so only the name is checked (the proxy is the
 * operator's, configured in gitgate's own environment).
 */
export function guard<A extends HttpAgent>(
  agent: A,
  policy: HostPolicy,
  proxy: ProxySettings | undefined,
  tls: boolean,
): A {
  const target = agent as unknown as { createConnection: CreateConnection };
  const original = target.createConnection.bind(agent);
  target.createConnection = (options, callback) => {
    const host = options.host ?? options.hostname ?? "";
    const refused = hostRefusal(host, policy);
    if (refused) {
      process.nextTick(() => callback(refused));
      return undefined;
    }
    const port = Number(options.port ?? (tls ? 443 : 80));
    const via = proxyFor(tls ? "https:" : "http:", host, port, proxy);
    if (!via) return original({ ...options, lookup: guardedLookup }, callback);
    if (!(via instanceof URL)) {
      process.nextTick(() => callback(via));
      return undefined;
    }
    connectThrough(via, host, port, PROXY_CONNECT_TIMEOUT_MS).then(
      (socket) => {
        if (!tls) return callback(null, socket);
        const secure = tlsConnect({
          ...options,
          socket,
          servername: options.servername ?? (isIP(host) ? undefined : host),
        });
        secure.once("secureConnect", () => callback(null, secure));
        secure.once("error", (err: Error) => callback(err));
      },
      (err: Error) => callback(err),
    );
    return undefined;
  };
  return agent;
}

export interface GuardedAgents {
  http: HttpAgent;
  https: HttpsAgent;
}

/** Agents for isomorphic-git's requests (one per protocol), every connection checked. */
export function guardedAgents(
  policy: HostPolicy,
  proxy?: ProxySettings,
  tls: { caCert?: string; insecure?: boolean } = {},
): GuardedAgents {
  const httpsOptions = {
    ...(tls.caCert ? { ca: [...rootCertificates, tls.caCert] } : {}),
    ...(tls.insecure ? { rejectUnauthorized: false } : {}),
  };
  return {
    http: guard(new HttpAgent(), policy, proxy, false),
    https: guard(new HttpsAgent(httpsOptions), policy, proxy, true),
  };
}

/** Agents per trust setting (system CAs, a Secret's ca.crt, or none): a GitApp's CA trusts only its fetches. */
export class AgentPool {
  private readonly pool = new Map<string, GuardedAgents>();
  private static readonly MAX = 64;

  constructor(
    private readonly policy: HostPolicy,
    private readonly proxy: ProxySettings | undefined,
  ) {}

  for(caCert: string | undefined, insecure: boolean): GuardedAgents {
    const key = `${insecure ? "insecure" : "verify"}:${caCert ? createHash("sha256").update(caCert).digest("hex") : ""}`;
    let agents = this.pool.get(key);
    if (!agents) {
      if (this.pool.size >= AgentPool.MAX) this.pool.clear();
      agents = guardedAgents(this.policy, this.proxy, { caCert, insecure });
      this.pool.set(key, agents);
    }
    return agents;
  }
}
