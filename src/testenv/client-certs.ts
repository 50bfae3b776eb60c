/**
 * Client certificates for the test control plane: a CA and clientAuth certificates it signs, as a
 * cluster operator makes them for kube-apiserver's admission webhook kubeconfig (and, in tests, the
 * wrong ones). node-forge signs; Node's crypto makes the RSA keys (forge's keygen takes seconds).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

export interface CertKey {
  cert: string;
  /** PKCS#8 PEM. */
  key: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function keys(): { forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey);
  return {
    forgeKey,
    publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e),
    pem: createPrivateKey(privateKey).export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function certificate(publicKey: forge.pki.rsa.PublicKey, validDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString("hex");
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now + validDays * DAY_MS);
  return cert;
}

export function createClientCA(commonName: string, validDays = 30): CertKey {
  const k = keys();
  const cert = certificate(k.publicKey, validDays);
  const subject = [{ name: "commonName", value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(k.forgeKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: k.pem };
}

/** A clientAuth certificate with subject CN `commonName` (and DNS SANs when given), signed by `ca`. */
export function createClientCert(
  ca: CertKey,
  commonName: string,
  dnsNames: string[] = [],
  validDays = 30,
): CertKey {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const k = keys();
  const cert = certificate(k.publicKey, validDays);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
    ...(dnsNames.length > 0
      ? [{ name: "subjectAltName", altNames: dnsNames.map((value) => ({ type: 2, value })) }]
      : []),
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: k.pem };
}
