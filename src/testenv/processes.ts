/**
 * Child processes of a test environment: spawned with their output in log files, recorded in the
 * environment's directory, stopped in order, and reaped by a watchdog if the parent dies (a killed
 * test run must leave nothing behind for the next one).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { appendFile, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readEnvironment } from "../config/load.js";

export const ENV_DIR_PREFIX = "gitgate-testenv-";

export interface Supervised {
  name: string;
  child: ChildProcess;
  logFile: string;
}

/**
 * A port nothing listens on now, drawn at random from below the kernel's ephemeral range: the
 * caller binds it only later, and a port from that range can meanwhile become the local end of
 * any outgoing connection on the machine (a test run opens thousands). Falls back to one the
 * kernel picks if none of the draws is free.
 */
export async function freePort(): Promise<number> {
  const [low] = await ephemeralRange();
  const floor = 10_000;
  for (let attempt = 0; attempt < 20 && low > floor + 1000; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (await canListen(port)) return port;
  }
  return listenOnce(0);
}

async function ephemeralRange(): Promise<[number, number]> {
  const text = await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => "");
  const [low, high] = text.trim().split(/\s+/).map(Number);
  return low && high ? [low, high] : [32768, 60999];
}

async function canListen(port: number): Promise<boolean> {
  return listenOnce(port).then(
    () => true,
    () => false,
  );
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

export async function startProcess(
  dir: string,
  name: string,
  cmd: string,
  args: string[],
  extraPath?: string,
): Promise<Supervised> {
  const logFile = join(dir, "logs", `${name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(cmd, args, {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a terminal's Ctrl-C (sent to the whole foreground group) reaches only
    // the process that started it, which stops its clients first and then this process.
    detached: true,
    env: { PATH: [readEnvironment().tools.searchPath ?? "", extraPath].filter(Boolean).join(":") },
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  if (child.pid !== undefined) await appendFile(join(dir, "pids"), `${child.pid}\n`);
  return { name, child, logFile };
}

export async function logTail(proc: Supervised, lines = 15): Promise<string> {
  try {
    return (await readFile(proc.logFile, "utf8")).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function stopProcess(proc: Supervised, graceMs = 5000): Promise<void> {
  const { child } = proc;
  if (exited(child)) return;
  const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await done;
  clearTimeout(timer);
}

/**
 * A detached shell that waits for this process to die and then kills the recorded children and
 * removes the directory. It exits by itself once the directory is gone (normal stop).
 */
export function startWatchdog(dir: string, parent: number = process.pid): ChildProcess {
  const script = [
    'parent="$1"; dir="$2"',
    'while kill -0 "$parent" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done',
    '[ -d "$dir" ] || exit 0',
    // Only PIDs that still run in this environment: a recorded child may have exited long ago and
    // its PID gone to another process (PIDs wrap at 32768 here within minutes of a test run).
    "pids=''",
    'for p in $(cat "$dir/pids" 2>/dev/null); do',
    '  case "$(readlink "/proc/$p/cwd" 2>/dev/null) $(tr \'\\0\' \' \' < "/proc/$p/cmdline" 2>/dev/null)" in',
    '    *"$dir"*) pids="$pids $p" ;;',
    "  esac",
    "done",
    '[ -n "$pids" ] && { kill $pids 2>/dev/null; sleep 3; kill -9 $pids 2>/dev/null; }',
    // An environment with host state (a node: mounts, links, iptables chains) undoes it here.
    '[ -f "$dir/cleanup.sh" ] && sh "$dir/cleanup.sh" >/dev/null 2>&1',
    'rm -rf "$dir"',
  ].join("\n");
  const watchdog = spawn("sh", ["-c", script, "gitgate-watchdog", String(parent), dir], {
    detached: true,
    stdio: "ignore",
  });
  watchdog.unref();
  return watchdog;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes environments whose owner died without cleaning up (e.g. SIGKILL before the watchdog ran). */
export async function sweepStaleEnvironments(root = tmpdir()): Promise<number> {
  let swept = 0;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith(ENV_DIR_PREFIX)) continue;
    const dir = join(root, name);
    const owner = Number(await readFile(join(dir, "owner"), "utf8").catch(() => "0"));
    if (owner > 0 && isAlive(owner)) continue;
    // No owner yet: another process may have just made it and not written its PID (a race between
    // its mkdtemp and writeOwner). Only an ownerless directory older than a minute is stale.
    if (!(owner > 0) && (await isYoung(dir))) continue;
    const pids = (await readFile(join(dir, "pids"), "utf8").catch(() => ""))
      .split("\n")
      .map(Number)
      .filter((pid) => pid > 0);
    for (const pid of pids) {
      // Only kill a PID that still runs in this environment (PIDs get reused).
      if (await runsIn(pid, dir)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await runCleanupScript(dir);
    await rm(dir, { recursive: true, force: true });
    swept++;
  }
  return swept;
}

/** Whether `pid` runs in the environment `dir`: started there (its cwd) or naming it in its arguments. */
async function runsIn(pid: number, dir: string): Promise<boolean> {
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
  if (cwd === dir) return true;
  return (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).includes(dir);
}

async function isYoung(dir: string): Promise<boolean> {
  const info = await stat(dir).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs < 60_000;
}

/** Runs `dir/cleanup.sh` when an environment left one (it undoes host state; see node.ts). */
export async function runCleanupScript(dir: string): Promise<void> {
  const script = join(dir, "cleanup.sh");
  if (!(await readFile(script, "utf8").catch(() => ""))) return;
  await new Promise<void>((resolve) => {
    const child = spawn("sh", [script], { stdio: "ignore" });
    child.on("error", () => resolve());
    child.on("exit", () => resolve());
  });
}

export async function writeOwner(dir: string): Promise<void> {
  await writeFile(join(dir, "owner"), String(process.pid));
}
