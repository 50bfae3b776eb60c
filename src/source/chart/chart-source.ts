/**
 * Helm charts from a Helm repository (index.yaml) or an OCI registry, resolved to one version and
 * unpacked into a cache keyed by (repository, chart, version). The version a GitApp gets is what its
 * status records as the revision, so followers and `gitgate diff` render exactly the leader's chart.
 *
 * An exact version found in the cache is served without asking the repository (chart versions are
 * immutable, as Helm treats them); a range always reads the repository's current list, so a newly
 * published match is picked up on the next sync.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { terminal } from "../../errors.js";
import type { Logger } from "../../log/logger.js";
import { publicRepoURL } from "../../manifest/normalize.js";
import type { HostPolicy } from "../hosts.js";
import type { ProxySettings } from "../proxy.js";
import { ChartCacheIndex } from "./cache-bound.js";
import { basicAuth, displayURL, httpGet, statusError, type HttpOptions } from "./http.js";
import { CHART_NAME, parseIndex, sha256Hex, type ChartVersionEntry } from "./index-file.js";
import { listTags, ociRef, ociSession, pullChart } from "./oci.js";
import { readChartArchive } from "./tar.js";
import type { ChartCheckout, ChartCredentials, ChartRequest } from "./types.js";
import { isExactVersion, resolveChartVersion } from "./version.js";

export interface ChartSourceOptions {
  cacheRoot: string;
  logger?: Logger;
  allowedHosts?: readonly string[];
  /** HTTPS_PROXY / NO_PROXY as Git fetches honour them. */
  proxy?: ProxySettings;
  /** Largest index.yaml read. Default 32 MiB (large public repositories' indexes are 10–20 MiB). */
  maxIndexBytes?: number;
  /** Largest chart archive, and largest unpacked chart. Default 16 MiB / 64 MiB. */
  maxChartBytes?: number;
  maxUnpackedBytes?: number;
  maxFiles?: number;
  timeoutMs?: number;
  /** The cache's bound: unpacked charts kept, and their bytes (least recently used evicted). */
  maxCacheEntries?: number;
  maxCacheBytes?: number;
  /** How long a request's last version stays pinned after the request was last seen. Default 24 h. */
  cachePinTtlMs?: number;
}

interface Resolved {
  version: string;
  /** Downloads and verifies the archive (only called on a cache miss). */
  download: () => Promise<Buffer>;
}

export function isOciURL(repoURL: string): boolean {
  return /^oci:\/\//i.test(repoURL);
}

/** The index.yaml URL of a Helm repository URL (given with or without `/index.yaml`). */
export function indexURL(repoURL: string): string {
  const url = new URL(repoURL);
  if (!url.pathname.endsWith("/index.yaml")) url.pathname = `${url.pathname.replace(/\/+$/, "")}/index.yaml`;
  return url.href;
}

/** Credentials as an Authorization header: Basic for username+password/token, Bearer for a bare token. */
function authorizationOf(creds: ChartCredentials | undefined): string | undefined {
  if (!creds) return undefined;
  const secret = creds.password ?? creds.token;
  if (creds.username && secret) return basicAuth(creds.username, secret);
  if (creds.token) return `Bearer ${creds.token}`;
  return undefined;
}

function hasAuth(creds: ChartCredentials | undefined): boolean {
  return Boolean(creds?.password ?? creds?.token);
}

interface IndexAnswer {
  entries: ChartVersionEntry[];
  /** Where index.yaml was found (after redirects): relative archive URLs resolve against it. */
  url: string;
  etag?: string;
  lastModified?: string;
}

/** Index answers remembered (one chart's entries each, small). */
const MAX_INDEX_ANSWERS = 512;

function headerValue<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === "string" && value.length <= 256 ? ({ [key]: value } as Record<K, string>) : {};
}

export class ChartSource {
  private readonly indexes = new Map<string, IndexAnswer>();
  private readonly opts: Required<Omit<ChartSourceOptions, "logger" | "allowedHosts" | "proxy">> &
    ChartSourceOptions;

  constructor(opts: ChartSourceOptions) {
    this.opts = {
      maxIndexBytes: 32 * 1024 * 1024,
      maxChartBytes: 16 * 1024 * 1024,
      maxUnpackedBytes: 64 * 1024 * 1024,
      maxFiles: 5_000,
      timeoutMs: 60_000,
      maxCacheEntries: 256,
      maxCacheBytes: 2 * 1024 * 1024 * 1024,
      cachePinTtlMs: 24 * 60 * 60 * 1000,
      ...opts,
    };
    this.cache = new ChartCacheIndex(
      { maxEntries: this.opts.maxCacheEntries, maxBytes: this.opts.maxCacheBytes },
      this.opts.cachePinTtlMs,
    );
  }

