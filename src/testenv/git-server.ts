/**
 * A real Git smart-HTTP server for tests and the `gitgate dev` demo: system `git http-backend` behind a
 * node:http → CGI bridge, on 127.0.0.1 and a free port, over bare repositories in a temp directory.
 * Repositories are written with the system `git` CLI (isolated from the user's config), so the client
 * under test (isomorphic-git) never writes the data it later reads.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, normalize } from "node:path";
import { readEnvironment } from "../config/load.js";

const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";
const IDENTITY = { name: "Gitgate Test", email: "test@gitgate.invalid" };

/** File content to commit: text, bytes, a symlink (target may escape the repo on purpose), or null = delete. */
export type FileContent = string | Buffer | { symlink: string };
export type FileChange = FileContent | null;

export interface GitServerOptions {
  /** Directory for repositories and scratch clones; a fresh temp dir (removed by stop()) if omitted. */
  root?: string;
  /** Require HTTP basic auth for every request. */
  auth?: { username: string; password: string };
  /** Address to listen on (default 127.0.0.1); pods on a test node reach the host at its bridge address. */
  host?: string;
  /** Serve HTTPS with this certificate (PEM) instead of plain HTTP. */
  tls?: { key: string; cert: string };
}

export interface GitRequestRecord {
  method: string;
  path: string;
  query: string;
  status: number;
  /**
   * For a POST to git-upload-pack: "fetch" (objects wanted, protocol v0/v1 or v2), "ls-refs" (v2 ref
   * lookup) or "other", from the start of the request body; undefined for other requests.
   */
  command?: "fetch" | "ls-refs" | "other";
  /**
   * The client's User-Agent: the git binary sends `git/2.…` (gitgate's fetches, whose protocol v2
   * fetch starts with an ls-refs of its own); gitgate's ref lookups (isomorphic-git) send none.
   */
  userAgent?: string;
}

type BranchOpt = { branch?: string };

