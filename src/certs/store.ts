/**
 * The webhook's CA and serving certificate, kept in one Secret shared by every replica. Whoever
 * finds it missing or due creates it; a losing writer (409) re-reads the winner's. The serving
 * certificate is renewed from the same CA, so the caBundle stays valid and no request fails;
 * a CA near expiry is replaced with old and new CA both in the bundle until the old one ends.
 */
import type { ClusterClient } from "../cluster/client.js";
import { isConflict } from "../cluster/api-error.js";
import type { KubeObject } from "../manifest/object.js";
import {
  caBundleOf,
  createCA,
  createServingCert,
  needsRotation,
  type ExpectedNames,
  type PemPair,
} from "./certs.js";

export interface WebhookTls {
  ca: PemPair;
  /** PEM of every CA the bundle must trust (current first). */
  caBundlePem: string;
  serving: PemPair;
}

export interface CertPolicy {
  caValidDays: number;
  servingValidDays: number;
  /** Renew this long before expiry. */
  renewBeforeMs: number;
}

export const DEFAULT_CERT_POLICY: CertPolicy = {
  caValidDays: 3650,
  servingValidDays: 365,
  renewBeforeMs: 30 * 24 * 3600 * 1000,
};

const b64 = (s: string): string => Buffer.from(s).toString("base64");
const unb64 = (s: unknown): string =>
  typeof s === "string" ? Buffer.from(s, "base64").toString("utf8") : "";

function fromSecret(secret: KubeObject | undefined): WebhookTls | undefined {
  const data = (secret?.data ?? {}) as Record<string, string>;
  const tls = {
    ca: { cert: unb64(data["ca.crt"]), key: unb64(data["ca.key"]) },
    caBundlePem: unb64(data["ca-bundle.crt"]) || unb64(data["ca.crt"]),
    serving: { cert: unb64(data["tls.crt"]), key: unb64(data["tls.key"]) },
  };
  return tls.ca.cert && tls.ca.key && tls.serving.cert && tls.serving.key ? tls : undefined;
}

/** Pure: what the Secret should hold now, given what it holds. Returns undefined when nothing changes. */
export function planCertificates(
  current: WebhookTls | undefined,
  names: ExpectedNames,
  policy: CertPolicy,
  now: Date,
): WebhookTls | undefined {
  const caDue = !current || needsRotation(current.ca.cert, now, policy.renewBeforeMs * 2);
  const servingDue =
    !current || caDue || needsRotation(current.serving.cert, now, policy.renewBeforeMs, names);
  if (!caDue && !servingDue) return undefined;
  const ca = caDue ? createCA("gitgate-webhook-ca", policy.caValidDays, now) : current.ca;
  const serving = createServingCert(ca, names.dnsNames, names.ipAddresses, policy.servingValidDays, now);
  // Keep trusting the old CA while API servers may still hold connections made with it.
  const keepOld = caDue && current && !needsRotation(current.ca.cert, now, 0) ? `\n${current.ca.cert}` : "";
  return { ca, serving, caBundlePem: `${ca.cert.trim()}${keepOld}\n` };
}

export async function loadOrCreateCertificates(
  client: ClusterClient,
  ref: { namespace: string; name: string },
  names: ExpectedNames,
  policy: CertPolicy = DEFAULT_CERT_POLICY,
  now: Date = new Date(),
): Promise<{ tls: WebhookTls; changed: boolean }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const secret = await client.get({ apiVersion: "v1", kind: "Secret", ...ref });
    const current = fromSecret(secret);
    const next = planCertificates(current, names, policy, now);
    if (!next) return { tls: current as WebhookTls, changed: false };
    const body: KubeObject = {
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: {
        name: ref.name,
        namespace: ref.namespace,
        labels: { "app.kubernetes.io/name": "gitgate", "app.kubernetes.io/component": "webhook-tls" },
        resourceVersion: secret?.metadata.resourceVersion,
      },
      data: {
        "ca.crt": b64(next.ca.cert),
        "ca.key": b64(next.ca.key),
        "ca-bundle.crt": b64(next.caBundlePem),
        "tls.crt": b64(next.serving.cert),
        "tls.key": b64(next.serving.key),
      },
    };
    try {
      if (secret) await client.replace(body);
      else await client.create(body);
      return { tls: next, changed: true };
    } catch (err) {
      if (!isConflict(err) && !(err instanceof Error && /already exists/.test(err.message))) throw err;
      // Another replica wrote first; use theirs on the next pass.
    }
  }
  throw new Error(
    `could not store webhook certificates in Secret ${ref.namespace}/${ref.name} (kept conflicting)`,
  );
}

export function caBundleBase64(tls: WebhookTls): string {
  return b64(tls.caBundlePem);
}

export { caBundleOf };
