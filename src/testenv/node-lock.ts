/**
 * One node per machine: the node uses fixed names (bridge gitgate0, node gitgate-node, iptables
 * chains), so two test files that start one must not run at once (GITGATE_TEST_CONCURRENCY=2). A
 * lock file created exclusively (O_EXCL) holds the owner's PID; a waiter polls, bounded, and takes
 * over a lock whose owner is dead (a killed test run), never one whose owner lives.
 */
import { open, readFile, rm } from "node:fs/promises";

export const NODE_LOCK_PATH = "/run/gitgate-testenv-node.lock";
/** A node test file may hold the node for minutes; a waiter gives up after this long. */
export const NODE_LOCK_WAIT_MS = 15 * 60_000;
const POLL_MS = 500;

export type LockState = { kind: "free" } | { kind: "held"; pid: number } | { kind: "stale"; pid?: number };

/** What a lock file's content means, given whether a PID is alive (pure). */
export function lockState(content: string | undefined, alive: (pid: number) => boolean): LockState {
  if (content === undefined) return { kind: "free" };
  const pid = Number(/^(\d{1,10})\s*$/.exec(content.slice(0, 64))?.[1] ?? NaN);
  if (!Number.isInteger(pid) || pid <= 0) return { kind: "stale" };
  return alive(pid) ? { kind: "held", pid } : { kind: "stale", pid };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface NodeLock {
  release(): Promise<void>;
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const handle = await open(path, "wx", 0o644);
    await handle.writeFile(`${process.pid}\n`);
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Takes the machine's node lock, waiting up to `waitMs` for a live owner to release it. */
export async function acquireNodeLock(
  path = NODE_LOCK_PATH,
  waitMs = NODE_LOCK_WAIT_MS,
  log: (line: string) => void = () => undefined,
): Promise<NodeLock> {
  const deadline = Date.now() + waitMs;
  let said = false;
  for (;;) {
    if (await tryCreate(path)) {
      return {
        release: async () => {
          // Only our own lock: a release after a takeover must not free another owner's.
          const content = await readFile(path, "utf8").catch(() => undefined);
          if (content?.trim() === String(process.pid)) await rm(path, { force: true });
        },
      };
    }
    const content = await readFile(path, "utf8").catch(() => undefined);
    const state = lockState(content, pidAlive);
    if (state.kind === "stale") {
      log(`taking over a stale node lock${state.pid ? ` of dead PID ${state.pid}` : ""}`);
      // Removed only if still the stale content (another waiter may have taken it over already).
      if ((await readFile(path, "utf8").catch(() => undefined)) === content) await rm(path, { force: true });
      continue;
    }
    if (state.kind === "held") {
      if (!said) log(`waiting for PID ${state.pid}'s node (${path})`);
      said = true;
      if (Date.now() > deadline)
        throw new Error(
          `another node (PID ${state.pid}, lock ${path}) still runs after ${Math.round(waitMs / 1000)} s: ` +
            "only one node can run on this machine",
        );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