  private readonly cache: ChartCacheIndex;
  private scanned?: Promise<void>;

  private get policy(): HostPolicy {
    return this.opts.allowedHosts ? { allowedHosts: this.opts.allowedHosts } : {};
  }

  async resolve(req: ChartRequest): Promise<ChartCheckout> {
    if (!CHART_NAME.test(req.chart))
      throw terminal(
        "InvalidChartName",
        `chart name ${JSON.stringify(req.chart.slice(0, 200))} is not valid`,
      );
    this.scanned ??= this.scanCache();
    await this.scanned;
    const request = this.keyOf(req, `?${req.revision}`);
    const exact = isExactVersion(req.revision.trim()) ? req.revision.trim() : undefined;
    if (exact) {
      const cached = join(this.dirOf(req, exact), "chart");
      if (await isDir(cached)) {
        this.cache.used(request, this.keyOf(req, exact), Date.now());
        return { commit: exact, dir: cached };
      }
    }
    const resolved = isOciURL(req.repoURL) ? await this.resolveOci(req, exact) : await this.resolveHttp(req);
    const dir = join(this.dirOf(req, resolved.version), "chart");
    const bytes = (await isDir(dir)) ? undefined : await this.unpack(req, resolved, dir);
    this.cache.used(request, this.keyOf(req, resolved.version), Date.now(), bytes);
    if (bytes !== undefined) await this.evict();
    return { commit: resolved.version, dir };
  }

  /** Deletes what the bound evicts; a directory that cannot be removed now is retried by the next scan. */
  private async evict(): Promise<void> {
    const gone = this.cache.evict(Date.now());
    for (const key of gone)
      await rm(join(this.opts.cacheRoot, key), { recursive: true, force: true }).catch((err: unknown) =>
        // Never fails a sync: the directory is left for the next scan (a later process) to count.
        this.opts.logger?.warn({ code: (err as { code?: unknown }).code }, "chart cache entry not removed"),
      );
    if (gone.length > 0) {
      const { entries, bytes } = this.cache.size;
      this.opts.logger?.info({ evicted: gone.length, entries, bytes }, "chart cache pruned");
    }
  }

  /** Charts unpacked by an earlier process count against the bound, aged by their mtime. */
  private async scanCache(): Promise<void> {
    const names = await readdir(this.opts.cacheRoot).catch(() => [] as string[]);
    for (const key of names.filter((n) => /^[0-9a-f]{32}$/.test(n)).slice(0, 100_000)) {
      const chart = join(this.opts.cacheRoot, key, "chart");
      const info = await stat(chart).catch(() => undefined);
      if (info?.isDirectory())
        this.cache.known({ key, bytes: await treeBytes(chart, 10_000), lastUsed: info.mtimeMs });
    }
    await this.evict();
  }

  /**
   * The cache entry of (repository, chart, version) as these credentials see it: an exact version is
   * served from the cache without asking the repository, so a GitApp without the credentials (or with
   * wrong ones) must never find a chart another GitApp's credentials fetched.
   */
  private dirOf(req: ChartRequest, version: string): string {
    return join(this.opts.cacheRoot, this.keyOf(req, version));
  }

  private keyOf(req: ChartRequest, version: string): string {
    const c = req.credentials;
    const repo = publicRepoURL(req.repoURL).replace(/\/index\.yaml$/, "");
    const secrets = [c?.username ?? "", c?.password ?? "", c?.token ?? "", c?.caCert ?? ""];
    return createHash("sha256")
      .update(JSON.stringify([repo, req.chart, version, secrets]))
      .digest("hex")
      .slice(0, 32);
  }

  private http(creds: ChartCredentials | undefined): Omit<HttpOptions, "what" | "maxBytes"> {
    return {
      timeoutMs: this.opts.timeoutMs,
      policy: this.policy,
      ...(this.opts.proxy ? { proxy: this.opts.proxy } : {}),
      ...(creds?.caCert ? { ca: creds.caCert } : {}),
    };
  }

