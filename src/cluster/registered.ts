/**
 * A registered cluster: a Secret in gitgate's namespace labelled `gitgate.io/secret-type: cluster`
 * with `name` and `kubeconfig`. The kubeconfig is hostile input: it is size-capped, parsed as data,
 * and only inline credentials pass — a bearer token or a client certificate, with the CA as data.
 * exec and auth-provider plugins (a command gitgate would run), file paths (files of gitgate's own
 * pod), impersonation, proxies and insecure-skip-tls-verify are refused with a clear reason.
 */
import { load as loadYaml } from "js-yaml";
import { terminal, type GitgateError } from "../errors.js";
import { isPlainObject, type KubeObject } from "../manifest/object.js";
import type { ResolvedKubeConfig } from "./kubeconfig.js";

export const CLUSTER_SECRET_LABEL = "gitgate.io/secret-type";
export const CLUSTER_SECRET_VALUE = "cluster";
/** A kubeconfig with one cluster, one user and inline certificates fits easily. */
export const MAX_KUBECONFIG_BYTES = 64 * 1024;
/** A DNS label: the name goes into webhook paths, metrics labels and conditions. */
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface ClusterCredentials {
  /** The name GitApps use in spec.destination.cluster. */
  name: string;
  server: string;
  caData: string;
  token?: string;
  certData?: string;
  keyData?: string;
  /** The validating webhook's failurePolicy on that cluster (Secret key `failurePolicy`); absent: the config's. */
  failurePolicy?: "Fail" | "Ignore";
  /**
   * The names (CN or DNS SAN) of the client certificate this cluster's kube-apiserver presents to
   * gitgate (Secret key `webhookClientNames`): only such a certificate may post on this cluster's
   * webhook path, and such a certificate only there.
   */
  webhookClientNames?: string[];
}

export type ParsedClusterSecret =
  { ok: true; cluster: ClusterCredentials } | { ok: false; error: GitgateError };

const ALLOWED_CLUSTER_KEYS = new Set(["server", "certificate-authority-data"]);
const ALLOWED_USER_KEYS = new Set(["token", "client-certificate-data", "client-key-data"]);

function invalid(secret: string, message: string): ParsedClusterSecret {
  return { ok: false, error: terminal("InvalidClusterSecret", `cluster Secret ${secret}: ${message}`) };
}

function decoded(data: unknown, key: string): string | undefined {
  if (!isPlainObject(data)) return undefined;
  const value = data[key];
  if (typeof value !== "string") return undefined;
  return Buffer.from(value, "base64").toString("utf8");
}

/** The entry of a kubeconfig list that the current context names (or the only one). */
function pick(list: unknown, name: string | undefined, field: string): Record<string, unknown> | string {
  if (!Array.isArray(list) || list.length === 0) return `no ${field}s`;
  if (list.length > 8) return `more than 8 ${field}s`;
  const entries: unknown[] = list;
  const found =
    name === undefined && entries.length === 1
      ? entries[0]
      : entries.find((e) => isPlainObject(e) && e.name === name);
  if (!isPlainObject(found) || !isPlainObject(found[field]))
    return `no ${field} ${JSON.stringify(name ?? "")}`;
  return found[field];
}

function currentNames(doc: Record<string, unknown>): { cluster?: string; user?: string } | string {
  const contexts = doc.contexts;
  if (contexts === undefined) return {};
  const ctx = pick(
    contexts,
    typeof doc["current-context"] === "string" ? doc["current-context"] : undefined,
    "context",
  );
  if (typeof ctx === "string") return ctx;
  const cluster = typeof ctx.cluster === "string" ? ctx.cluster : undefined;
  const user = typeof ctx.user === "string" ? ctx.user : undefined;
  return { cluster, user };
}

function strings(obj: Record<string, unknown>, allowed: Set<string>, what: string): string | undefined {
  for (const [key, value] of Object.entries(obj)) {
    if (!allowed.has(key))
      return (
        `${what} field ${JSON.stringify(key.slice(0, 64))} is not allowed (only ${[...allowed].join(", ")}: ` +
        "no exec or auth-provider plugins, file paths, impersonation or proxies)"
      );
    if (typeof value !== "string" || value === "") return `${what} field ${key} must be a non-empty string`;
  }
  return undefined;
}

function credentialsOf(
  name: string,
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
): ClusterCredentials | string {
  const bad = strings(cluster, ALLOWED_CLUSTER_KEYS, "cluster") ?? strings(user, ALLOWED_USER_KEYS, "user");
  if (bad) return bad;
  const server = typeof cluster.server === "string" ? cluster.server : "";
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return "cluster server is not a URL";
  }
  if (url.protocol !== "https:" || url.username || url.password)
    return "cluster server must be an https:// URL without credentials";
  const ca = Buffer.from(
    typeof cluster["certificate-authority-data"] === "string" ? cluster["certificate-authority-data"] : "",
    "base64",
  ).toString("utf8");
  if (!ca.includes("BEGIN CERTIFICATE")) return "certificate-authority-data (PEM, base64) is required";
  const token = typeof user.token === "string" ? user.token : undefined;
  const cert =
    typeof user["client-certificate-data"] === "string" ? user["client-certificate-data"] : undefined;
  const key = typeof user["client-key-data"] === "string" ? user["client-key-data"] : undefined;
  if (!token && !(cert && key))
    return "the user needs a token, or client-certificate-data with client-key-data";
  if ((cert === undefined) !== (key === undefined))
    return "client-certificate-data and client-key-data go together";
  return {
    name,
    server: server.replace(/\/$/, ""),
    caData: ca,
    ...(token ? { token } : {}),
    ...(cert && key
      ? {
          certData: Buffer.from(cert, "base64").toString("utf8"),
          keyData: Buffer.from(key, "base64").toString("utf8"),
        }
      : {}),
  };
}

