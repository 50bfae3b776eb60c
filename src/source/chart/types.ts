/** What the chart source takes and returns. */
import type { GitCredentials } from "../types.js";

/** username/password or token, and `caCert` (the Secret's `ca.crt`): the Git credentials' shape. */
export type ChartCredentials = GitCredentials;

export interface ChartRequest {
  /** A Helm repository (`https://host/path`, `…/index.yaml`) or an OCI registry (`oci://host/path`). */
  repoURL: string;
  chart: string;
  /** An exact chart version, a semver range, or empty/`HEAD` for the highest stable version. */
  revision: string;
  credentials?: ChartCredentials;
}

export interface ChartCheckout {
  /** The resolved chart version: what status.revision records and followers render. */
  commit: string;
  /** The unpacked chart (Chart.yaml at its root); shared and cached, so read-only. */
  dir: string;
}