  private async resolveHttp(req: ChartRequest): Promise<Resolved> {
    let index: string;
    try {
      index = indexURL(req.repoURL);
    } catch {
      throw terminal(
        "InvalidRepoURL",
        `${JSON.stringify(displayURL(req.repoURL))} is not a Helm repository URL`,
      );
    }
    const where = displayURL(index.replace(/\/index\.yaml$/, ""));
    const auth = authorizationOf(req.credentials);
    const base = {
      ...this.http(req.credentials),
      ...(auth ? { authorization: auth, authOrigin: new URL(index).origin } : {}),
    };
    const { entries, url: indexAt } = await this.readIndex(req, index, where, base);
    const version = resolveChartVersion(
      entries.map((e) => e.version),
      req.revision,
      `chart ${req.chart} in ${where}`,
    );
    const entry = entries.find((e) => e.version === version) as ChartVersionEntry;
    const download = async (): Promise<Buffer> => {
      const url = new URL(entry.urls[0] ?? "", indexAt).href;
      const what = `chart ${req.chart}@${version} from ${displayURL(url)}`;
      const archive = await httpGet(url, { ...base, what, maxBytes: this.opts.maxChartBytes });
      if (archive.status !== 200) throw statusError(archive.status, what, hasAuth(req.credentials));
      const want = sha256Hex(entry.digest);
      if (want && createHash("sha256").update(archive.body).digest("hex") !== want)
        throw terminal("ChartDigestMismatch", `${what} does not match the digest in index.yaml`);
      return archive.body;
    };
    return { version, download };
  }

  /**
   * The chart's entries in index.yaml. The last answer is kept per (index, chart, credentials) with
   * its ETag / Last-Modified, so polling a large index costs a 304 while it is unchanged.
   */
  private async readIndex(
    req: ChartRequest,
    index: string,
    where: string,
    base: Omit<HttpOptions, "what" | "maxBytes">,
  ): Promise<IndexAnswer> {
    const key = this.dirOf({ ...req, repoURL: index }, "index");
    const previous = this.indexes.get(key);
    const conditional: Record<string, string> = {};
    if (previous?.etag) conditional["if-none-match"] = previous.etag;
    if (previous?.lastModified) conditional["if-modified-since"] = previous.lastModified;
    const what = `index.yaml of ${where}`;
    const res = await httpGet(index, {
      ...base,
      headers: conditional,
      what,
      maxBytes: this.opts.maxIndexBytes,
    });
    if (res.status === 304 && previous) return previous;
    if (res.status !== 200) throw statusError(res.status, what, hasAuth(req.credentials));
    const answer: IndexAnswer = {
      entries: parseIndex(res.body.toString("utf8"), req.chart, where),
      url: res.url,
      ...headerValue("etag", res.headers.etag),
      ...headerValue("lastModified", res.headers["last-modified"]),
    };
    if (this.indexes.size >= MAX_INDEX_ANSWERS) this.indexes.clear();
    this.indexes.set(key, answer);
    return answer;
  }

  private async resolveOci(req: ChartRequest, exact: string | undefined): Promise<Resolved> {
    const session = ociSession(ociRef(req.repoURL, req.chart), req.credentials, this.http(req.credentials));
    // An exact version needs no tag list: its manifest is asked for directly.
    const version =
      exact ??
      resolveChartVersion(
        await listTags(session),
        req.revision,
        `chart ${req.chart} in ${publicRepoURL(req.repoURL)}`,
      );
    return { version, download: () => pullChart(session, version, this.opts.maxChartBytes) };
  }

  /** Unpacks into a fresh directory, then renames it into place: readers never see half a chart. */
  private async unpack(req: ChartRequest, resolved: Resolved, dir: string): Promise<number> {
    const files = readChartArchive(await resolved.download(), {
      maxBytes: this.opts.maxUnpackedBytes,
      maxFiles: this.opts.maxFiles,
    });
    // helm package puts everything under `<chart>/`; that top directory is the chart.
    const top = `${req.chart}/`;
    if (!files.some((f) => f.path === `${top}Chart.yaml`))
      throw terminal(
        "InvalidChartArchive",
        `chart archive of ${req.chart}@${resolved.version} has no ${top}Chart.yaml`,
      );
    const parent = dirname(dir);
    await mkdir(parent, { recursive: true });
    const scratch = await mkdtemp(join(parent, "unpack-"));
    try {
      for (const f of files) {
        if (!f.path.startsWith(top)) continue;
        const target = join(scratch, f.path.slice(top.length));
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, f.data, { mode: 0o644 });
      }
      await rename(scratch, dir).catch(async (err: unknown) => {
        if (!(await isDir(dir))) throw err; // another reconcile unpacked the same version first
      });
      this.opts.logger?.info({ chart: req.chart, version: resolved.version }, "chart unpacked");
      return files.reduce((sum, f) => sum + (f.path.startsWith(top) ? f.data.length : 0), 0);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}

/** Bytes of the files under `dir` (at most `maxFiles` looked at: a bound on the scan, not on the cache). */
async function treeBytes(dir: string, maxFiles: number): Promise<number> {
  let total = 0;
  let seen = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (++seen > maxFiles) return;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += (await stat(p).catch(() => undefined))?.size ?? 0;
    }
  };
  await walk(dir);
  return total;
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

export function createChartSource(opts: ChartSourceOptions): ChartSource {
  return new ChartSource(opts);
}
