/**
 * Runs helm / kustomize as a child process: argv array (no shell), a sandboxed environment, a time
 * limit and an output cap. Failures become terminal errors carrying the tool's (redacted) stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { terminal, transient, type GitgateError } from "../errors.js";
import { redactHead } from "../manifest/redact.js";

export interface ToolRun {
  /** Short name for messages: "helm template", "kustomize". */
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Absolute prefixes (repo root, scratch dir) stripped from stderr so messages show repo paths. */
  stripPrefixes?: string[];
  signal?: AbortSignal;
}

const STDERR_KEEP = 64 * 1024;
const STDERR_SHOW = 2048;

/**
 * An environment with nothing of gitgate's own: HOME and every Helm/XDG dir in the scratch dir, an
 * empty PATH (so kustomize cannot run git for remote bases and helm finds no plugins) and proxies
 * pointing at a closed port, so a chart or kustomization cannot reach the network.
 */
export function sandboxEnv(scratch: string): Record<string, string> {
  const deadProxy = "http://127.0.0.1:9";
  return {
    HOME: scratch,
    PATH: join(scratch, "bin"),
    TZ: "UTC",
    LANG: "C",
    XDG_CONFIG_HOME: join(scratch, "config"),
    XDG_CACHE_HOME: join(scratch, "cache"),
    XDG_DATA_HOME: join(scratch, "data"),
    HELM_CONFIG_HOME: join(scratch, "helm", "config"),
    HELM_CACHE_HOME: join(scratch, "helm", "cache"),
    HELM_DATA_HOME: join(scratch, "helm", "data"),
    HELM_PLUGINS: join(scratch, "helm", "plugins"),
    KUBECONFIG: join(scratch, "no-kubeconfig"),
    HTTP_PROXY: deadProxy,
    HTTPS_PROXY: deadProxy,
    http_proxy: deadProxy,
    https_proxy: deadProxy,
    NO_PROXY: "",
    no_proxy: "",
  };
}

/** Trims, strips absolute prefixes, redacts credentials and caps what a tool printed. */
export function describeStderr(stderr: string, stripPrefixes: string[] = []): string {
  let text = stderr.trim();
  for (const prefix of stripPrefixes)
    text = text.split(prefix.endsWith("/") ? prefix : `${prefix}/`).join("");
  text = redactHead(text, STDERR_SHOW);
  return text.length > STDERR_SHOW ? `${text.slice(0, STDERR_SHOW)}… (truncated)` : text;
}

function killTree(child: ChildProcess): void {
  // The child leads its own process group (detached), so this also kills anything it started.
  try {
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/** Runs the tool and resolves with its stdout. */
export function runTool(run: ToolRun): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(run.command, run.args, {
      cwd: run.cwd,
      env: run.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = "";
    let settled = false;
    const finish = (err: GitgateError | undefined, out?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      run.signal?.removeEventListener("abort", onAbort);
      if (err) {
        killTree(child);
        reject(err);
      } else {
        resolve(out ?? "");
      }
    };
    const timer = setTimeout(() => {
      finish(terminal("RenderTimeout", `${run.name} did not finish within ${run.timeoutMs} ms`));
    }, run.timeoutMs);
    const onAbort = (): void => finish(transient("RenderAborted", `${run.name} was cancelled`));
    if (run.signal?.aborted) onAbort();
    run.signal?.addEventListener("abort", onAbort, { once: true });

    child.stdout?.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > run.maxOutputBytes) {
        finish(terminal("RenderOutputTooLarge", `${run.name} printed more than ${run.maxOutputBytes} bytes`));
        return;
      }
      stdout.push(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += chunk.toString("utf8");
    });
    child.on("error", (err) => {
      finish(terminal("RenderFailed", `cannot run ${run.name} (${run.command}): ${err.message}`, err));
    });
    child.on("close", (code, signal) => {
      if (code === 0) {
        finish(undefined, Buffer.concat(stdout).toString("utf8"));
        return;
      }
      const status = signal ? `killed by ${signal}` : `exit code ${code}`;
      const detail = describeStderr(stderr, run.stripPrefixes) || "(no output on stderr)";
      finish(terminal("RenderFailed", `${run.name} failed (${status}): ${detail}`));
    });
  });
}
