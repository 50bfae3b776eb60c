/**
 * Chart sources for tests: charts made with the real `helm package`, a Helm repository served from a
 * directory that `helm repo index` indexed (node:http or node:https on 127.0.0.1, optional basic
 * auth), and a real OCI registry (Debian's docker-registry, its own config, storage and port, TLS
 * from a test CA) that `helm push` publishes to. Everything lives in a temp directory that stop()
 * removes; the registry process is recorded for the watchdog like the control plane's.
 */
import { execFile } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { createServingCert, type PemPair } from "../certs/certs.js";
import {
  ENV_DIR_PREFIX,
  freePort,
  logTail,
  startProcess,
  startWatchdog,
  stopProcess,
  writeOwner,
} from "./processes.js";

export interface ChartSpec {
  name: string;
  version: string;
  /** Files of the chart besides Chart.yaml (`templates/cm.yaml`, `values.yaml`). */
  files: Record<string, string>;
}

/** Runs the pinned helm with private HELM_* dirs, so no user or machine config is read or written. */
export function helmRunner(helm: string, home: string) {
  return (args: string[], stdin?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const env = {
        PATH: "/usr/bin:/bin",
        HOME: home,
        HELM_CONFIG_HOME: join(home, "config"),
        HELM_CACHE_HOME: join(home, "cache"),
        HELM_DATA_HOME: join(home, "data"),
        HELM_REGISTRY_CONFIG: join(home, "registry.json"),
      };
      const child = execFile(helm, args, { env, timeout: 60_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`helm ${args[0]} failed: ${stderr || err.message}`)) : resolve(stdout),
      );
      child.stdin?.end(stdin ?? "");
    });
}

/** `helm package` of a chart written from `spec`; returns the .tgz path in `outDir`. */
export async function packageChart(
  helm: string,
  work: string,
  spec: ChartSpec,
  outDir: string,
): Promise<string> {
  const src = join(work, "src", `${spec.name}-${spec.version}`, spec.name);
  await mkdir(src, { recursive: true });
  await writeFile(join(src, "Chart.yaml"), `apiVersion: v2\nname: ${spec.name}\nversion: ${spec.version}\n`);
  for (const [path, text] of Object.entries(spec.files)) {
    await mkdir(join(src, path, ".."), { recursive: true });
    await writeFile(join(src, path), text);
  }
  await mkdir(outDir, { recursive: true });
  await helmRunner(helm, join(work, "helm-home"))(["package", src, `--destination=${outDir}`]);
  return join(outDir, `${spec.name}-${spec.version}.tgz`);
}

export interface ChartRepoOptions {
  helm: string;
  auth?: { username: string; password: string };
  /** Serve HTTPS with a certificate for 127.0.0.1 signed by this CA. */
  tlsCA?: PemPair;
}

export interface ChartRepo {
  /** `http(s)://127.0.0.1:<port>/charts` (index.yaml is at `<url>/index.yaml`). */
  readonly url: string;
  /** Directory served under /charts (tests may tamper with it). */
  readonly dir: string;
  /** Paths requested, in order, with their status. */
  readonly requests: ReadonlyArray<{ path: string; status: number; withAuthorization: boolean }>;
  /** Packages the chart into the repository and re-indexes it (`helm repo index --merge`). */
  publish(spec: ChartSpec): Promise<void>;
  stop(): Promise<void>;
}

function authorized(req: IncomingMessage, auth: ChartRepoOptions["auth"]): boolean {
  if (!auth) return true;
  const want = Buffer.from(`Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`);
  const got = Buffer.from(req.headers.authorization ?? "");
  return got.length === want.length && timingSafeEqual(got, want);
}

export async function startChartRepo(opts: ChartRepoOptions): Promise<ChartRepo> {
  const root = await mkdtemp(join(tmpdir(), "gitgate-chart-repo-"));
  const served = join(root, "charts");
  await mkdir(served);
  const requests: Array<{ path: string; status: number; withAuthorization: boolean }> = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const done = (status: number): void => {
      requests.push({ path, status, withAuthorization: req.headers.authorization !== undefined });
      res.statusCode = status;
    };
    if (!authorized(req, opts.auth)) {
      done(401);
      res.setHeader("www-authenticate", 'Basic realm="charts"');
      res.end();
      return;
    }
    const rel = normalize(path).replace(/^\/charts\/?/, "");
    if (!path.startsWith("/charts/") || rel.includes("..") || rel === "") {
      done(404);
      res.end();
      return;
    }
    const file = join(served, rel);
    stat(file).then(
      (info) => {
        if (!info.isFile()) throw new Error("not a file");
        // A validator, as static hosts send one: clients may revalidate with If-None-Match.
        const etag = `"${info.size}-${info.mtimeMs}"`;
        res.setHeader("etag", etag);
        if (req.headers["if-none-match"] === etag) {
          done(304);
          res.end();
          return;
        }
        done(200);
        createReadStream(file).pipe(res);
      },
      () => {
        done(404);
        res.end();
      },
    );
  };
  const tls = opts.tlsCA ? createServingCert(opts.tlsCA, ["localhost"], ["127.0.0.1"], 1) : undefined;
  const server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `${tls ? "https" : "http"}://127.0.0.1:${port}/charts`;
  const helm = helmRunner(opts.helm, join(root, "helm-home"));
  return {
    url,
    dir: served,
    requests,
    publish: async (spec) => {
      await packageChart(opts.helm, join(root, "work"), spec, served);
      const merge = (await readdir(served)).includes("index.yaml")
        ? [`--merge=${join(served, "index.yaml")}`]
        : [];
      await helm(["repo", "index", served, `--url=${url}`, ...merge]);
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface OciRegistry {
  /** `oci://127.0.0.1:<port>/charts`, the repoURL of its charts (the TLS listener when tlsCA is set). */
  readonly url: string;
  /** `helm push` of a packaged chart (after `helm registry login` when auth is set). */
  publish(spec: ChartSpec): Promise<void>;
  stop(): Promise<void>;
}

export interface OciRegistryOptions {
  helm: string;
  /** htpasswd (bcrypt, `htpasswd -B`) auth on every listener. */
  auth?: { username: string; password: string };
  /** Serve the repoURL over TLS with a certificate for 127.0.0.1 signed by this CA. */
  tlsCA?: PemPair;
}

/** A bcrypt htpasswd file written by the real `htpasswd -B` (the password on stdin, not in argv). */
function writeHtpasswd(file: string, auth: { username: string; password: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "htpasswd",
      ["-c", "-i", "-B", file, auth.username],
      { env: { PATH: "/usr/bin:/bin" }, timeout: 30_000 },
      (err, _out, stderr) =>
        err ? reject(new Error(`htpasswd failed: ${stderr || err.message}`)) : resolve(),
    );
    child.stdin?.end(auth.password);
  });
}

