/**
 * `npm run bench [-- sync|admission ...]`: runs the named benchmarks (all by default) one after
 * another and prints their tables. Benchmarks report; they never fail on a timing.
 */
import { cpus } from "node:os";
import { benchAdmission } from "./admission.js";
import { benchSync } from "./sync.js";

const BENCHMARKS: Record<string, () => Promise<void>> = { sync: benchSync, admission: benchAdmission };

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  const unknown = args.filter((a) => !(a in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(", ")}; choose from ${Object.keys(BENCHMARKS).join(", ")}`);
    process.exitCode = 2;
    return;
  }
  const selected = args.length > 0 ? args : Object.keys(BENCHMARKS);
  const cpu = cpus();
  console.log(`gitgate benchmarks — ${new Date().toISOString()} — node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? "cpu"}`);
  const started = performance.now();
  for (const name of selected) await (BENCHMARKS[name] as () => Promise<void>)();
  console.log(`\nbenchmarks done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
