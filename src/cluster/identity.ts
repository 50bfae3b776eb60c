/**
 * Who gitgate is to the API server, so that admission lets its own writes through without being
 * told: SelfSubjectReview where served (1.26+), else a TokenReview of its own bearer token, else
 * the client certificate's subject.
 */
import { X509Certificate } from "node:crypto";
import { terminal } from "../errors.js";
import { isPlainObject } from "../manifest/object.js";
import type { ClusterClient } from "./client.js";

export interface SelfIdentity {
  username: string;
  groups: string[];
  via: "SelfSubjectReview" | "TokenReview" | "ClientCertificate" | "override";
}

const SSR_VERSIONS = [
  "authentication.k8s.io/v1",
  "authentication.k8s.io/v1beta1",
  "authentication.k8s.io/v1alpha1",
];

function userInfo(body: unknown): { username: string; groups: string[] } | undefined {
  const status = isPlainObject(body) && isPlainObject(body.status) ? body.status : undefined;
  // SelfSubjectReview answers in status.userInfo, TokenReview in status.user.
  const candidate = status ? (status.userInfo ?? status.user) : undefined;
  const user = isPlainObject(candidate) ? candidate : undefined;
  if (!user || typeof user.username !== "string" || !user.username) return undefined;
  return { username: user.username, groups: Array.isArray(user.groups) ? user.groups.map(String) : [] };
}

/** gitgate's own bearer token (inline, a token file read now, or an exec plugin's), if any. */
async function ownToken(client: ClusterClient): Promise<string | undefined> {
  return client.transport.kubeConfig.bearerToken().catch(() => undefined);
}

export async function discoverIdentity(client: ClusterClient, override?: string): Promise<SelfIdentity> {
  if (override) return { username: override, groups: [], via: "override" };
  for (const apiVersion of SSR_VERSIONS) {
    const res = await client.raw({
      method: "POST",
      path: `/apis/${apiVersion}/selfsubjectreviews`,
      body: { apiVersion, kind: "SelfSubjectReview" },
    });
    const info = res.status === 201 || res.status === 200 ? userInfo(res.body) : undefined;
    if (info) return { ...info, via: "SelfSubjectReview" };
  }
  const token = await ownToken(client);
  if (token) {
    const res = await client.raw({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/tokenreviews",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
    });
    const info = userInfo(res.body);
    if (info) return { ...info, via: "TokenReview" };
  }
  const certPem = await client.transport.kubeConfig.clientCertificate().catch(() => undefined);
  if (certPem) {
    const cert = new X509Certificate(certPem);
    const cn = /CN=([^\n,]+)/.exec(cert.subject)?.[1];
    const groups = [...cert.subject.matchAll(/O=([^\n,]+)/g)].map((m) => m[1] ?? "");
    if (cn) return { username: cn, groups, via: "ClientCertificate" };
  }
  throw terminal(
    "IdentityUnknown",
    "cannot learn gitgate's own username (no SelfSubjectReview, TokenReview failed); pass --identity USER",
  );
}
