/**
 * Where gitgate's kubeconfig comes from (--kubeconfig, in-cluster, KUBECONFIG, ~/.kube/config) and
 * what it puts on each request. Files are size-capped; the token and certificate files are re-read
 * whenever the transport refreshes its credentials (kubelet rotates projected tokens).
 * @kubernetes/client-node is imported only for exec and auth-provider users, on their first request.
 */
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { RequestOptions } from "node:https";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { kubeEnvironment, type KubeEnvironment } from "../config/kube-env.js";
import { GitgateError, messageOf, terminal, transient } from "../errors.js";
import {
  inClusterConfig,
  invalidKubeconfig,
  mergeKubeConfigs,
  parseKubeConfig,
  selectKubeConfig,
  SERVICE_ACCOUNT_DIR,
  TOKEN_PATTERN,
  type KubeCluster,
  type KubeConfigDoc,
  type KubeUser,
  type ResolvedKubeConfig,
} from "./kubeconfig.js";

/** A kubeconfig file; one with hundreds of clusters and inline certificates stays well below. */
export const MAX_KUBECONFIG_FILE_BYTES = 4 * 1024 * 1024;
/** Files in KUBECONFIG. */
export const MAX_KUBECONFIG_FILES = 32;
const MAX_TOKEN_BYTES = 64 * 1024;
/** A CA bundle, a client certificate or key. */
const MAX_PEM_BYTES = 1024 * 1024;

const ERRNO: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "is a directory",
};

/** "no such file (ENOENT)": the reason without the path node puts in its message again. */
function codeOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (!code) return messageOf(err);
  return ERRNO[code] ? `${ERRNO[code]} (${code})` : code;
}

function tooLarge(what: string, path: string, max: number): GitgateError {
  return terminal("InvalidKubeconfig", `${what} ${path} is larger than ${max} bytes`);
}

