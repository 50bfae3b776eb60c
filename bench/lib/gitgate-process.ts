/**
 * gitgate as it runs in production: `node dist/src/cli/main.js run` in its own process, so that
 * its memory (VmRSS, VmHWM from /proc/<pid>/status) is its own and not the benchmark's. Its JSON
 * log (stderr) is handed line by line to the caller; RSS is sampled every 100 ms.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { hostJemalloc } from "../../src/testenv/image.js";

export interface LogLine {
  msg?: string;
  time?: number;
  [key: string]: unknown;
}

export interface GitgateProcess {
  readonly pid: number;
  readonly port: number;
  /** When the process was spawned (performance.now()). */
  readonly startedAt: number;
  /** Highest VmRSS sampled (every 100 ms) since start or the last resetPeak(), in MiB. */
  peakRssMiB(): number;
  resetPeak(): void;
  /** VmRSS and VmHWM now, in MiB. */
  memory(): { rssMiB: number; hwmMiB: number };
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** VmRSS and VmHWM of a process in MiB (NaN when it is gone or not on Linux). */
export function procMemory(pid: number): { rssMiB: number; hwmMiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string): number => {
      const line = status.split("\n").find((l) => l.startsWith(`${field}:`));
      return line ? Number(line.replace(/[^0-9]/g, "")) : Number.NaN;
    };
    return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
  } catch {
    return { rssMiB: Number.NaN, hwmMiB: Number.NaN };
  }
}

/** CPU seconds (user + system) a process has used so far (NaN when it is gone or not on Linux). */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name (which may contain spaces): utime is the 12th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * gitgate runs on jemalloc as its image runs it (the Dockerfile's LD_PRELOAD) when this machine has
 * Debian's libjemalloc2; GITGATE_BENCH_MALLOC=glibc runs it on glibc's malloc instead.
 */
const JEMALLOC = process.env.GITGATE_BENCH_MALLOC === "glibc" ? undefined : hostJemalloc();

/** The allocator gitgate's process runs on, for the benchmarks' headers. */
export const GITGATE_MALLOC = JEMALLOC ? `jemalloc (LD_PRELOAD=${JEMALLOC}, as the image)` : "glibc malloc";

/** GITGATE_BENCH_GITGATE_LOG=<file>: every line gitgate logs is also appended there (diagnosis). */
const LOG_COPY = process.env.GITGATE_BENCH_GITGATE_LOG;

export async function spawnGitgate(opts: {
  main: string;
  kubeconfig: string;
  config: string;
  onLog: (line: LogLine) => void;
  /** Node flags before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}): Promise<GitgateProcess> {
  const port = await freePort();
  const startedAt = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      opts.main,
      "run",
      "--kubeconfig",
      opts.kubeconfig,
      "--config",
      opts.config,
      "--webhook-address",
      `127.0.0.1:${port}`,
      "--log-level",
      "info",
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        POD_NAME: "gitgate-bench",
        NO_COLOR: "1",
        ...(JEMALLOC ? { LD_PRELOAD: JEMALLOC } : {}),
      },
    },
  );
  const pid = child.pid ?? -1;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  if (child.stderr)
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (LOG_COPY) appendFileSync(LOG_COPY, line + "\n");
      try {
        opts.onLog(JSON.parse(line) as LogLine);
      } catch {
        opts.onLog({ msg: line.slice(0, 500) });
      }
    });
  let peak = 0;
  const sampler = setInterval(() => {
    const rss = procMemory(pid).rssMiB;
    if (rss > peak) peak = rss;
  }, 100);
  void exited.then(() => clearInterval(sampler));
  return {
    pid,
    port,
    startedAt,
    peakRssMiB: () => peak,
    resetPeak: () => void (peak = procMemory(pid).rssMiB),
    memory: () => procMemory(pid),
    exited,
    stop: async () => {
      clearInterval(sampler);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
