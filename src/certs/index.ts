/** CA and serving certificate for the admission webhook (node-forge); storage and rotation live elsewhere. */
export {
  caBundleOf,
  createCA,
  createServingCert,
  needsRotation,
  subjectAltNames,
  type ExpectedNames,
  type PemPair,
} from "./certs.js";
