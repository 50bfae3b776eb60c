/**
 * Client certificates for the test control plane: a CA and clientAuth certificates it signs, as a
 * cluster operator makes them for kube-apiserver's admission webhook kubeconfig (and, in tests, the
 * wrong ones). The certificates themselves are certs/'s.
 */
import { createCA, createClientCert as signClientCert, type PemPair } from "../certs/certs.js";

export type CertKey = PemPair;

export function createClientCA(commonName: string, validDays = 30): CertKey {
  return createCA(commonName, validDays);
}

/** A clientAuth certificate with subject CN `commonName` (and DNS SANs when given), signed by `ca`. */
export function createClientCert(
  ca: CertKey,
  commonName: string,
  dnsNames: string[] = [],
  validDays = 30,
): CertKey {
  return signClientCert(ca, commonName, dnsNames, validDays);
}
