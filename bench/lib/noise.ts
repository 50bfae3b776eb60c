/**
 * How much CPU other processes took while a benchmark ran (the machine is shared and has 2 cores).
 * Linux only: reads /proc/stat and /proc/<pid>/stat; elsewhere every figure is NaN. The bench's own
 * process tree (servers, clients, control plane, kubectl) is subtracted from the machine total.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface CpuSample {
  at: number;
  /** Machine-wide busy ticks (user, nice, system, irq, softirq). */
  busy: number;
  /** Ticks stolen by the hypervisor. */
  steal: number;
  /** Ticks of this process and its descendants, including reaped children. */
  own: number;
}

function machineTicks(): { busy: number; steal: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return { busy: user + nice + system + irq + softirq, steal };
}

function ownTreeTicks(): number {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields after comm: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
      const ppid = Number(rest[1]);
      const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
      procs.set(Number(entry), { ppid, ticks });
    } catch {
      // the process exited meanwhile
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  let total = 0;
  const stack = [process.pid];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    total += procs.get(pid)?.ticks ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** Machine-wide busy CPU seconds so far (NaN off Linux); cheap enough to call on a hot path. */
export function machineBusySeconds(): number {
  try {
    return machineTicks().busy / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export function sampleCpu(): CpuSample {
  try {
    return { at: performance.now(), ...machineTicks(), own: ownTreeTicks() };
  } catch {
    return { at: performance.now(), busy: Number.NaN, steal: Number.NaN, own: Number.NaN };
  }
}

/** CPU other processes used between two samples, in % of one core (200 % = both cores). */
export function othersCpuPct(from: CpuSample, to: CpuSample): number {
  const seconds = (to.at - from.at) / 1000;
  const others = to.busy - from.busy - (to.own - from.own);
  return (Math.max(others, 0) / TICKS_PER_SECOND / seconds) * 100;
}

export function stealPct(from: CpuSample, to: CpuSample): number {
  return ((to.steal - from.steal) / TICKS_PER_SECOND / ((to.at - from.at) / 1000)) * 100;
}