export interface GitServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly root: string;
  /** Every HTTP request served, in order (including 401s). */
  readonly requests: readonly GitRequestRecord[];
  repoURL(name: string): string;
  /** Path of the bare repository on disk. */
  repoPath(name: string): string;
  /** Creates bare `<name>.git` with one commit of `files` on `branch` (default main). */
  createRepo(name: string, files: Record<string, FileContent>, opts?: BranchOpt): Promise<{ commit: string }>;
  /** Commits `changes` on top of `branch` (default main); returns the new commit. */
  commit(
    name: string,
    changes: Record<string, FileChange>,
    message: string,
    opts?: BranchOpt,
  ): Promise<string>;
  /** Creates (or with force, moves) a tag at `ref` (default main); returns the commit it points at. */
  tag(
    name: string,
    tag: string,
    ref?: string,
    opts?: { annotated?: boolean; force?: boolean },
  ): Promise<string>;
  revParse(name: string, rev: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startGitServer(opts: GitServerOptions = {}): Promise<GitServer> {
  const ownsRoot = opts.root === undefined;
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), "gitgate-git-")));
  const reposDir = join(root, "repos");
  const homeDir = join(root, "home");
  const workDir = join(root, "work");
  await Promise.all([reposDir, homeDir, workDir].map((d) => mkdir(d, { recursive: true })));

  // Isolation: no system or user config, a private HOME, fixed identity, no prompts.
  const gitEnv: NodeJS.ProcessEnv = {
    PATH: readEnvironment().tools.searchPath ?? "/usr/bin:/bin",
    HOME: homeDir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: join(homeDir, ".gitconfig"),
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: IDENTITY.name,
    GIT_AUTHOR_EMAIL: IDENTITY.email,
    GIT_COMMITTER_NAME: IDENTITY.name,
    GIT_COMMITTER_EMAIL: IDENTITY.email,
  };
  const git = (cwd: string, args: string[]): Promise<string> => runGit(cwd, args, gitEnv);
  const requests: GitRequestRecord[] = [];
  const repoPath = (name: string): string => join(reposDir, `${safeName(name)}.git`);

  const handler: RequestListener = (req, res) => {
    const record: GitRequestRecord = { method: req.method ?? "GET", path: "", query: "", status: 0 };
    if (typeof req.headers["user-agent"] === "string")
      record.userAgent = req.headers["user-agent"].slice(0, 200);
    requests.push(record);
    res.on("finish", () => (record.status = res.statusCode));
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      record.path = decodeURIComponent(url.pathname);
      record.query = url.search.slice(1);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const user = opts.auth ? authorizedUser(req, opts.auth) : "";
    if (user === undefined) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="gitgate-test"', "Content-Type": "text/plain" });
      res.end("authentication required\n");
      return;
    }
    if (record.method === "POST" && record.path.endsWith("/git-upload-pack")) noteCommand(req, record);
    const backend = serveCgi(req, res, { ...gitEnv, ...cgiEnv(req, record, reposDir), REMOTE_USER: user });
    backends.add(backend);
    backend.once("close", () => backends.delete(backend));
  };
  // Every raw socket (TLS ones before their handshake ends included, which closeAllConnections()
  // does not know) and every running backend, so stop() ends them all and cannot wait forever.
  const sockets = new Set<Socket>();
  const backends = new Set<ChildProcess>();
  const server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler)
    : createServer(handler);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const url = `${opts.tls ? "https" : "http"}://${opts.host ?? "127.0.0.1"}:${(server.address() as AddressInfo).port}`;
  let scratch = 0;

  // Commits are made in a throwaway clone and pushed over the file system (not counted as requests).
  async function commitIn(
    name: string,
    changes: Record<string, FileChange>,
    message: string,
    init: boolean,
    branch = "main",
  ): Promise<string> {
    const dir = join(workDir, String(++scratch));
    try {
      if (init) await git(workDir, ["init", "--quiet", `--initial-branch=${branch}`, dir]);
      else await git(workDir, ["clone", "--quiet", "--branch", branch, repoPath(name), dir]);
      await applyChanges(dir, changes);
      await git(dir, ["add", "--all"]);
      await git(dir, ["commit", "--quiet", "--allow-empty", "-m", message]);
      await git(dir, ["push", "--quiet", repoPath(name), `HEAD:refs/heads/${branch}`]);
      return await git(dir, ["rev-parse", "HEAD"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  return {
    url,
    root,
    requests,
    repoURL: (name) => `${url}/${safeName(name)}.git`,
    repoPath,
    async createRepo(name, files, repoOpts = {}) {
      const branch = repoOpts.branch ?? "main";
      await git(reposDir, ["init", "--quiet", "--bare", `--initial-branch=${branch}`, repoPath(name)]);
      return { commit: await commitIn(name, files, "initial commit", true, branch) };
    },
    commit: (name, changes, message, commitOpts = {}) =>
      commitIn(name, changes, message, false, commitOpts.branch),
    async tag(name, tag, ref = "main", tagOpts = {}) {
      const args = ["--git-dir", repoPath(name), "tag", ...(tagOpts.force ? ["--force"] : [])];
      if (tagOpts.annotated) args.push("--annotate", "--message", `tag ${tag}`);
      await git(reposDir, [...args, tag, ref]);
      return git(reposDir, ["--git-dir", repoPath(name), "rev-parse", `${tag}^{commit}`]);
    },
    revParse: (name, rev) => git(reposDir, ["--git-dir", repoPath(name), "rev-parse", rev]),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      for (const backend of backends) backend.kill("SIGKILL");
      await closed;
      if (ownsRoot) await rm(root, { recursive: true, force: true });
      else await rm(workDir, { recursive: true, force: true });
    },
  };
}

function cgiEnv(req: IncomingMessage, record: GitRequestRecord, projectRoot: string): NodeJS.ProcessEnv {
  const header = (name: string): string => [req.headers[name] ?? ""].flat().join(",");
  return {
    GIT_PROJECT_ROOT: projectRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    // Pushes over HTTP are allowed even without REMOTE_USER (the server is loopback-only).
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.receivepack",
    GIT_CONFIG_VALUE_0: "true",
    PATH_INFO: record.path,
    REQUEST_METHOD: record.method,
    QUERY_STRING: record.query,
    CONTENT_TYPE: header("content-type"),
    ...(req.headers["content-length"] !== undefined ? { CONTENT_LENGTH: header("content-length") } : {}),
    // http-backend inflates gzip request bodies (sent by `git fetch` for long negotiations) itself.
    HTTP_CONTENT_ENCODING: header("content-encoding"),
    // Protocol v2 (ls-refs with ref prefixes) is negotiated through this header.
    HTTP_GIT_PROTOCOL: header("git-protocol"),
    REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
  };
}

/** What an upload-pack request asks for, read from the first bytes of its body (also piped to the backend). */
function noteCommand(req: IncomingMessage, record: GitRequestRecord): void {
  let head = "";
  const onData = (chunk: Buffer): void => {
    head += chunk.toString("latin1", 0, Math.min(chunk.length, 1024 - head.length));
    if (/command=fetch|^[0-9a-f]{4}want /.test(head)) record.command = "fetch";
    else if (head.includes("command=ls-refs")) record.command = "ls-refs";
    if (record.command !== undefined || head.length >= 1024) req.off("data", onData);
  };
  req.on("data", onData);
  req.once("end", () => {
    req.off("data", onData);
    record.command ??= "other";
  });
}

function serveCgi(req: IncomingMessage, res: ServerResponse, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(HTTP_BACKEND, [], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.on("error", (err) => fail(res, `cannot run ${HTTP_BACKEND}: ${err.message}`));
  // The backend may exit before reading the whole body (e.g. on errors): ignore EPIPE.
  child.stdin.on("error", () => undefined);
  req.pipe(child.stdin);
  // A client that hangs up mid-response must not leave the backend running.
  res.on("close", () => {
    if (!res.writableFinished && child.exitCode === null) child.kill();
  });

  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const match = /\r?\n\r?\n/.exec(head.toString("latin1"));
    if (!match) return;
    headersDone = true;
    writeCgiHead(res, head.subarray(0, match.index).toString("latin1"));
    res.write(head.subarray(match.index + match[0].length));
  });
  child.on("close", (code) => {
    if (!headersDone) fail(res, `git http-backend exited ${code ?? "by signal"} without headers: ${stderr}`);
    else res.end();
  });
  return child;
}

function writeCgiHead(res: ServerResponse, head: string): void {
  let status = 200;
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key.toLowerCase() === "status") status = Number.parseInt(value, 10) || 500;
    else res.setHeader(key, value);
  }
  res.statusCode = status;
}