function registryConfig(dir: string, port: number, extra: string[]): string {
  return [
    "version: 0.1",
    "log: { level: info }",
    `storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`,
    ...extra,
    "",
  ]
    .join("\n")
    .replace("{{addr}}", `127.0.0.1:${port}`);
}

/**
 * docker-registry (distribution 2.x) on 127.0.0.1, storage in its own temp dir. helm speaks plain
 * HTTP to any loopback registry (whatever --ca-file says), so with tlsCA a second docker-registry
 * serves the same storage over TLS: helm pushes to the plain listener, the repoURL is the TLS one.
 */
export async function startOciRegistry(opts: OciRegistryOptions): Promise<OciRegistry> {
  const dir = await mkdtemp(join(tmpdir(), ENV_DIR_PREFIX));
  await mkdir(join(dir, "logs"));
  await writeOwner(dir);
  const watchdog = startWatchdog(dir);
  const procs: Array<Awaited<ReturnType<typeof startProcess>>> = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => stopProcess(p)));
    await rm(dir, { recursive: true, force: true });
    if (watchdog.exitCode === null && watchdog.signalCode === null) {
      const gone = new Promise<void>((resolve) => watchdog.once("exit", () => resolve()));
      watchdog.ref();
      watchdog.kill("SIGKILL");
      await gone;
    }
  };
  const serve = async (name: string, extra: string[]): Promise<number> => {
    const port = await freePort();
    await writeFile(join(dir, `${name}.yml`), registryConfig(dir, port, extra));
    const proc = await startProcess(dir, name, "/usr/bin/docker-registry", [
      "serve",
      join(dir, `${name}.yml`),
    ]);
    procs.push(proc);
    await waitForRegistry(port, proc, Boolean(opts.tlsCA && name === "registry-tls"));
    return port;
  };
  let pushPort: number;
  let servePort: number;
  try {
    const auth: string[] = [];
    if (opts.auth) {
      await writeHtpasswd(join(dir, "htpasswd"), opts.auth);
      auth.push(`auth: { htpasswd: { realm: gitgate-test, path: ${join(dir, "htpasswd")} } }`);
    }
    pushPort = await serve("docker-registry", ['http: { addr: "{{addr}}" }', ...auth]);
    servePort = pushPort;
    if (opts.tlsCA) {
      const tls = createServingCert(opts.tlsCA, ["localhost"], ["127.0.0.1"], 1);
      await writeFile(join(dir, "tls.crt"), tls.cert);
      await writeFile(join(dir, "tls.key"), tls.key, { mode: 0o600 });
      const tlsConf = `tls: { certificate: ${join(dir, "tls.crt")}, key: ${join(dir, "tls.key")} }`;
      servePort = await serve("registry-tls", [`http: { addr: "{{addr}}", ${tlsConf} }`, ...auth]);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const helm = helmRunner(opts.helm, join(dir, "helm-home"));
  let loggedIn = false;
  return {
    url: `oci://127.0.0.1:${servePort}/charts`,
    publish: async (spec) => {
      const tgz = await packageChart(opts.helm, join(dir, "work"), spec, join(dir, "packages"));
      if (opts.auth && !loggedIn) {
        await helm(
          ["registry", "login", `127.0.0.1:${pushPort}`, "-u", opts.auth.username, "--password-stdin"],
          opts.auth.password,
        );
        loggedIn = true;
      }
      await helm(["push", tgz, `oci://127.0.0.1:${pushPort}/charts`]);
    },
    stop,
  };
}

async function waitForRegistry(
  port: number,
  proc: Awaited<ReturnType<typeof startProcess>>,
  tls: boolean,
): Promise<void> {
  const { request } = tls ? await import("node:https") : await import("node:http");
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      // Only readiness is checked here (the test CA is the test's to verify): 200, or 401 with auth.
      const req = request(
        { host: "127.0.0.1", port, path: "/v2/", timeout: 1000, rejectUnauthorized: false },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200 || res.statusCode === 401);
        },
      );
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
      req.end();
    });
    if (ok) return;
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`docker-registry did not start:\n${await logTail(proc)}`);
}
