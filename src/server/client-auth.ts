/**
 * Who may post an AdmissionReview (webhook.clientCA, webhook.clientNames): with a client CA
 * configured, /validate and /mutate answer only a TLS client whose certificate that CA signed
 * (kube-apiserver, from its admission config's kubeconfig), and, with names configured, only one
 * whose subject CN or a DNS SAN is one of them. Everything else on the port (probes, push
 * receiver, metrics) is served whether or not a certificate was presented.
 */
import type { IncomingMessage } from "node:http";
import { X509Certificate } from "node:crypto";

/** The names a client certificate carries, as far as the check is concerned. */
export interface PeerNames {
  /** Subject CN (several when the subject repeats CN). */
  commonNames: string[];
  /** DNS subjectAltNames. */
  dnsNames: string[];
}

/**
 * Whether a certificate's names satisfy `allowed`: an exact CN (case-sensitive, as Kubernetes
 * compares user names), or a DNS SAN compared as DNS names are (case-insensitive, one trailing dot
 * ignored). No wildcards either way: `*.example.com` in `allowed` matches only that literal SAN.
 */
export function peerNameAllowed(peer: PeerNames, allowed: readonly string[]): boolean {
  const dns = (name: string): string => name.toLowerCase().replace(/\.$/, "");
  const sans = new Set(peer.dnsNames.map(dns));
  return allowed.some((name) => peer.commonNames.includes(name) || sans.has(dns(name)));
}

/** CN and DNS SANs of a DER certificate; nothing when it cannot be parsed. */
export function peerNamesOf(der: Buffer): PeerNames {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return { commonNames: [], dnsNames: [] };
  }
  // node writes the subject one attribute a line (`CN=kube-apiserver`); a value with a newline
  // or an escaped one is not a name a certificate for kube-apiserver carries.
  const commonNames = cert.subject
    .split("\n")
    .filter((line) => line.startsWith("CN="))
    .map((line) => line.slice(3));
  const dnsNames = (cert.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((part) => part.startsWith("DNS:"))
    .map((part) => part.slice(4));
  return { commonNames, dnsNames };
}

/** Why a request may not reach the review; undefined when it may. */
export type ClientRefusal = { reason: "no-certificate" | "untrusted" | "name"; detail: string };

export interface ClientPolicy {
  /** Empty: any certificate the CA signed. */
  names: readonly string[];
}

/**
 * What a connection's client certificate showed, worked out once per TLS socket: kube-apiserver
 * keeps its connections alive for many reviews, and `getPeerCertificate()` builds a new object with
 * the certificate's fields and three fingerprints on every call (a tenth of gitgate's CPU per
 * review under a 500-connection soak). `authorized` is settled when the handshake completes,
 * before the first request; the names are those of that verified certificate.
 */
export type PeerState =
  | { kind: "none"; detail: string }
  | { kind: "untrusted"; detail: string }
  | { kind: "verified"; names: PeerNames };

/** The TLS state of a socket as node:tls exposes it (the part the check reads). */
export interface PeerSocket {
  getPeerCertificate?: () => { raw?: Buffer } | null | undefined;
  authorized?: boolean;
  authorizationError?: Error | string | null;
}

export function peerStateOf(socket: PeerSocket): PeerState {
  if (typeof socket.getPeerCertificate !== "function")
    return { kind: "none", detail: "not a TLS connection" };
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.raw) return { kind: "none", detail: "no client certificate presented" };
  if (!socket.authorized)
    return {
      kind: "untrusted",
      detail: `client certificate not signed by webhook.clientCA (${String(socket.authorizationError ?? "unverified")})`,
    };
  return { kind: "verified", names: peerNamesOf(peer.raw) };
}

const peerBySocket = new WeakMap<object, PeerState>();

/** peerStateOf, cached for the socket's life (the WeakMap entry goes with the socket). */
export function connectionPeer(socket: PeerSocket): PeerState {
  const known = peerBySocket.get(socket);
  if (known) return known;
  const state = peerStateOf(socket);
  // Not a TLS socket: nothing to cache (and nothing costly was done).
  if (typeof socket.getPeerCertificate === "function") peerBySocket.set(socket, state);
  return state;
}

/**
 * Checks the connection a request came on. The listener runs `requestCert: true,
 * rejectUnauthorized: false`, so the handshake succeeds either way and `socket.authorized` says
 * whether the certificate chains to the client CA.
 */
export function refuseClient(req: IncomingMessage, policy: ClientPolicy): ClientRefusal | undefined {
  const peer = connectionPeer(req.socket as PeerSocket);
  if (peer.kind === "none") return { reason: "no-certificate", detail: peer.detail };
  if (peer.kind === "untrusted") return { reason: "untrusted", detail: peer.detail };
  if (policy.names.length === 0 || peerNameAllowed(peer.names, policy.names)) return undefined;
  return {
    reason: "name",
    detail: `client certificate names ${JSON.stringify([...peer.names.commonNames, ...peer.names.dnsNames])} are not in webhook.clientNames`,
  };
}

/** Registered cluster → the client certificate names bound to its webhook path. */
export type ClusterBindings = ReadonlyMap<string, readonly string[]>;

/**
 * Whether a certificate may post on a webhook path (`cluster` undefined: the hub's own). A path's
 * cluster is a claim the caller makes: a cluster with bound names is served only to a certificate
 * carrying one of them, and a certificate carrying a cluster's bound name is served only on that
 * cluster's path — so one cluster's kube-apiserver cannot have its reviews judged by another
 * cluster's index (allowed where Git says otherwise for its own objects) or by the hub's.
 */
export function refuseBinding(
  peer: PeerNames,
  cluster: string | undefined,
  bindings: ClusterBindings,
): string | undefined {
  const bound = cluster === undefined ? undefined : bindings.get(cluster);
  if (bound && !peerNameAllowed(peer, bound))
    return `client certificate is not one bound to cluster "${cluster}" (its webhookClientNames)`;
  for (const [other, names] of bindings) {
    if (other === cluster || !peerNameAllowed(peer, names)) continue;
    return `client certificate is bound to cluster "${other}"; it may post only on that cluster's path`;
  }
  return undefined;
}

/** The names of the connection's verified client certificate; undefined without one. */
export function verifiedPeer(req: IncomingMessage): PeerNames | undefined {
  const peer = connectionPeer(req.socket as PeerSocket);
  return peer.kind === "verified" ? peer.names : undefined;
}

/**
 * The certificates of a PEM bundle (webhook.clientCA), each parsed; throws naming what is wrong
 * (no certificate, an unparsable one, one that is not a CA) so a bad file fails the start.
 */
export function parseCaBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error("no PEM certificate in it");
  return blocks.map((block, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch (err) {
      throw new Error(`certificate ${i + 1} cannot be parsed: ${(err as Error).message}`);
    }
    if (!cert.ca) throw new Error(`certificate ${i + 1} (${cert.subject.replace(/\n/g, ", ")}) is not a CA`);
    return cert;
  });
}
