/**
 * The gitgate CLI as users run it: a child process of src/cli/main.ts (through tsx), its output
 * collected as it comes. Used by the tests of `gitgate dev` and `gitgate run`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { waitFor } from "./env.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
// The TypeScript loader by its full path, so the process may run in any directory.
const TSX = import.meta.resolve("tsx");

export interface CliOptions {
  /** The process's working directory (a scratch directory for the demo). */
  cwd: string;
  /** The whole environment of the process; this process's own when omitted. */
  env?: NodeJS.ProcessEnv;
  /** Called with each complete line of stderr (e.g. to parse JSON log lines). */
  onStderrLine?: (line: string) => void;
  /**
   * Lead its own process group, as a shell's foreground job does, so that `interrupt()` reaches
   * every process in it the way a terminal's Ctrl-C does.
   */
  processGroup?: boolean;
  /** Extra arguments to node itself (e.g. module-trace.ts's hooks). */
  nodeArgs?: string[];
}

export interface CliProcess {
  child: ChildProcess;
  /** All stdout so far. */
  readonly stdout: string;
  /** All stderr so far. */
  readonly stderr: string;
  /** The exit code (null when ended by a signal); settled however and whenever the process ends. */
  exited: Promise<number | null>;
  /** Waits for `probe`; a timeout's error carries the process's output. */
  waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs: number): Promise<T>;
  /** Sends `signal` and gives the exit code, or a sentence when the process outlives `timeoutMs`. */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<number | null | string>;
  /** Ctrl-C in a terminal: SIGINT to the whole process group (needs `processGroup`). */
  interrupt(): void;
}

/** `gitgate <args…>` as a child process. */
export function startCli(args: string[], opts: CliOptions): CliProcess {
  const child = spawn(process.execPath, ["--import", TSX, ...(opts.nodeArgs ?? []), MAIN, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.processGroup === true,
  });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => {
    const text = d.toString();
    stderr += text;
    if (!opts.onStderrLine) return;
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) opts.onStderrLine(line);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const cli: CliProcess = {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitFor: (what, probe, timeoutMs) =>
      waitFor(what, probe, timeoutMs).catch((err: unknown) => {
        throw new Error(`${String(err)}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      }),
    interrupt: () => {
      if (!opts.processGroup || child.pid === undefined) throw new Error("interrupt() needs processGroup");
      process.kill(-child.pid, "SIGINT");
    },
    stop: (signal, timeoutMs = 30_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return Promise.race([
        exited,
        new Promise<string>((resolve) =>
          setTimeout(() => resolve(`still running ${timeoutMs / 1000} s after ${signal}`), timeoutMs).unref(),
        ),
      ]);
    },
  };
  return cli;
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => (socket.destroy(), resolve(true)));
    socket.on("error", () => resolve(false));
  });
}
