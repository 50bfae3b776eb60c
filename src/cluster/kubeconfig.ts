/**
 * Kubeconfig as kubectl reads it, parsed by gitgate itself (pure: text in, data out) so that
 * @kubernetes/client-node — ~70 MiB and seconds of start-up — is loaded only for the exec and
 * auth-provider users that need it (kubeconfig-load.ts). Files are merged first-wins by name as
 * KUBECONFIG lists are; only the current context's cluster and user are validated (an unused
 * malformed entry does not stop gitgate, as it does not stop kubectl). Error messages name the file,
 * the entry and the field, never a token, password or key.
 */
import { isAbsolute, join } from "node:path";
import { load as loadYaml } from "js-yaml";
import { terminal, type GitgateError } from "../errors.js";
import { isPlainObject } from "../manifest/object.js";

/** Clusters, users and contexts per file: a config with hundreds of clusters still fits. */
export const MAX_KUBECONFIG_ENTRIES = 1000;

export interface KubeCluster {
  /** https URL without a trailing slash. */
  server: string;
  /** PEM text (decoded from certificate-authority-data). */
  caData?: string;
  /** Absolute path. */
  caFile?: string;
  insecureSkipTLSVerify: boolean;
  tlsServerName?: string;
}

export interface KubeUser {
  token?: string;
  /** Re-read while running: projected service-account tokens rotate. */
  tokenFile?: string;
  /** PEM text. */
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  impersonate?: string;
  impersonateGroups?: string[];
  /** As written; delegated to client-node (loaded only then). */
  exec?: Record<string, unknown>;
  authProvider?: Record<string, unknown>;
}

/** The current context's cluster and user. */
export interface ResolvedKubeConfig {
  /** Where it came from, for messages: a file, or "in-cluster". */
  source: string;
  context: string;
  clusterName: string;
  userName: string;
  cluster: KubeCluster;
  user: KubeUser;
  namespace?: string;
}

/** One named entry of clusters/users/contexts, with the directory its relative paths start from. */
export interface Entry {
  name: string;
  body: Record<string, unknown>;
  file: string;
  dir: string;
}

export interface KubeConfigDoc {
  currentContext?: string;
  clusters: Entry[];
  users: Entry[];
  contexts: Entry[];
}

type Field = "cluster" | "user" | "context";

export function invalidKubeconfig(where: string, message: string): GitgateError {
  return terminal("InvalidKubeconfig", `kubeconfig ${where}: ${message}`);
}

const quote = (name: string): string => JSON.stringify(name.slice(0, 64));

function entries(doc: Record<string, unknown>, field: Field, file: string, dir: string): Entry[] {
  const list = doc[`${field}s`];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalidKubeconfig(file, `${field}s is not a list`);
  if (list.length > MAX_KUBECONFIG_ENTRIES)
    throw invalidKubeconfig(file, `more than ${MAX_KUBECONFIG_ENTRIES} ${field}s`);
  const out: Entry[] = [];
  (list as unknown[]).forEach((item, i) => {
    if (!isPlainObject(item) || typeof item.name !== "string" || item.name === "")
      throw invalidKubeconfig(file, `${field}s[${i}] has no name`);
    const body = item[field] ?? {};
    if (!isPlainObject(body))
      throw invalidKubeconfig(file, `${field}s[${i}] (${quote(item.name)}): ${field} is not a mapping`);
    out.push({ name: item.name, body, file, dir });
  });
  return out;
}

/** One kubeconfig file's text; `file` names it in errors and anchors its relative paths. */
export function parseKubeConfig(text: string, file: string, dir: string): KubeConfigDoc {
  let doc: unknown;
  try {
    // Plain data only (no JS types); aliases are shared, not expanded.
    doc = loadYaml(text, { json: true });
  } catch {
    throw invalidKubeconfig(file, "not valid YAML");
  }
  if (doc === undefined || doc === null) doc = {};
  if (!isPlainObject(doc)) throw invalidKubeconfig(file, "not a mapping");
  const current = doc["current-context"];
  if (current !== undefined && current !== null && typeof current !== "string")
    throw invalidKubeconfig(file, "current-context is not a string");
  return {
    ...(current ? { currentContext: current } : {}),
    clusters: entries(doc, "cluster", file, dir),
    users: entries(doc, "user", file, dir),
    contexts: entries(doc, "context", file, dir),
  };
}

/** KUBECONFIG's merge: the first file to name an entry (or set current-context) wins. */
export function mergeKubeConfigs(docs: readonly KubeConfigDoc[]): KubeConfigDoc {
  const firstWins = (lists: Entry[][]): Entry[] => {
    const seen = new Map<string, Entry>();
    for (const list of lists) for (const e of list) if (!seen.has(e.name)) seen.set(e.name, e);
    return [...seen.values()];
  };
  const current = docs.find((d) => d.currentContext)?.currentContext;
  return {
    ...(current ? { currentContext: current } : {}),
    clusters: firstWins(docs.map((d) => d.clusters)),
    users: firstWins(docs.map((d) => d.users)),
    contexts: firstWins(docs.map((d) => d.contexts)),
  };
}

