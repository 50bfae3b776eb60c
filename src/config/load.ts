/**
 * Loads the config once at startup: defaults, then the YAML file, then environment overrides.
 * The only module that reads process.env. Errors name the file and the offending field.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import yaml from "js-yaml";
import { terminal } from "../errors.js";
import { isPlainObject } from "../manifest/object.js";
import { configSchema, type GitgateConfig } from "./schema.js";

export const DEFAULT_CONFIG: GitgateConfig = {
  clusterName: "kubernetes",
  namespace: "gitgate-system",
  logLevel: "info",
  enforcement: {
    defaultMode: "enforce",
    exemptUsers: [],
    exemptGroups: ["system:masters"],
    breakGlass: { groups: [], maxDuration: "4h", defaultDuration: "1h" },
  },
  sync: {
    concurrency: 16,
    workers: 4,
    maxPruneShare: 0.5,
    maxFetchBytes: 512 * 1024 * 1024,
    minInterval: "5s",
    statusHeartbeat: "5m",
  },
  render: {
    timeout: "60s",
    maxFileBytes: 4 * 1024 * 1024,
    maxRepoFileBytes: 64 * 1024 * 1024,
    maxObjects: 10_000,
  },
  webhook: {
    enabled: true,
    port: 9443,
    failurePolicy: "Fail",
    timeoutSeconds: 5,
    certSecret: "gitgate-webhook-tls",
    register: true,
    namePrefix: "gitgate",
  },
  hooks: { allowUnsigned: false, maxBodyBytes: 1024 * 1024 },
  alerts: { channels: [], dedupWindow: "10m", ratePerMinute: 20 },
  leaderElection: { enabled: true, leaseName: "gitgate-leader" },
  dashboard: {
    enabled: false,
    address: "127.0.0.1:8080",
    secureCookie: false,
    activityEntries: 500,
    streamsPerUser: 4,
    failedLoginsPerMinute: 10,
  },
};

function merge<T>(base: T, override: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(override))
    return (override === undefined ? base : override) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = merge((base as Record<string, unknown>)[k], v);
  return out as T;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(configSchema);

/** Validates a parsed config document; `where` names it in errors. */
export function parseConfig(doc: unknown, where: string): GitgateConfig {
  if (doc === null || doc === undefined) doc = {};
  if (!validate(doc)) {
    const problems = (validate.errors ?? []).map(
      (e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`,
    );
    throw terminal("InvalidConfig", `${where}: ${[...new Set(problems)].join("; ")}`);
  }
  return merge(DEFAULT_CONFIG, doc);
}

export async function loadConfigFile(path: string | undefined): Promise<GitgateConfig> {
  if (!path) return structuredClone(DEFAULT_CONFIG);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw terminal("InvalidConfig", `cannot read config file ${path}: ${(err as Error).message}`, err);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: path });
  } catch (err) {
    throw terminal("InvalidConfig", `config file ${(err as Error).message}`, err);
  }
  return parseConfig(doc, `config file ${path}`);
}

/** Secrets for the push receiver may come from the environment (mounted from a Secret in the chart). */
export function applyEnv(config: GitgateConfig, env: NodeJS.ProcessEnv = process.env): GitgateConfig {
  const out = structuredClone(config);
  if (env.GITGATE_GITHUB_WEBHOOK_SECRET) out.hooks.githubSecret = env.GITGATE_GITHUB_WEBHOOK_SECRET;
  if (env.GITGATE_GITLAB_WEBHOOK_TOKEN) out.hooks.gitlabToken = env.GITGATE_GITLAB_WEBHOOK_TOKEN;
  if (env.GITGATE_LOG_LEVEL) out.logLevel = env.GITGATE_LOG_LEVEL as GitgateConfig["logLevel"];
  return out;
}

export interface Environment {
  kubebuilderAssets?: string;
  /** gitgate's cache root: GITGATE_CACHE, else `$XDG_CACHE_HOME/gitgate`, else `~/.cache/gitgate`. */
  cacheDir: string;
  inCluster: boolean;
  podName?: string;
  podNamespace?: string;
  /** HOME, for tools spawned with a minimal environment. */
  home?: string;
  /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or their lower-case forms), for Git over HTTP(S). */
  proxy: { httpsProxy?: string; httpProxy?: string; noProxy?: string };
  /** helm and kubectl/kustomize as the environment names them (render/tools.ts resolves them). */
  tools: {
    helm?: string;
    kubectl?: string;
    kustomize?: string;
    /** PATH, searched for bare tool names. */
    searchPath?: string;
  };
}

/** The one default of the cache directory. */
function cacheDirOf(env: NodeJS.ProcessEnv): string {
  if (env.GITGATE_CACHE) return env.GITGATE_CACHE;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "gitgate");
  return join(env.HOME || homedir(), ".cache", "gitgate");
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  return {
    kubebuilderAssets: env.KUBEBUILDER_ASSETS || undefined,
    cacheDir: cacheDirOf(env),
    inCluster: Boolean(env.KUBERNETES_SERVICE_HOST),
    podName: env.POD_NAME || env.HOSTNAME || undefined,
    podNamespace: env.POD_NAMESPACE || undefined,
    home: env.HOME || undefined,
    proxy: {
      httpsProxy: env.HTTPS_PROXY || env.https_proxy || undefined,
      httpProxy: env.HTTP_PROXY || env.http_proxy || undefined,
      noProxy: env.NO_PROXY || env.no_proxy || undefined,
    },
    tools: {
      helm: env.GITGATE_HELM || undefined,
      kubectl: env.GITGATE_KUBECTL_KUSTOMIZE || undefined,
      kustomize: env.GITGATE_KUSTOMIZE || undefined,
      searchPath: env.PATH || undefined,
    },
  };
}

/** The whole environment plus overrides, for a child process that must inherit it (an install script). */
export function inheritedEnvironment(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
