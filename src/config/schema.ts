/** The gitgate config file: its TypeScript shape and the JSON schema ajv checks it against. */
import type { EnforcementMode, IgnoreRule, UndeclaredPolicy } from "../manifest/desired.js";

export type ChannelType = "slack" | "teams" | "webhook";

export interface ChannelConfig {
  name: string;
  type: ChannelType;
  /** The URL itself (a secret for Slack and Teams), or where to read it. */
  url?: string;
  urlFrom?: { secretName: string; key: string; namespace?: string };
  /** HMAC key for `webhook` channels. */
  secret?: string;
  secretFrom?: { secretName: string; key: string; namespace?: string };
  /** Event types this channel gets; when absent, all but the opt-in `sync-succeeded`. */
  events?: string[];
}

export interface GitgateConfig {
  clusterName: string;
  /** gitgate's own namespace: its Lease, certificate Secret, and excluded from the webhooks. */
  namespace: string;
  logLevel: "trace" | "debug" | "info" | "warn" | "error" | "silent";
  /** Overrides the identity gitgate learns from the API server. */
  identity?: string;
  enforcement: {
    defaultMode: EnforcementMode;
    exemptUsers: string[];
    exemptGroups: string[];
    breakGlass: { groups: string[]; maxDuration: string; defaultDuration: string };
    /** Changes to fields Git does not declare: deny, warn or allow; unset: follow each app's mode. */
    undeclaredFields?: UndeclaredPolicy;
    /** The operational allow-list beyond the built-in one, for every GitApp (ignoreDifferences' form). */
    allowedChanges?: IgnoreRule[];
  };
  sync: {
    concurrency: number;
    workers: number;
    maxPruneShare: number;
    /** Most bytes one Git fetch may receive (isomorphic-git holds the packfile in memory). */
    maxFetchBytes: number;
    minInterval: string;
    /**
     * A resync that changes nothing but timestamps writes the GitApp's status at most this often,
     * so `status.lastSyncTime` is never older than this while gitgate runs ("0s": every sync).
     */
    statusHeartbeat?: string;
    /**
     * Hosts repoURLs may name (`git.example.com`, `*.example.com`); empty = any. Link-local and
     * cloud metadata addresses are refused either way. Applies to Git, Helm repositories (and the
     * hosts their index.yaml points archives at) and OCI registries alike.
     */
    allowedHosts?: string[];
    cacheDir?: string;
  };
  render: {
    timeout: string;
    maxFileBytes: number;
    /** Largest file gitgate checks out of a commit, anywhere in the repository (manifests or not). */
    maxRepoFileBytes: number;
    maxObjects: number;
    helm?: string;
    kubectl?: string;
    kustomize?: string;
  };
  webhook: {
    enabled: boolean;
    /** `host:port` to serve on out of cluster; in cluster, the Service routes to `port`. */
    address?: string;
    port: number;
    failurePolicy: "Fail" | "Ignore";
    timeoutSeconds: number;
    service?: { name: string; namespace: string; port: number };
    certSecret: string;
    /** Register (and keep the caBundle of) the webhook configurations; the chart also templates them. */
    register: boolean;
    /** Name prefix of the configurations: `<prefix>-validate`, `<prefix>-mutate`. */
    namePrefix: string;
    /**
     * Path of a PEM bundle: when set, /validate and /mutate answer only a client certificate this
     * CA signed (kube-apiserver's, from its admission config's kubeconfig); everything else 403.
     */
    clientCA?: string;
    /** With clientCA: the subject CN or a DNS SAN of the client certificate must be one of these. */
    clientNames?: string[];
    /**
     * gitgate's externally reachable base URL (https://host:port): registered clusters' API servers
     * call `<url>/validate/<cluster>` and `<url>/mutate/<cluster>`. Unset: no webhooks on them.
     */
    url?: string;
    /** How often each replica re-reads the certificate Secret and renews what is due (default 1h). */
    certCheckInterval?: string;
  };
  /**
   * Push receiver. A push needs a valid GitHub signature or GitLab token unless `allowUnsigned`
   * (default false): with neither a secret nor that, every push is refused.
   */
  hooks: { githubSecret?: string; gitlabToken?: string; allowUnsigned: boolean; maxBodyBytes: number };
  alerts: { channels: ChannelConfig[]; dedupWindow: string; ratePerMinute: number };
  leaderElection: { enabled: boolean; leaseName: string };
  /**
   * Who a GitApp writes as. GitApps in gitgate's namespace (and in platformNamespaces) are the
   * platform's and write as gitgate; a GitApp anywhere else is a tenant's and writes as a
   * ServiceAccount of its own namespace (spec.serviceAccountName, else defaultServiceAccount).
   */
  tenancy?: { platformNamespaces?: string[]; defaultServiceAccount?: string };
  /**
   * The read-only web dashboard (src/dashboard/): its own plain-HTTP listener, never the webhook
   * port (whose mTLS stays strict). Users log in with a Kubernetes bearer token.
   */
  dashboard: {
    enabled: boolean;
    /** `host:port` (`0` port picks a free one). */
    address: string;
    /** Mark the session cookie Secure (serve it behind TLS: an Ingress or a port-forward with TLS). */
    secureCookie: boolean;
    /** Entries of the gate-activity ring (per replica). */
    activityEntries: number;
    /**
     * HTTPS on the dashboard's port: PEM files (read at start), or the webhook's serving
     * certificate (`servingCert`, needs the webhook). Unset: plain HTTP (`gitgate dev` on loopback).
     */
    tls?: { certFile?: string; keyFile?: string; servingCert?: boolean };
    /** Open live streams one user may have at a time (more get 429). */
    streamsPerUser: number;
    /** Failed logins one client address may make per minute (more get 429, and no TokenReview). */
    failedLoginsPerMinute: number;
  };
}