function fail(res: ServerResponse, message: string): void {
  if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
  res.end(`${message}\n`);
}

/** The user name when the basic-auth header matches; undefined when it is missing or wrong. */
function authorizedUser(
  req: IncomingMessage,
  auth: { username: string; password: string },
): string | undefined {
  const header = req.headers.authorization ?? "";
  if (!header.toLowerCase().startsWith("basic ")) return undefined;
  const given = Buffer.from(header.slice(6).trim(), "base64");
  const expected = Buffer.from(`${auth.username}:${auth.password}`);
  return given.length === expected.length && timingSafeEqual(given, expected) ? auth.username : undefined;
}

function safeName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(name) || name.includes(".."))
    throw new Error(`bad repo name: ${name}`);
  return name.replace(/\.git$/, "");
}

async function applyChanges(dir: string, changes: Record<string, FileChange>): Promise<void> {
  for (const [path, content] of Object.entries(changes)) {
    const target = normalize(join(dir, path));
    // Only the symlink *target* may point outside the repo; the file itself must be inside it.
    if (isAbsolute(path) || !target.startsWith(dir + "/")) throw new Error(`path outside repo: ${path}`);
    await rm(target, { recursive: true, force: true });
    if (content === null) continue;
    await mkdir(dirname(target), { recursive: true });
    if (typeof content === "object" && !Buffer.isBuffer(content)) await symlink(content.symlink, target);
    else await writeFile(target, content);
  }
}

function runGit(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(" ")}: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout.trim());
    });
  });
}
