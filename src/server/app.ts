/**
 * gitgate's HTTP surface: /validate and /mutate (admission), /hooks/git (push receiver),
 * /healthz, /readyz and /metrics. Admission requests, nearly all of the traffic, are answered by a
 * plain node:http handler before express sees them; express serves the rest.
 */
import type { RequestListener } from "node:http";
import express, { type Request, type Response } from "express";
import type { Registry } from "prom-client";
import type { Logger } from "../log/logger.js";
import { parsePushEvent, verifyGitHubSignature, verifyGitLabToken } from "../source/push.js";
import type { AdmissionTransport } from "./admission-http.js";

export interface AppDeps {
  /** From createAdmissionTransport: its `serve` answers /validate and /mutate in front of express. */
  admission?: AdmissionTransport;
  /**
   * Queues a sync of every GitApp on one of these repos (each no sooner than sync.minInterval after
   * its last), those whose files `paths` lists first; returns the apps queued, which are logged as
   * a count and never put in the reply.
   */
  onPush: (repoURLs: string[], paths?: readonly string[]) => string[];
  /** Without a secret, pushes are refused unless allowUnsigned. */
  hooks: { githubSecret?: string; gitlabToken?: string; allowUnsigned?: boolean; maxBodyBytes: number };
  isReady: () => boolean;
  registry: Registry;
  logger: Logger;
}

export function createApp(deps: AppDeps): RequestListener {
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => void res.type("text").send("ok"));
  app.get("/readyz", (_req, res) => {
    if (deps.isReady()) res.type("text").send("ok");
    else res.status(503).type("text").send("not ready: desired-state index incomplete or shutting down");
  });
  app.get("/metrics", async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  app.post("/hooks/git", express.raw({ type: () => true, limit: deps.hooks.maxBodyBytes }), (req, res) =>
    pushHandler(deps, req, res),
  );
  app.use(
    (err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: () => void) => {
      const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
      if (status === 500) deps.logger.error({ err: err.message }, "request failed");
      res
        .status(status)
        .json({ error: err.type === "entity.too.large" ? "request body too large" : err.message });
    },
  );
  const admission = deps.admission;
  return (req, res) => {
    // Not ready (starting, or draining after SIGTERM): close each connection after its answer, so
    // that kube-apiserver holds no idle keep-alive connection the closing listener would cut
    // under a request it has just sent (a POST it would not retry: a failed admission).
    if (!deps.isReady()) res.setHeader("connection", "close");
    if (!admission?.serve(req, res)) void app(req, res);
  };
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function pushHandler(deps: AppDeps, req: Request, res: Response): void {
  const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const { githubSecret, gitlabToken, allowUnsigned } = deps.hooks;
  const githubSig = header(req, "x-hub-signature-256");
  const gitlabHeader = header(req, "x-gitlab-token");
  // With a secret configured, an event must prove it knows it; unsigned pushes only where the
  // config says so explicitly. (Unsigned, anyone reaching the port could make gitgate fetch.)
  if (!githubSecret && !gitlabToken && !allowUnsigned) {
    deps.logger.warn("push event refused: no hooks secret is configured and hooks.allowUnsigned is false");
    res.status(403).json({ error: "push receiver not configured: unsigned pushes are refused" });
    return;
  }
  if (githubSecret || gitlabToken) {
    const ok =
      (githubSecret !== undefined &&
        githubSig !== undefined &&
        verifyGitHubSignature(githubSecret, raw, githubSig)) ||
      (gitlabToken !== undefined &&
        gitlabHeader !== undefined &&
        verifyGitLabToken(gitlabToken, gitlabHeader));
    if (!ok) {
      deps.logger.warn(
        { event: header(req, "x-github-event") ?? header(req, "x-gitlab-event") },
        "push event with a missing or bad signature rejected",
      );
      res.status(401).json({ error: "missing or invalid webhook signature" });
      return;
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    res.status(400).json({ error: "body is not JSON" });
    return;
  }
  const parsed = parsePushEvent(req.headers, body);
  if (parsed.kind === "invalid") {
    res.status(400).json({ error: parsed.error });
    return;
  }
  if (parsed.kind === "ignored") {
    res.json({ ignored: parsed.reason });
    return;
  }
  const queued = deps.onPush(parsed.event.repoURLs, parsed.event.paths);
  deps.logger.info(
    {
      provider: parsed.event.provider,
      queued: queued.length,
      ref: parsed.event.ref,
      paths: parsed.event.paths?.length ?? 0,
    },
    "push received",
  );
  // The same answer whether or not a GitApp follows the repository: the reply names none and
  // counts none, so it tells a sender nothing about what this cluster deploys.
  res.status(202).json({ accepted: true });
}
