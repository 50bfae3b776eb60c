/**
 * The dashboard's HTTP server: its own listener (never the webhook port), read-only views of the
 * apps, their objects and the gate's activity, each filtered to the namespaces where the logged-in
 * user may `get gitapps`. Routes:
 *   GET  /login, POST /login, POST /logout       the session (Origin-checked POSTs)
 *   GET  /login/once?code=…                      a one-time link (`gitgate dev`)
 *   GET  /, /apps/:ns/:name, /activity          HTML (with `x-gitgate-fragment: 1`: the `<main>` only)
 *   GET  /api/apps, /api/apps/:ns/:name, /api/activity, /api/clusters   JSON
 *   GET  /events                                 server-sent `changed` events
 *   GET  /static/live.js, /static/dashboard.css
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { GitApp } from "../api/gitapp.js";
import type { AppRef } from "../manifest/desired.js";
import type { ClusterClient } from "../cluster/client.js";
import type { Logger } from "../log/logger.js";
import { redactText } from "../manifest/redact.js";
import type { ActivityRing } from "./activity.js";
import { bearerToken, KubeAuth, type DashboardUser } from "./auth.js";
import { clientScript, STYLESHEET } from "./client.js";
import { page, type Frame, type Html } from "./html.js";
import { readForm, redirect, sameOrigin, securityHeaders, send, sendJson } from "./http.js";
import {
  appDetail,
  listApps,
  ownerNamespaces,
  withOwned,
  type ClusterRow,
  type StateReaders,
} from "./model.js";
import { DEFAULT_LOGIN_LIMIT, FailedLogins, StreamsPerUser, type LoginLimit } from "./limits.js";
import { OwnedObjects, type OwnedListing } from "./owned.js";
import { cookieValue, OneTimeCodes, SESSION_COOKIE, sessionCookie, SessionStore } from "./sessions.js";
import { SseHub } from "./sse.js";
import { activityView, appsView, appView, loginView } from "./views.js";

export interface DashboardOptions {
  host: string;
  port: number;
  /** The hub: users are authenticated and authorized here, where the GitApps live. */
  client: ClusterClient;
  state: StateReaders;
  /**
   * The API client of the cluster an app's objects are on (its owned Pods are listed there);
   * undefined while that cluster is not registered. Absent: every app is on `client`'s cluster.
   */
  clientOf?: (app: AppRef) => ClusterClient | undefined;
  ring: ActivityRing;
  logger: Logger;
  secureCookie: boolean;
  maxLiveClients?: number;
  /** Open live streams one user may have (default 4). */
  maxStreamsPerUser?: number;
  /** Failed logins per client address before it gets 429 (each new token costs a TokenReview). */
  loginLimit?: LoginLimit;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Run when the dashboard closes (the activity Event writer stops). */
  onClose?: () => Promise<void>;
}

interface Caller {
  user: DashboardUser;
  /** Session id, when the caller came with the cookie. */
  session?: string;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** How often the apps are compared with what was last announced (their resourceVersions). */
const WATCH_MS = 250;

export class Dashboard {
  private readonly auth: KubeAuth;
  private readonly sessions = new SessionStore();
  private readonly codes = new OneTimeCodes();
  /** One lister (with its short cache) per cluster client. */
  private readonly owned = new WeakMap<ClusterClient, OwnedObjects>();
  private readonly failedLogins: FailedLogins;
  private readonly streams: StreamsPerUser;
  private readonly sse: SseHub;
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private fingerprint = "";

  private constructor(
    private readonly opts: DashboardOptions,
    readonly server: Server,
    readonly port: number,
  ) {
    this.auth = new KubeAuth(opts.client);
    this.failedLogins = new FailedLogins(opts.loginLimit ?? DEFAULT_LOGIN_LIMIT);
    this.streams = new StreamsPerUser(opts.maxStreamsPerUser ?? 4);
    this.sse = new SseHub(opts.maxLiveClients ?? 64);
    this.unsubscribe = opts.ring.onEntry(() => this.sse.changed());
    this.timer = setInterval(() => this.announceAppChanges(), WATCH_MS);
    this.timer.unref();
  }