function optionalString(e: Entry, field: Field, key: string): string | undefined {
  const v = e.body[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string")
    throw invalidKubeconfig(e.file, `${field} ${quote(e.name)}: ${key} is not a string`);
  return v;
}

/** Base64 (whitespace allowed), decoded; the value itself never appears in the error. */
function base64Field(e: Entry, field: Field, key: string): string | undefined {
  const v = optionalString(e, field, key);
  if (v === undefined) return undefined;
  if (!/^[A-Za-z0-9+/=\s]*$/.test(v))
    throw invalidKubeconfig(e.file, `${field} ${quote(e.name)}: ${key} is not base64`);
  return Buffer.from(v, "base64").toString("utf8");
}

function pathField(e: Entry, field: Field, key: string): string | undefined {
  const v = optionalString(e, field, key);
  return v === undefined || isAbsolute(v) ? v : join(e.dir, v);
}

/** Data and file of the same thing: kubectl refuses both, so does gitgate. */
function dataOrFile(e: Entry, field: Field, key: string): { data?: string; file?: string } {
  const data = base64Field(e, field, `${key}-data`);
  const file = pathField(e, field, key);
  if (data !== undefined && file !== undefined)
    throw invalidKubeconfig(e.file, `${field} ${quote(e.name)}: both ${key} and ${key}-data are set`);
  return { ...(data !== undefined ? { data } : {}), ...(file !== undefined ? { file } : {}) };
}

/** A URL longer than this is no API server's. */
const MAX_SERVER_LENGTH = 2048;

export function serverUrl(raw: string, where: string): string {
  if (raw.length > MAX_SERVER_LENGTH)
    throw invalidKubeconfig(where, `server is longer than ${MAX_SERVER_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidKubeconfig(where, "server is not a URL");
  }
  if (url.protocol !== "https:")
    throw invalidKubeconfig(where, `server must be https:// (gitgate talks TLS only), not ${url.protocol}`);
  if (url.username || url.password) throw invalidKubeconfig(where, "server URL must not carry credentials");
  // A loop, not /\/+$/: that regex is quadratic on a run of slashes followed by anything else.
  let end = raw.length;
  while (end > 0 && raw[end - 1] === "/") end--;
  return raw.slice(0, end);
}

export function clusterOf(e: Entry): KubeCluster {
  const where = `${e.file}: cluster ${quote(e.name)}`;
  const server = optionalString(e, "cluster", "server");
  if (server === undefined) throw invalidKubeconfig(e.file, `cluster ${quote(e.name)}: server is not set`);
  if (e.body["proxy-url"] !== undefined)
    throw invalidKubeconfig(e.file, `cluster ${quote(e.name)}: proxy-url is not supported`);
  const skip = e.body["insecure-skip-tls-verify"];
  if (skip !== undefined && skip !== null && typeof skip !== "boolean")
    throw invalidKubeconfig(e.file, `cluster ${quote(e.name)}: insecure-skip-tls-verify is not a boolean`);
  const ca = dataOrFile(e, "cluster", "certificate-authority");
  if (skip === true && (ca.data !== undefined || ca.file !== undefined))
    throw invalidKubeconfig(
      e.file,
      `cluster ${quote(e.name)}: insecure-skip-tls-verify with a certificate-authority (kubectl refuses it too)`,
    );
  const tlsServerName = optionalString(e, "cluster", "tls-server-name");
  return {
    server: serverUrl(server, where),
    ...(ca.data !== undefined ? { caData: ca.data } : {}),
    ...(ca.file !== undefined ? { caFile: ca.file } : {}),
    insecureSkipTLSVerify: skip === true,
    ...(tlsServerName ? { tlsServerName } : {}),
  };
}

/** A token goes into a header: visible ASCII only (and never into a message). */
export const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

function plugins(e: Entry): Pick<KubeUser, "exec" | "authProvider"> {
  const exec = e.body.exec;
  const provider = e.body["auth-provider"];
  for (const [key, v] of [
    ["exec", exec],
    ["auth-provider", provider],
  ] as const)
    if (v !== undefined && v !== null && !isPlainObject(v))
      throw invalidKubeconfig(e.file, `user ${quote(e.name)}: ${key} is not a mapping`);
  if (isPlainObject(exec) && isPlainObject(provider))
    throw invalidKubeconfig(e.file, `user ${quote(e.name)}: both exec and auth-provider are set`);
  return {
    ...(isPlainObject(exec) ? { exec } : {}),
    ...(isPlainObject(provider) ? { authProvider: provider } : {}),
  };
}

function impersonation(e: Entry): Pick<KubeUser, "impersonate" | "impersonateGroups"> {
  for (const key of ["as-uid", "as-user-extra"])
    if (e.body[key] !== undefined)
      throw invalidKubeconfig(e.file, `user ${quote(e.name)}: ${key} is not supported`);
  const as = optionalString(e, "user", "as");
  const groups = e.body["as-groups"];
  if (groups !== undefined && groups !== null) {
    if (!Array.isArray(groups) || groups.some((g) => typeof g !== "string") || groups.length > 100)
      throw invalidKubeconfig(e.file, `user ${quote(e.name)}: as-groups is not a list of names`);
    if (!as) throw invalidKubeconfig(e.file, `user ${quote(e.name)}: as-groups without as`);
  }
  return {
    ...(as ? { impersonate: as } : {}),
    ...(Array.isArray(groups) && groups.length > 0 ? { impersonateGroups: groups as string[] } : {}),
  };
}

export function userOf(e: Entry): KubeUser {
  const name = quote(e.name);
  const token = optionalString(e, "user", "token");
  if (token !== undefined && !TOKEN_PATTERN.test(token))
    throw invalidKubeconfig(e.file, `user ${name}: token has characters a header cannot carry`);
  // `token-file` is what client-node read; kubectl's key is `tokenFile`.
  const tokenFile = pathField(e, "user", "tokenFile") ?? pathField(e, "user", "token-file");
  const username = optionalString(e, "user", "username");
  const password = optionalString(e, "user", "password");
  if ((token ?? tokenFile) !== undefined && (username ?? password) !== undefined)
    throw invalidKubeconfig(e.file, `user ${name}: both a token and a username/password are set`);
  const cert = dataOrFile(e, "user", "client-certificate");
  const key = dataOrFile(e, "user", "client-key");
  if ((cert.data ?? cert.file) !== undefined && (key.data ?? key.file) === undefined)
    throw invalidKubeconfig(e.file, `user ${name}: client-certificate without client-key`);
  if ((key.data ?? key.file) !== undefined && (cert.data ?? cert.file) === undefined)
    throw invalidKubeconfig(e.file, `user ${name}: client-key without client-certificate`);
  const user: KubeUser = {
    // client-go: an inline token wins over tokenFile.
    ...(token !== undefined ? { token } : tokenFile !== undefined ? { tokenFile } : {}),
    ...(cert.data !== undefined ? { certData: cert.data } : {}),
    ...(cert.file !== undefined ? { certFile: cert.file } : {}),
    ...(key.data !== undefined ? { keyData: key.data } : {}),
    ...(key.file !== undefined ? { keyFile: key.file } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...impersonation(e),
    ...plugins(e),
  };
  return user;
}

/** The context to use (`context`, else current-context), its cluster and user, validated. */
export function selectKubeConfig(doc: KubeConfigDoc, source: string, context?: string): ResolvedKubeConfig {
  const name = context ?? doc.currentContext;
  if (!name) throw invalidKubeconfig(source, "current-context is not set");
  const ctx = doc.contexts.find((c) => c.name === name);
  if (!ctx) throw invalidKubeconfig(source, `context ${quote(name)} does not exist`);
  const clusterName = optionalString(ctx, "context", "cluster");
  if (!clusterName) throw invalidKubeconfig(ctx.file, `context ${quote(name)} names no cluster`);
  const clusterEntry = doc.clusters.find((c) => c.name === clusterName);
  if (!clusterEntry) throw invalidKubeconfig(source, `cluster ${quote(clusterName)} does not exist`);
  const userName = optionalString(ctx, "context", "user") ?? "";
  const userEntry = userName ? doc.users.find((u) => u.name === userName) : undefined;
  if (userName && !userEntry) throw invalidKubeconfig(source, `user ${quote(userName)} does not exist`);
  const namespace = optionalString(ctx, "context", "namespace");
  return {
    source,
    context: name,
    clusterName,
    userName,
    cluster: clusterOf(clusterEntry),
    // A context without a user is anonymous (kubectl allows it).
    user: userEntry ? userOf(userEntry) : {},
    ...(namespace ? { namespace } : {}),
  };
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** In a pod, as client-go's InClusterConfig: the Service's address, the mounted CA and token. */
export function inClusterConfig(
  env: { KUBERNETES_SERVICE_HOST?: string; KUBERNETES_SERVICE_PORT?: string },
  dir = SERVICE_ACCOUNT_DIR,
): ResolvedKubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw invalidKubeconfig("in-cluster", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return {
    source: "in-cluster",
    context: "in-cluster",
    clusterName: "in-cluster",
    userName: "in-cluster",
    cluster: {
      server: serverUrl(`https://${bracketed}:${port}`, "in-cluster"),
      caFile: join(dir, "ca.crt"),
      insecureSkipTLSVerify: false,
    },
    user: { tokenFile: join(dir, "token") },
  };
}