/** At most `max` bytes of `path` (read at start: synchronous, as the transport is built synchronously). */
function readCappedSync(path: string, max: number, what: string): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (let got = 1; got > 0 && n <= max; n += got) got = readSync(fd, buf, n, max + 1 - n, null);
    if (n > max) throw tooLarge(what, path, max);
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof GitgateError) throw err;
    throw terminal("InvalidKubeconfig", `cannot read ${what} ${path}: ${codeOf(err)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** At most `max` bytes of a credentials file, read while running (a failure is retried). */
export async function readCapped(path: string, max: number, what: string): Promise<Buffer> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (let got = 1; got > 0 && n <= max; n += got)
      got = (await handle.read(buf, n, max + 1 - n, null)).bytesRead;
    if (n > max) throw tooLarge(what, path, max);
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof GitgateError) throw err;
    throw transient("CredentialsUnreadable", `cannot read ${what} ${path}: ${codeOf(err)}`);
  } finally {
    await handle?.close();
  }
}

function readDoc(path: string): KubeConfigDoc {
  const abs = resolve(path);
  const text = readCappedSync(abs, MAX_KUBECONFIG_FILE_BYTES, "kubeconfig").toString("utf8");
  return parseKubeConfig(text, abs, dirname(abs));
}

export interface KubeConfigSource {
  kubeconfig?: string;
  inCluster?: boolean;
  /** For tests; the process's otherwise. */
  env?: KubeEnvironment;
  /** The service-account directory (tests); the pod's otherwise. */
  serviceAccountDir?: string;
}

/** The files KUBECONFIG names (kubectl skips the ones that do not exist), else ~/.kube/config. */
export function defaultKubeconfigFiles(env: KubeEnvironment, exists: (p: string) => boolean): string[] {
  const list = (env.KUBECONFIG ?? "").split(delimiter).filter((f) => f !== "");
  if (list.length > MAX_KUBECONFIG_FILES)
    throw invalidKubeconfig("KUBECONFIG", `names more than ${MAX_KUBECONFIG_FILES} files`);
  if (list.length > 0) {
    const present = list.filter(exists);
    if (present.length === 0) throw invalidKubeconfig("KUBECONFIG", "none of its files exists");
    return present;
  }
  const home = env.HOME || homedir();
  const file = join(home, ".kube", "config");
  return exists(file) ? [file] : [];
}

function inCluster(env: KubeEnvironment, dir: string): KubeConfig {
  const resolved = inClusterConfig(env, dir);
  // Fail at start, not at the first request, when the pod has no token mounted.
  if (resolved.user.tokenFile)
    readCappedSync(resolved.user.tokenFile, MAX_TOKEN_BYTES, "service-account token");
  return new KubeConfig(resolved);
}

/** gitgate's own connection to its cluster (synchronous: called while composing the runtime). */
export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const env = source.env ?? kubeEnvironment();
  const saDir = source.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (source.kubeconfig) {
    const file = resolve(source.kubeconfig);
    return new KubeConfig(selectKubeConfig(readDoc(file), file));
  }
  if (source.inCluster) return inCluster(env, saDir);
  const files = defaultKubeconfigFiles(env, existsSync);
  if (files.length > 0) {
    const where = files.length === 1 ? (files[0] ?? "") : `KUBECONFIG (${files.length} files)`;
    return new KubeConfig(selectKubeConfig(mergeKubeConfigs(files.map(readDoc)), where));
  }
  // As client-node did: no kubeconfig file, but a pod's service account.
  if (existsSync(join(saDir, "token"))) return inCluster(env, saDir);
  throw terminal(
    "NoKubeconfig",
    "no kubeconfig: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod",
  );
}

/** What a request to the API server carries (merged into node:https request options). */
export interface HttpsCredentials {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  /** Basic auth, `user:password`. */
  auth?: string;
  headers: Record<string, string | string[]>;
}

/** The credentials client-node's exec/auth-provider plugins produce (it is imported only here). */
async function pluginCredentials(
  resolved: ResolvedKubeConfig,
): Promise<() => Promise<Pick<HttpsCredentials, "cert" | "key" | "headers">>> {
  const { KubeConfig: ClientNodeConfig } = await import("@kubernetes/client-node");
  const kc = new ClientNodeConfig();
  const { cluster, user, userName } = resolved;
  kc.loadFromOptions({
    clusters: [{ name: "gitgate", server: cluster.server, skipTLSVerify: cluster.insecureSkipTLSVerify }],
    users: [{ name: userName || "gitgate", exec: user.exec, authProvider: user.authProvider }],
    contexts: [{ name: "gitgate", cluster: "gitgate", user: userName || "gitgate" }],
    currentContext: "gitgate",
  });
  return async () => {
    const opts: RequestOptions = {};
    try {
      // The same instance each time: the exec plugin's credential is cached until it expires.
      await kc.applyToHTTPSOptions(opts);
    } catch (err) {
      throw transient(
        "CredentialsPluginFailed",
        `kubeconfig user ${JSON.stringify(userName.slice(0, 64))}: ${user.exec ? "exec" : "auth-provider"} plugin failed: ${messageOf(err).slice(0, 300)}`,
      );
    }
    const headers = (opts.headers ?? {}) as Record<string, string>;
    const auth: Record<string, string> = headers.Authorization
      ? { Authorization: headers.Authorization }
      : {};
    return {
      ...(opts.cert ? { cert: opts.cert as string | Buffer } : {}),
      ...(opts.key ? { key: opts.key as string | Buffer } : {}),
      headers: auth,
    };
  };
}

async function pem(
  data: string | undefined,
  file: string | undefined,
  what: string,
): Promise<string | Buffer | undefined> {
  if (data !== undefined) return data;
  return file === undefined ? undefined : readCapped(file, MAX_PEM_BYTES, what);
}

async function bearer(user: KubeUser): Promise<string | undefined> {
  if (user.token !== undefined) return user.token;
  if (user.tokenFile === undefined) return undefined;
  const token = (await readCapped(user.tokenFile, MAX_TOKEN_BYTES, "token file")).toString("utf8").trim();
  if (token === "") return undefined;
  if (!TOKEN_PATTERN.test(token))
    throw terminal("InvalidKubeconfig", `token file ${user.tokenFile} has characters a header cannot carry`);
  return token;
}

/** A resolved kubeconfig and the credentials it yields. */
export class KubeConfig {
  private plugin?: Promise<() => Promise<Pick<HttpsCredentials, "cert" | "key" | "headers">>>;

  constructor(readonly resolved: ResolvedKubeConfig) {}

  get cluster(): KubeCluster {
    return this.resolved.cluster;
  }

  get user(): KubeUser {
    return this.resolved.user;
  }

  /** Whether an exec or auth-provider plugin (through client-node) supplies the credentials. */
  get usesPlugin(): boolean {
    return this.user.exec !== undefined || this.user.authProvider !== undefined;
  }

  /** Read afresh on every call: the caller decides how often (the transport: once a minute). */
  async httpsOptions(): Promise<HttpsCredentials> {
    const { cluster, user } = this;
    const out: HttpsCredentials = { headers: {} };
    if (cluster.insecureSkipTLSVerify) out.rejectUnauthorized = false;
    if (cluster.tlsServerName) out.servername = cluster.tlsServerName;
    const [ca, cert, key, token] = await Promise.all([
      pem(cluster.caData, cluster.caFile, "certificate-authority"),
      pem(user.certData, user.certFile, "client-certificate"),
      pem(user.keyData, user.keyFile, "client-key"),
      bearer(user),
    ]);
    if (ca !== undefined) out.ca = ca;
    if (cert !== undefined) out.cert = cert;
    if (key !== undefined) out.key = key;
    if (token !== undefined) out.headers.Authorization = `Bearer ${token}`;
    if (user.username !== undefined) out.auth = `${user.username}:${user.password ?? ""}`;
    if (user.impersonate) out.headers["Impersonate-User"] = user.impersonate;
    if (user.impersonateGroups) out.headers["Impersonate-Group"] = user.impersonateGroups;
    if (this.usesPlugin) {
      this.plugin ??= pluginCredentials(this.resolved);
      const apply = await this.plugin.catch((err: unknown) => {
        this.plugin = undefined;
        throw transient("CredentialsPluginFailed", `cannot load client-node: ${messageOf(err)}`, err);
      });
      const fromPlugin = await apply();
      Object.assign(out.headers, fromPlugin.headers);
      if (fromPlugin.cert !== undefined) out.cert = fromPlugin.cert;
      if (fromPlugin.key !== undefined) out.key = fromPlugin.key;
    }
    return out;
  }

  /** The bearer token requests carry now (for a TokenReview of gitgate's own identity). */
  async bearerToken(): Promise<string | undefined> {
    const auth = (await this.httpsOptions()).headers.Authorization;
    return typeof auth === "string" && auth.startsWith("Bearer ") ? auth.slice("Bearer ".length) : undefined;
  }

  /** The client certificate (PEM) requests present, if any. */
  async clientCertificate(): Promise<Buffer | undefined> {
    const cert = (await this.httpsOptions()).cert;
    return cert === undefined ? undefined : Buffer.from(cert);
  }
}