  static async listen(opts: DashboardOptions): Promise<Dashboard> {
    const holder: { dashboard?: Dashboard } = {};
    const handler = (req: IncomingMessage, res: ServerResponse): void =>
      void holder.dashboard?.handle(req, res);
    const server = opts.tls
      ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: "TLSv1.2" }, handler)
      : createServer(handler);
    server.headersTimeout = 20_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : opts.port;
    holder.dashboard = new Dashboard(opts, server, port);
    return holder.dashboard;
  }

  get url(): string {
    return `${this.opts.tls ? "https" : "http"}://${this.opts.host.includes(":") ? `[${this.opts.host}]` : this.opts.host}:${this.port}`;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe();
    this.sse.close();
    await this.opts.onClose?.();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private announceAppChanges(): void {
    const parts: string[] = [];
    for (const app of this.opts.state.apps())
      parts.push(`${app.metadata.namespace}/${app.metadata.name}@${app.metadata.resourceVersion ?? ""}`);
    const next = parts.sort().join(",");
    if (next !== this.fingerprint) {
      this.fingerprint = next;
      this.sse.changed();
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    securityHeaders(res);
    try {
      await this.route(req, res);
    } catch (err) {
      // Never the token or the request body: only what failed.
      this.opts.logger.warn(
        {
          err: redactText(err instanceof Error ? err.message : String(err)).slice(0, 500),
          path: pathOf(req),
        },
        "dashboard request failed",
      );
      if (!res.headersSent) sendJson(res, 502, { error: "the Kubernetes API could not be asked" });
      else res.end();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    const path = url.pathname;
    if (req.method === "GET" && path === "/static/live.js")
      return send(res, 200, "text/javascript; charset=utf-8", clientScript());
    if (req.method === "GET" && path === "/static/dashboard.css")
      return send(res, 200, "text/css; charset=utf-8", STYLESHEET);
    if (path === "/login") return req.method === "POST" ? this.login(req, res) : this.loginPage(res);
    if (path === "/logout" && req.method === "POST") return this.logout(req, res);
    if (path === "/login/once" && req.method === "GET") return this.loginOnce(url, res);
    if (req.method !== "GET") return sendJson(res, 405, { error: "method not allowed" });
    const api = path.startsWith("/api/") || path === "/events";
    const caller = await this.caller(req);
    if (typeof caller === "number") return tooManyFailures(res, caller);
    if (!caller) {
      if (api || req.headers["x-gitgate-fragment"])
        return sendJson(res, 401, { error: "a valid bearer token is required" });
      return redirect(res, "/login");
    }
    if (path === "/events") return this.liveStream(caller, res);
    if (path === "/api/apps") return sendJson(res, 200, await this.apps(caller, url));
    if (path === "/api/activity") return sendJson(res, 200, await this.activity(caller));
    if (path === "/api/clusters") return sendJson(res, 200, this.clusters());
    const appPath = /^\/(api\/)?apps\/([^/]+)\/([^/]+)$/.exec(path);
    if (appPath) return this.app(caller, res, appPath, req);
    if (path === "/")
      return this.view(req, res, caller, "apps", "Apps", appsView(...(await this.appsModel(caller, url))));
    if (path === "/activity")
      return this.view(
        req,
        res,
        caller,
        "activity",
        "Gate activity",
        activityView(await this.activity(caller)),
      );
    return sendJson(res, 404, { error: "not found" });
  }

  private async app(
    caller: Caller,
    res: ServerResponse,
    match: RegExpExecArray,
    req: IncomingMessage,
  ): Promise<void> {
    const namespace = decodeURIComponent(match[2] ?? "");
    const name = decodeURIComponent(match[3] ?? "");
    const app = NAME.test(namespace) && NAME.test(name) ? this.findApp(namespace, name) : undefined;
    // Not found and not allowed look the same: no probing for apps in other namespaces.
    if (!app || !(await this.auth.canSeeApps(caller.user, namespace)))
      return sendJson(res, 404, { error: "no such app, or not yours to see" });
    // Owned objects are read with gitgate's identity: only now, after this user's review passed.
    const base = appDetail(this.opts.state, app);
    const listing = await this.ownedOf({ namespace, name }, base.summary.cluster, ownerNamespaces(base));
    const detail = withOwned(base, listing.items, listing.notes);
    if (match[1]) return sendJson(res, 200, detail);
    return this.view(req, res, caller, "apps", `${namespace}/${name}`, appView(detail));
  }

  /** The objects the app's objects own, listed on the cluster the app syncs to. */
  private async ownedOf(ref: AppRef, cluster: string, namespaces: string[]): Promise<OwnedListing> {
    const client = this.opts.clientOf ? this.opts.clientOf(ref) : this.opts.client;
    if (!client) return { items: [], notes: [`cluster "${cluster}" is not registered: nothing listed`] };
    let lister = this.owned.get(client);
    if (!lister) this.owned.set(client, (lister = new OwnedObjects(client, this.opts.logger)));
    return lister.list(namespaces);
  }

  private findApp(namespace: string, name: string): GitApp | undefined {
    for (const app of this.opts.state.apps())
      if (app.metadata.namespace === namespace && app.metadata.name === name) return app;
    return undefined;
  }

  private async visible(caller: Caller): Promise<Set<string>> {
    const namespaces = [...this.opts.state.apps()].map((a) => a.metadata.namespace ?? "");
    return this.auth.visibleNamespaces(caller.user, namespaces);
  }

  private async appsModel(caller: Caller, url: URL): Promise<Parameters<typeof appsView>> {
    const visible = await this.visible(caller);
    const filter = url.searchParams.get("namespace") || undefined;
    return [listApps(this.opts.state, visible, filter), [...visible].sort(), filter, this.clusters()];
  }

  /** Names, connection and version only: why a cluster fails is in its GitApps' status, for those who may see them. */
  private clusters(): ClusterRow[] {
    return (this.opts.state.clusters?.() ?? []).map(({ name, reachable, serverVersion }) => ({
      name,
      reachable,
      ...(serverVersion ? { serverVersion } : {}),
    }));
  }

  private async apps(caller: Caller, url: URL): Promise<ReturnType<typeof listApps>> {
    return (await this.appsModel(caller, url))[0];
  }

  private async activity(caller: Caller): Promise<ReturnType<ActivityRing["list"]>> {
    const entries = this.opts.ring.list();
    const visible = await this.auth.visibleNamespaces(
      caller.user,
      entries.map((e) => e.event.app.namespace),
    );
    return entries.filter((e) => visible.has(e.event.app.namespace));
  }

  private view(
    req: IncomingMessage,
    res: ServerResponse,
    caller: Caller,
    section: Frame["section"],
    title: string,
    main: Html,
  ): void {
    if (req.headers["x-gitgate-fragment"] === "1")
      return send(res, 200, "text/html; charset=utf-8", main.text);
    send(res, 200, "text/html; charset=utf-8", page({ title, section, main, user: caller.user.username }));
  }

  /** One user's streams are limited (429), so that one user cannot take every live slot. */
  private liveStream(caller: Caller, res: ServerResponse): void {
    const username = caller.user.username;
    if (!this.streams.take(username))
      return sendJson(res, 429, {
        error: `too many live streams for ${username}: at most ${this.streams.max} at a time; close a tab`,
      });
    if (!this.sse.add(res)) return this.streams.release(username);
    res.once("close", () => this.streams.release(username));
  }

  /**
   * The user a token reviewed as, with its answer counted per client address: an address past the
   * failed-login limit gets no new review (a number: seconds to wait) until its window passed.
   */
  private async review(req: IncomingMessage, token: string): Promise<DashboardUser | undefined | number> {
    const address = req.socket.remoteAddress ?? "";
    const known = this.auth.known(token);
    if (known === undefined) {
      const wait = this.failedLogins.retryAfter(address);
      if (wait > 0) return wait;
    }
    const user = known ?? (known === null ? undefined : await this.auth.authenticate(token));
    if (!user) this.failedLogins.failed(address);
    return user;
  }

  /** The bearer header wins over the cookie; either way the token is reviewed (cached briefly). */
  private async caller(req: IncomingMessage): Promise<Caller | undefined | number> {
    const header = bearerToken(req.headers.authorization);
    const session = header ? undefined : cookieValue(req.headers.cookie, SESSION_COOKIE);
    const token = header ?? this.sessions.token(session);
    if (!token) return undefined;
    const user = await this.review(req, token);
    if (typeof user === "number") return user;
    if (!user) {
      this.sessions.end(session);
      return undefined;
    }
    return { user, ...(session ? { session } : {}) };
  }

  private loginPage(res: ServerResponse, status = 200, error?: string): void {
    send(
      res,
      status,
      "text/html; charset=utf-8",
      page({ title: "Log in", section: "login", main: loginView(error) }),
    );
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!sameOrigin(req))
      return this.loginPage(res, 403, "Refused: the form was not posted from this dashboard.");
    const form = await readForm(req);
    const token = form?.get("token")?.trim() ?? "";
    const user = token ? await this.review(req, token) : undefined;
    if (typeof user === "number") return tooManyFailures(res, user);
    if (!user) {
      this.opts.logger.info({}, "dashboard login refused");
      return this.loginPage(res, 401, "That token was refused by the Kubernetes API.");
    }
    const id = this.sessions.create(token);
    this.opts.logger.info({ username: user.username }, "dashboard login");
    redirect(res, "/", { "set-cookie": sessionCookie(id, this.opts.secureCookie) });
  }

  /** A link that logs in as `token` once (the token stays here; the link holds a random code). */
  loginLink(token: string): string {
    return `${this.url}/login/once?code=${this.codes.create(token)}`;
  }

  private async loginOnce(url: URL, res: ServerResponse): Promise<void> {
    const token = this.codes.redeem(url.searchParams.get("code"));
    const user = token ? await this.auth.authenticate(token) : undefined;
    if (!token || !user) return this.loginPage(res, 401, "That login link was used already or has expired.");
    const id = this.sessions.create(token);
    redirect(res, "/", { "set-cookie": sessionCookie(id, this.opts.secureCookie) });
  }

  private logout(req: IncomingMessage, res: ServerResponse): void {
    if (!sameOrigin(req)) return sendJson(res, 403, { error: "cross-origin request refused" });
    this.sessions.end(cookieValue(req.headers.cookie, SESSION_COOKIE));
    redirect(res, "/login", { "set-cookie": sessionCookie("", this.opts.secureCookie, 0) });
  }
}

function tooManyFailures(res: ServerResponse, seconds: number): void {
  res.setHeader("retry-after", String(seconds));
  sendJson(res, 429, {
    error: `too many failed logins from this address: try again in ${seconds} s (each token is checked with the Kubernetes API)`,
  });
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? "").split("?")[0]?.slice(0, 200) ?? "";
}