/** Validates a cluster Secret; never throws, never echoes a credential in its error. */
export function parseClusterSecret(secret: KubeObject): ParsedClusterSecret {
  const where = `${secret.metadata.namespace ?? ""}/${secret.metadata.name ?? ""}`;
  const data = (secret as { data?: unknown }).data;
  const name = decoded(data, "name");
  if (!name || !NAME_PATTERN.test(name))
    return invalid(where, "`name` must be a DNS label (a-z, 0-9, -; at most 63)");
  const raw = isPlainObject(data) && typeof data.kubeconfig === "string" ? data.kubeconfig : undefined;
  if (!raw) return invalid(where, "`kubeconfig` is missing");
  if (raw.length > (MAX_KUBECONFIG_BYTES * 4) / 3 + 4)
    return invalid(where, `kubeconfig larger than ${MAX_KUBECONFIG_BYTES} bytes`);
  const text = Buffer.from(raw, "base64").toString("utf8");
  let doc: unknown;
  try {
    // The default schema builds plain data only (no JS types); aliases are shared, not expanded.
    doc = loadYaml(text, { json: true });
  } catch {
    return invalid(where, "kubeconfig is not valid YAML");
  }
  if (!isPlainObject(doc)) return invalid(where, "kubeconfig is not a mapping");
  const names = currentNames(doc);
  if (typeof names === "string") return invalid(where, `kubeconfig: ${names}`);
  const cluster = pick(doc.clusters, names.cluster, "cluster");
  if (typeof cluster === "string") return invalid(where, `kubeconfig: ${cluster}`);
  const user = pick(doc.users, names.user, "user");
  if (typeof user === "string") return invalid(where, `kubeconfig: ${user}`);
  const creds = credentialsOf(name, cluster, user);
  if (typeof creds === "string") return invalid(where, `kubeconfig: ${creds}`);
  const failurePolicy = decoded(data, "failurePolicy");
  if (failurePolicy !== undefined && failurePolicy !== "Fail" && failurePolicy !== "Ignore")
    return invalid(where, "`failurePolicy` must be Fail or Ignore");
  const clientNames = webhookClientNamesOf(decoded(data, "webhookClientNames"));
  if (typeof clientNames === "string") return invalid(where, clientNames);
  return {
    ok: true,
    cluster: {
      ...creds,
      ...(failurePolicy ? { failurePolicy } : {}),
      ...(clientNames ? { webhookClientNames: clientNames } : {}),
    },
  };
}

const MAX_CLIENT_NAMES = 16;
/** A certificate CN or DNS name: no spaces, commas or control characters, at most 253. */
const CLIENT_NAME = /^[A-Za-z0-9*][A-Za-z0-9.:_@*-]{0,252}$/;

/** `webhookClientNames`: names separated by commas or whitespace; an error says which is wrong. */
export function webhookClientNamesOf(raw: string | undefined): string[] | undefined | string {
  if (raw === undefined) return undefined;
  if (raw.length > MAX_CLIENT_NAMES * 254) return "`webhookClientNames` is too long";
  const names = raw.split(/[\s,]+/).filter((n) => n !== "");
  if (names.length === 0) return "`webhookClientNames` is empty (leave the key out instead)";
  if (names.length > MAX_CLIENT_NAMES)
    return `\`webhookClientNames\` has more than ${MAX_CLIENT_NAMES} names`;
  const bad = names.find((n) => !CLIENT_NAME.test(n));
  if (bad !== undefined)
    return `\`webhookClientNames\`: ${JSON.stringify(bad.slice(0, 64))} is not a certificate name`;
  return names;
}

/** The connection gitgate makes to the cluster: exactly the validated fields, nothing else. */
export function kubeConfigOf(c: ClusterCredentials): ResolvedKubeConfig {
  return {
    source: `cluster Secret ${c.name}`,
    context: c.name,
    clusterName: c.name,
    userName: c.name,
    cluster: { server: c.server, caData: c.caData, insecureSkipTLSVerify: false },
    user: {
      ...(c.token ? { token: c.token } : {}),
      ...(c.certData ? { certData: c.certData } : {}),
      ...(c.keyData ? { keyData: c.keyData } : {}),
    },
  };
}

/** Whether two parses would connect the same way (a Secret update that changes nothing is no restart). */
export function sameCredentials(a: ClusterCredentials, b: ClusterCredentials): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
