/**
 * What the scale benchmark asks of the cluster and of gitgate's HTTP port: kube-apiserver's own
 * write counters (so object writes are counted where they land, not by gitgate), GitApp sync
 * state, the push receiver, probes and raw AdmissionReviews.
 */
import { request } from "node:https";
import type { ClusterClient } from "../../src/cluster/client.js";
import type { GitApp } from "../../src/api/gitapp.js";
import type { KubeObject } from "../../src/manifest/object.js";
import { Informer } from "../../src/cluster/watch.js";
import { silentLogger } from "../../src/log/logger.js";
import { boundedBy } from "./stats.js";

const READ_VERBS = new Set(["GET", "LIST", "WATCH", "CONNECT"]);
const METRIC_LINE = /^apiserver_request_total\{([^}]{0,2000})\} ([0-9.e+]{1,40})$/;

/** Write requests kube-apiserver served, by resource (`configmaps`, `gitapps/status`, …). */
export async function apiserverWrites(admin: ClusterClient): Promise<Map<string, number>> {
  const res = await admin.raw({ method: "GET", path: "/metrics" });
  const counts = new Map<string, number>();
  for (const line of res.text.split("\n")) {
    const m = METRIC_LINE.exec(line);
    if (!m) continue;
    const labels = new Map<string, string>();
    for (const part of (m[1] ?? "").split(",")) {
      const eq = part.indexOf("=");
      if (eq > 0) labels.set(part.slice(0, eq), part.slice(eq + 2, -1));
    }
    if (READ_VERBS.has(labels.get("verb") ?? "")) continue;
    const sub = labels.get("subresource");
    const key = `${labels.get("resource") ?? "?"}${sub ? `/${sub}` : ""}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(m[2]));
  }
  return counts;
}

export function writesBetween(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [key, value] of after) {
    const d = value - (before.get(key) ?? 0);
    if (d > 0) delta.set(key, d);
  }
  return delta;
}

function syncedAt(app: GitApp, commitOf: (app: GitApp) => string | undefined): boolean {
  const condition = app.status?.conditions?.find((c) => c.type === "Synced");
  return condition?.status === "True" && app.status?.revision === commitOf(app);
}

/**
 * Resolves once `total` GitApps in `namespace` are Synced at their commit, seen through one list
 * and then a watch, as `kubectl wait` does. A timed sync must not pay for its observer: listing
 * 500 GitApps (their status holds an inventory) every 500 ms had kube-apiserver encode about 2 MB
 * per poll during the very sync being timed, and kubectl's baseline has no such observer.
 */
export async function allSynced(
  admin: ClusterClient,
  namespace: string,
  commitOf: (app: GitApp) => string | undefined,
  total: number,
  timeoutMs: number,
): Promise<void> {
  const synced = new Set<string>();
  let done = (): void => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const informer = new Informer(
    admin,
    { apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", namespace },
    (type, obj) => {
      const name = obj.metadata.name ?? "";
      if (type !== "DELETED" && syncedAt(obj as GitApp, commitOf)) synced.add(name);
      else synced.delete(name);
      if (synced.size >= total) done();
    },
    silentLogger,
  );
  informer.start();
  try {
    await boundedBy(
      finished,
      timeoutMs,
      () => `timed out after ${timeoutMs} ms: ${synced.size} of ${total} GitApps synced`,
    );
  } finally {
    informer.stop();
  }
}

/** GitApps in `namespace` whose Synced condition is True at the expected commit. */
export async function syncedCount(
  admin: ClusterClient,
  namespace: string,
  commitOf: (app: GitApp) => string | undefined,
): Promise<number> {
  const { items } = await admin.list({ apiVersion: "gitgate.io/v1alpha1", kind: "GitApp", namespace });
  return (items as GitApp[]).filter((item) => syncedAt(item, commitOf)).length;
}

export interface HttpsReply {
  status: number;
  body: string;
}

/** One HTTPS request to gitgate's port (CA-checked), bounded to 10 s. */
export function gitgateCall(
  port: number,
  caPem: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        ca: caPem,
        agent: false,
        timeout: 10_000,
        headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** A violating UPDATE of a managed ConfigMap by a user who is not exempt, built from the live object. */
export function violatingReview(live: KubeObject, uid: string): unknown {
  const changed = structuredClone(live) as KubeObject & { data?: Record<string, string> };
  changed.data = { ...(changed.data ?? {}), LOG_LEVEL: "debug" };
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "ConfigMap" },
      resource: { group: "", version: "v1", resource: "configmaps" },
      requestKind: { group: "", version: "v1", kind: "ConfigMap" },
      requestResource: { group: "", version: "v1", resource: "configmaps" },
      name: live.metadata.name,
      namespace: live.metadata.namespace,
      operation: "UPDATE",
      userInfo: { username: "alice", groups: ["system:authenticated"] },
      object: changed,
      oldObject: live,
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "UpdateOptions" },
    },
  };
}

/** What a review's answer said, in one short string. */
export function answerOf(reply: HttpsReply | Error): string {
  if (reply instanceof Error) return `no answer (${reply.message.slice(0, 80)})`;
  if (reply.status !== 200) return `HTTP ${reply.status}`;
  try {
    const parsed = JSON.parse(reply.body) as {
      response?: { allowed?: boolean; status?: { message?: string }; warnings?: string[] };
    };
    const r = parsed.response;
    const message = r?.status?.message ?? r?.warnings?.[0] ?? "";
    return `${r?.allowed ? "allowed" : "denied"}${message ? `: ${message.slice(0, 110)}` : ""}`;
  } catch {
    return "HTTP 200, not a review";
  }
}