const duration = { type: "string", pattern: "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$" };
const secretRef = {
  type: "object",
  required: ["secretName", "key"],
  additionalProperties: false,
  properties: { secretName: { type: "string" }, key: { type: "string" }, namespace: { type: "string" } },
};
const strings = { type: "array", items: { type: "string" } };

export const configSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    clusterName: { type: "string", minLength: 1 },
    namespace: { type: "string", minLength: 1 },
    logLevel: { enum: ["trace", "debug", "info", "warn", "error", "silent"] },
    identity: { type: "string" },
    enforcement: {
      type: "object",
      additionalProperties: false,
      properties: {
        defaultMode: { enum: ["enforce", "warn", "audit", "off"] },
        exemptUsers: strings,
        exemptGroups: strings,
        breakGlass: {
          type: "object",
          additionalProperties: false,
          properties: { groups: strings, maxDuration: duration, defaultDuration: duration },
        },
        undeclaredFields: { enum: ["deny", "warn", "allow"] },
        allowedChanges: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["jsonPointers"],
            properties: {
              group: { type: "string" },
              kind: { type: "string" },
              namespace: { type: "string" },
              name: { type: "string" },
              jsonPointers: { type: "array", items: { type: "string", pattern: "^(/.*)?$" } },
            },
          },
        },
      },
    },
    sync: {
      type: "object",
      additionalProperties: false,
      properties: {
        concurrency: { type: "integer", minimum: 1, maximum: 256 },
        workers: { type: "integer", minimum: 1, maximum: 64 },
        maxPruneShare: { type: "number", minimum: 0, maximum: 1 },
        maxFetchBytes: { type: "integer", minimum: 1 },
        minInterval: duration,
        statusHeartbeat: duration,
        allowedHosts: { type: "array", items: { type: "string", minLength: 1 } },
        cacheDir: { type: "string" },
      },
    },
    render: {
      type: "object",
      additionalProperties: false,
      properties: {
        timeout: duration,
        maxFileBytes: { type: "integer", minimum: 1 },
        maxRepoFileBytes: { type: "integer", minimum: 1 },
        maxObjects: { type: "integer", minimum: 1 },
        helm: { type: "string" },
        kubectl: { type: "string" },
        kustomize: { type: "string" },
      },
    },
    webhook: {
      type: "object",
      additionalProperties: false,
      properties: {
        enabled: { type: "boolean" },
        address: { type: "string", pattern: "^[^:]+:[0-9]+$" },
        port: { type: "integer", minimum: 1, maximum: 65535 },
        failurePolicy: { enum: ["Fail", "Ignore"] },
        timeoutSeconds: { type: "integer", minimum: 1, maximum: 5 },
        service: {
          type: "object",
          required: ["name", "namespace"],
          additionalProperties: false,
          properties: { name: { type: "string" }, namespace: { type: "string" }, port: { type: "integer" } },
        },
        certSecret: { type: "string" },
        register: { type: "boolean" },
        namePrefix: { type: "string", pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" },
        clientCA: { type: "string", minLength: 1 },
        clientNames: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
        url: { type: "string", pattern: "^https://[^/?#@\\s]+(/[^?#\\s]*)?$", maxLength: 2048 },
        certCheckInterval: duration,
      },
      dependencies: { clientNames: ["clientCA"] },
    },
    hooks: {
      type: "object",
      additionalProperties: false,
      properties: {
        githubSecret: { type: "string" },
        gitlabToken: { type: "string" },
        allowUnsigned: { type: "boolean" },
        maxBodyBytes: { type: "integer", minimum: 1024 },
      },
    },
    alerts: {
      type: "object",
      additionalProperties: false,
      properties: {
        dedupWindow: duration,
        ratePerMinute: { type: "integer", minimum: 1 },
        channels: {
          type: "array",
          items: {
            type: "object",
            required: ["name", "type"],
            additionalProperties: false,
            properties: {
              name: { type: "string", minLength: 1 },
              type: { enum: ["slack", "teams", "webhook"] },
              url: { type: "string", pattern: "^https?://" },
              urlFrom: secretRef,
              secret: { type: "string" },
              secretFrom: secretRef,
              events: strings,
            },
            oneOf: [{ required: ["url"] }, { required: ["urlFrom"] }],
          },
        },
      },
    },
    leaderElection: {
      type: "object",
      additionalProperties: false,
      properties: { enabled: { type: "boolean" }, leaseName: { type: "string" } },
    },
    dashboard: {
      type: "object",
      additionalProperties: false,
      properties: {
        enabled: { type: "boolean" },
        address: { type: "string", pattern: "^[^:]+:[0-9]+$" },
        secureCookie: { type: "boolean" },
        activityEntries: { type: "integer", minimum: 1, maximum: 100000 },
        tls: {
          type: "object",
          additionalProperties: false,
          properties: {
            certFile: { type: "string", minLength: 1 },
            keyFile: { type: "string", minLength: 1 },
            servingCert: { type: "boolean" },
          },
        },
        streamsPerUser: { type: "integer", minimum: 1, maximum: 1000 },
        failedLoginsPerMinute: { type: "integer", minimum: 1, maximum: 100000 },
      },
    },
    tenancy: {
      type: "object",
      additionalProperties: false,
      properties: {
        platformNamespaces: strings,
        defaultServiceAccount: { type: "string", minLength: 1 },
      },
    },
  },
} as const;
