/** What render takes and returns, and the limits that bound it. */
import type { KubeObject } from "../manifest/object.js";

export type RenderKind = "directory" | "kustomize" | "helm";

export interface HelmSource {
  /** Default: the last segment of `path`, lowercased (sync should pass the GitApp name, as Argo CD does). */
  releaseName?: string;
  /**
   * Paths relative to the app path; they must stay inside the repository. `$values/<path>`: a file
   * of the values source's checkout (RenderRequest.valuesRepoDir), confined to it the same way.
   */
  valueFiles?: string[];
  /** Inline values; applied after valueFiles, so they win. Passed to helm through a temp file. */
  values?: Record<string, unknown>;
  /** `.Release.Namespace`; default: the request's destination namespace. */
  namespace?: string;
}

export interface RenderRequest {
  /** The checkout root on disk. Nothing outside it is ever read. */
  repoDir: string;
  /** The app directory inside the repo ("" or "." for the root). */
  path: string;
  helm?: HelmSource;
  /** Destination namespace (Helm's `--namespace`; defaulting object namespaces is normalize's job). */
  namespace: string;
  /** Checkout of the GitApp's values source: value files named `$values/<path>` are read there. */
  valuesRepoDir?: string;
}

export interface RenderedObject {
  object: KubeObject;
  /**
   * Repo-relative path (forward slashes) of the declaring file: the manifest file for directories, the
   * chart template (from helm's `# Source:`) joined onto the app path for Helm, the kustomization
   * directory for Kustomize.
   */
  file: string;
  /** 1-based line of the document in `file`; only known for plain directories. */
  line?: number;
}

export interface RenderResult {
  kind: RenderKind;
  /** In a deterministic order: files sorted by path, documents in file order, tool output order. */
  objects: RenderedObject[];
}

export interface RenderTools {
  helm?: string;
  /** Used as `kubectl kustomize` unless `kustomize` is set. */
  kubectl?: string;
  /** A standalone kustomize binary (`kustomize build`). */
  kustomize?: string;
}

export interface RenderOptions {
  /** Binaries (see render/tools.ts resolveTools); only needed for Kustomize and Helm apps. */
  tools: RenderTools;
  /** Largest manifest or value file read from Git. Default 4 MiB. */
  maxFileBytes?: number;
  /** Most objects one app may render to. Default 10,000. */
  maxObjects?: number;
  /** Wall-clock limit for helm/kustomize; the child is killed after it. Default 60 s. */
  timeoutMs?: number;
  /** Cap on tool output and on the total size of a directory's manifests. Default 64 MiB. */
  maxOutputBytes?: number;
  /** Where per-render scratch dirs (helm HOME, values file) go. Default: os.tmpdir(). */
  tmpDir?: string;
  /** Aborts a running tool (e.g. on shutdown). */
  signal?: AbortSignal;
}

export interface Limits {
  maxFileBytes: number;
  maxObjects: number;
  timeoutMs: number;
  maxOutputBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxFileBytes: 4 * 1024 * 1024,
  maxObjects: 10_000,
  timeoutMs: 60_000,
  maxOutputBytes: 64 * 1024 * 1024,
};

export function limitsOf(opts: RenderOptions): Limits {
  return {
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes,
    maxObjects: opts.maxObjects ?? DEFAULT_LIMITS.maxObjects,
    timeoutMs: opts.timeoutMs ?? DEFAULT_LIMITS.timeoutMs,
    maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_LIMITS.maxOutputBytes,
  };
}
