/**
 * The GitAppSet controller (leader only writes): watches GitAppSets, the GitApps they generate and
 * the cluster Secrets; runs a set's generators (gitDirectories through the reconciler's shared Git
 * source and cache), server-side applies the generated GitApps (field manager `gitgate-appset`, owned
 * by the set), deletes those no longer generated only with `syncPolicy.prune`, and writes the set's
 * status. A GitApp of a generated name that the set does not own is never touched.
 */
import { type GitApp, GITAPP_API_VERSION, GITAPP_KIND } from "../api/gitapp.js";
import {
  APPSET_FIELD_MANAGER,
  APPSET_LABEL,
  checkSetSpec,
  GITAPPSET_KIND,
  type GitAppSet,
  type GitAppSetSpec,
} from "../api/gitappset.js";
import type { ClusterClient } from "../cluster/client.js";
import { CLUSTER_SECRET_LABEL, CLUSTER_SECRET_VALUE, parseClusterSecret } from "../cluster/registered.js";
import { Informer, type WatchEventType } from "../cluster/watch.js";
import { parseDuration } from "../config/duration.js";
import { classOf, messageOf, terminal, transient, GitgateError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { KubeObject } from "../manifest/object.js";
import type { GitCredentials } from "../source/types.js";
import type { Leadership } from "../sync/controller.js";
import { WorkQueue } from "../sync/queue.js";
import { depthOf, listDirectories } from "./directories.js";
import {
  directoryGenerators,
  generate,
  usesClusters,
  type ClusterInfo,
  type GitDirectoriesGenerator,
} from "./generators.js";
import { ownedBy, planSet, upToDate, type SetPlan } from "./plan.js";
import { applicationStatus, setStatus, type SetOutcome } from "./status.js";

const API = GITAPP_API_VERSION;
const DEFAULT_INTERVAL_MS = 3 * 60_000;
/** A generated GitApp's status change reaches the set's status after this (changes batch up). */
const STATUS_DELAY_MS = 500;
const STATUS_PREFIX = "status:";
const APPS_NOT_LISTED = transient("GitAppsNotListed", "the GitApps are not listed yet; retrying");
const NOT_LISTED = transient("ClustersNotListed", "the cluster Secrets are not listed yet; retrying");
const TENANT_CLUSTERS = terminal(
  "RemoteClusterRefused",
  "a clusters generator is for GitAppSets in a platform namespace only (registered clusters are the platform's)",
);

export interface AppSetControllerOptions {
  /** The hub: GitAppSets, GitApps and cluster Secrets live here. */
  client: ClusterClient;
  /** gitgate's namespace, where the cluster Secrets are. */
  namespace: string;
  /** The reconciler's Git source: one cache per repository, shared. */
  source: {
    resolve(req: {
      repoURL: string;
      revision: string;
      credentials?: GitCredentials;
    }): Promise<{ dir: string }>;
  };
  credentials(namespace: string, name: string): Promise<GitCredentials | undefined>;
  leadership: Leadership;
  logger: Logger;
  /** Sets outside these act for a tenant: their GitApps may not name a registered cluster. */
  platformNamespaces: readonly string[];
  minIntervalMs: number;
  sameRepo: (a: string, b: string) => boolean;
}

export class AppSetController {
  private readonly sets: Informer;
  private readonly apps: Informer;
  private readonly secrets: Informer;
  private readonly queue: WorkQueue;
  /** Until the cluster Secrets are listed, a clusters generator would see none (and prune). */
  private secretsListed = false;
  /** Until the GitApps are listed, a set would not see its own (orphans, names others hold). */
  private appsListed = false;
  /** The generation each set was last run for. */
  private readonly generations = new Map<string, number | undefined>();

  constructor(private readonly opts: AppSetControllerOptions) {
    const { client, logger } = opts;
    this.sets = new Informer(
      client,
      { apiVersion: API, kind: GITAPPSET_KIND },
      (type, set) => this.onSet(type, set),
      logger,
    );
    this.apps = new Informer(
      client,
      { apiVersion: API, kind: GITAPP_KIND },
      (_, app) => this.onApp(app),
      logger,
      { onSync: () => (this.appsListed = true) },
    );
    this.secrets = new Informer(
      client,
      { apiVersion: "v1", kind: "Secret", namespace: opts.namespace },
      () => this.resyncAll(),
      logger,
      {
        labelSelector: `${CLUSTER_SECRET_LABEL}=${CLUSTER_SECRET_VALUE}`,
        // Every list (the first may come late: a 403 until RBAC is fixed) lets clusters generators run.
        onSync: () => {
          if (this.secretsListed) return;
          this.secretsListed = true;
          this.resyncAll();
        },
      },
    );
    this.queue = new WorkQueue((key) => this.process(key), 2, logger);
  }

  /**
   * Resolves once GitApps and GitAppSets are listed, or rejects with why not (403, no CRD); the
   * watches go on retrying, and no set runs before the GitApps and (for a clusters generator) the
   * cluster Secrets are listed.
   */
  async start(): Promise<void> {
    for (const informer of [this.apps, this.secrets, this.sets]) informer.start();
    await Promise.all([this.apps.hasSynced(), this.sets.hasSynced()]);
    this.secrets
      .hasSynced()
      .catch((err: unknown) =>
        this.opts.logger.warn(
          { err: messageOf(err) },
          "GitAppSets: listing cluster Secrets failed; retrying",
        ),
      );
  }

  stop(): void {
    for (const informer of [this.sets, this.apps, this.secrets]) informer.stop();
    this.queue.stop();
  }

  drained(timeoutMs: number): Promise<void> {
    return this.queue.drained(timeoutMs);
  }

  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  /** Leadership or the registered clusters changed: every set runs again. */
  resyncAll(): void {
    for (const set of this.sets.cache.values()) this.queue.add(keyOf(set));
  }

  /** A push to `repoURL`: the sets whose gitDirectories read it run again. */
  pushRepo(repoURL: string): string[] {
    const keys = [...this.sets.cache.values()]
      .filter((set) =>
        directoryGenerators(setSpecOf(set)?.generators ?? []).some((g) =>
          this.opts.sameRepo(g.repoURL, repoURL),
        ),
      )
      .map(keyOf);
    for (const key of keys) this.queue.add(key);
    return keys;
  }

  /** A new spec runs the set; its own status writes (same generation) do not. */
  private onSet(type: WatchEventType, set: KubeObject): void {
    const key = keyOf(set);
    if (type === "DELETED") this.generations.delete(key);
    else if (type === "MODIFIED" && this.generations.get(key) === set.metadata.generation) return;
    else this.generations.set(key, set.metadata.generation);
    this.queue.add(key);
  }

  private onApp(app: KubeObject): void {
    const set = app.metadata.labels?.[APPSET_LABEL];
    if (set) this.queue.add(`${STATUS_PREFIX}${app.metadata.namespace ?? ""}/${set}`, STATUS_DELAY_MS);
  }

  private setAt(key: string): GitAppSet | undefined {
    const [namespace = "", name = ""] = key.split("/");
    return [...this.sets.cache.values()].find(
      (s) => s.metadata.namespace === namespace && s.metadata.name === name,
    ) as GitAppSet | undefined;
  }

  /** The GitApps of a namespace as the watch last saw them. */
  private appsIn(namespace: string): GitApp[] {
    return [...this.apps.cache.values()].filter((a) => a.metadata.namespace === namespace) as GitApp[];
  }

  private async process(key: string): Promise<number | undefined> {
    const statusOnly = key.startsWith(STATUS_PREFIX);
    const set = this.setAt(statusOnly ? key.slice(STATUS_PREFIX.length) : key);
    if (!set) {
      this.queue.forget(key);
      return 0;
    }
    if (statusOnly) {
      // One run per batch of changes: forgotten, so the queue does not schedule it again.
      this.queue.forget(key);
      if (this.opts.leadership.isLeader()) await this.refreshStatus(set);
      return 0;
    }
    if (!this.opts.leadership.isLeader()) return intervalOf(set, this.opts.minIntervalMs);
    const outcome = await this.reconcile(set);
    await this.writeStatus(set, outcome).catch((err: unknown) =>
      this.opts.logger.warn({ set: key, err: messageOf(err) }, "GitAppSet status not written"),
    );
    if (outcome.kind === "failed") {
      this.opts.logger.warn(
        { set: key, reason: outcome.error.reason, err: outcome.error.message },
        "GitAppSet failed",
      );
      if (classOf(outcome.error) === "transient") return undefined;
    }
    return intervalOf(set, this.opts.minIntervalMs);
  }

  /** Generate, plan, apply, prune: the first failure ends it, and nothing is pruned after one. */
  private async reconcile(set: GitAppSet): Promise<SetOutcome> {
    const checked = checkSetSpec(set.spec);
    if (!checked.ok) return { kind: "failed", stage: "generate", error: checked.error };
    const { spec } = checked;
    const namespace = set.metadata.namespace ?? "default";
    const tenant = !this.opts.platformNamespaces.includes(namespace);
    // A tenant learns nothing of the registered clusters (names, servers, labels).
    if (tenant && usesClusters(spec.generators))
      return { kind: "failed", stage: "generate", error: TENANT_CLUSTERS };
    if (!this.appsListed) return { kind: "failed", stage: "generate", error: APPS_NOT_LISTED };
    if (!this.secretsListed && usesClusters(spec.generators))
      return { kind: "failed", stage: "generate", error: NOT_LISTED };
    let directories: Map<GitDirectoriesGenerator, string[]>;
    try {
      directories = await this.listAll(set, spec);
    } catch (err) {
      return { kind: "failed", stage: "generate", error: asError(err, "FetchFailed") };
    }
    const generated = generate(spec, {
      clusters: this.clusters(),
      directoriesOf: (g) => directories.get(g) ?? [],
    });
    if (!generated.ok) return { kind: "failed", stage: "generate", error: generated.error };
    const planned = planSet(set, spec, generated.params, this.appsIn(namespace), { tenant });
    if (!planned.ok) return { kind: "failed", stage: "apply", error: planned.error };
    const prune = spec.syncPolicy?.prune === true;
    try {
      const plan = await this.applyPlan(set, planned.plan);
      const pruned = prune ? await this.prune(set, plan.orphans) : [];
      return { kind: "done", plan, pruned, prune };
    } catch (err) {
      return { kind: "failed", stage: "apply", error: asError(err, "ApplyFailed") };
    }
  }

  /** Each gitDirectories generator's directories, from the shared source at its revision. */
  private async listAll(
    set: GitAppSet,
    spec: GitAppSetSpec,
  ): Promise<Map<GitDirectoriesGenerator, string[]>> {
    const out = new Map<GitDirectoriesGenerator, string[]>();
    for (const g of directoryGenerators(spec.generators)) {
      const credentials = g.credentialsSecret
        ? await this.opts.credentials(set.metadata.namespace ?? "default", g.credentialsSecret)
        : undefined;
      const checkout = await this.opts.source.resolve({
        repoURL: g.repoURL,
        revision: g.revision || "HEAD",
        ...(credentials ? { credentials } : {}),
      });
      out.set(g, await listDirectories(checkout.dir, depthOf(g.directories)));
    }
    return out;
  }

  /** The registered clusters (valid Secrets; of two with one name, the first by Secret name). */
  private clusters(): ClusterInfo[] {
    const secrets = [...this.secrets.cache.values()].sort((a, b) =>
      (a.metadata.name ?? "") < (b.metadata.name ?? "") ? -1 : 1,
    );
    const out = new Map<string, ClusterInfo>();
    for (const secret of secrets) {
      const parsed = parseClusterSecret(secret);
      if (!parsed.ok || out.has(parsed.cluster.name)) continue;
      out.set(parsed.cluster.name, {
        name: parsed.cluster.name,
        server: parsed.cluster.server,
        labels: { ...(secret.metadata.labels ?? {}) },
      });
    }
    return [...out.values()];
  }

  /** Server-side applies each generated GitApp; one that turns out to be someone else's is left. */
  private async applyPlan(set: GitAppSet, plan: SetPlan): Promise<SetPlan> {
    const notOwned = [...plan.notOwned];
    const applied: GitApp[] = [];
    for (const app of plan.apply) {
      const target = {
        apiVersion: API,
        kind: GITAPP_KIND,
        namespace: app.metadata.namespace,
        name: app.metadata.name ?? "",
      };
      // Not in the watch yet: read it, so that a GitApp just created by someone else is not taken.
      const known = this.appsIn(app.metadata.namespace ?? "").find(
        (a) => a.metadata.name === app.metadata.name,
      );
      const current = known ?? ((await this.opts.client.get(target)) as GitApp | undefined);
      if (current && !ownedBy(current, set)) {
        notOwned.push(app.metadata.name ?? "");
        continue;
      }
      if (!current || !upToDate(current, app))
        await this.opts.client.apply(app, { fieldManager: APPSET_FIELD_MANAGER, force: true });
      applied.push(app);
    }
    return { ...plan, apply: applied, notOwned: notOwned.sort() };
  }

  /** Deletes the set's former GitApps, each read again first: only one still the set's goes. */
  private async prune(set: GitAppSet, names: readonly string[]): Promise<string[]> {
    const pruned: string[] = [];
    for (const name of names) {
      const target = { apiVersion: API, kind: GITAPP_KIND, namespace: set.metadata.namespace, name };
      const current = (await this.opts.client.get(target)) as GitApp | undefined;
      if (!current || !ownedBy(current, set) || current.metadata.labels?.[APPSET_LABEL] !== set.metadata.name)
        continue;
      await this.opts.client.delete(target);
      this.opts.logger.info(
        { set: keyOf(set), gitapp: name },
        "GitAppSet pruned a GitApp it no longer generates",
      );
      pruned.push(name);
    }
    return pruned;
  }

  private byName(set: GitAppSet): Map<string, GitApp> {
    return new Map(this.appsIn(set.metadata.namespace ?? "").map((a) => [a.metadata.name ?? "", a]));
  }

  private async writeStatus(set: GitAppSet, outcome: SetOutcome): Promise<void> {
    const status = setStatus(
      set.status,
      outcome,
      this.byName(set),
      set.metadata.generation,
      new Date().toISOString(),
    );
    await this.patchStatus(set, status);
  }

  /**
   * A generated GitApp changed: only the applications list is computed again, and only it is
   * written. The set in the cache may not show the conditions its own run just wrote; writing the
   * whole status back from it would put the previous ones back (a fetch failure reported, then
   * overwritten by the last success).
   */
  private async refreshStatus(set: GitAppSet): Promise<void> {
    const names = (set.status?.applications ?? []).map((a) => a.name);
    const applications = applicationStatus(names, this.byName(set));
    await this.patchStatus(set, { applications }).catch((err: unknown) =>
      this.opts.logger.debug(
        { set: keyOf(set), err: messageOf(err) },
        "GitAppSet status refresh not written",
      ),
    );
  }

  /** Merge-patches the given status fields; nothing when each already holds that value. */
  private async patchStatus(set: GitAppSet, status: NonNullable<GitAppSet["status"]>): Promise<void> {
    const held = (set.status ?? {}) as Record<string, unknown>;
    const fields = Object.entries(status) as Array<[string, unknown]>;
    if (fields.every(([field, value]) => JSON.stringify(value) === JSON.stringify(held[field]))) return;
    const target = {
      apiVersion: API,
      kind: GITAPPSET_KIND,
      namespace: set.metadata.namespace,
      name: set.metadata.name ?? "",
    };
    await this.opts.client.patch(target, { status }, "merge", { subresource: "status" });
  }
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
}

function setSpecOf(set: KubeObject): GitAppSetSpec | undefined {
  const checked = checkSetSpec((set as GitAppSet).spec);
  return checked.ok ? checked.spec : undefined;
}

function intervalOf(set: GitAppSet, minMs: number): number {
  const wanted = parseDuration(set.spec?.interval ?? "") ?? DEFAULT_INTERVAL_MS;
  return Math.max(wanted, minMs);
}

function asError(err: unknown, reason: string): GitgateError {
  return err instanceof GitgateError ? err : transient(reason, messageOf(err).slice(0, 512));
}
