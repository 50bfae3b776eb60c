/**
 * `npm run bench [-- NAME ...]`: runs the named benchmarks (all by default) one after another and
 * prints their tables. Names: sync, admission (= admission.http + admission.decide +
 * admission.apiserver), or one of those parts; scale (scale.admission: its admission part alone);
 * fetch, multicluster, soak. Benchmarks report; they never fail on a timing.
 */
import { cpus, loadavg } from "node:os";
import {
  benchAdmission,
  benchAdmissionApiserver,
  benchAdmissionDecide,
  benchAdmissionHttp,
} from "./admission.js";
import { benchFetch } from "./fetch.js";
import { benchMulticluster } from "./multicluster.js";
import { othersCpuPct, sampleCpu, stealPct } from "./lib/noise.js";
import { benchScale, benchScaleAdmission } from "./scale.js";
import { benchSoak } from "./soak.js";
import { benchSync } from "./sync.js";

const BENCHMARKS: Record<string, () => Promise<void>> = {
  sync: benchSync,
  admission: benchAdmission,
  "admission.http": benchAdmissionHttp,
  "admission.decide": benchAdmissionDecide,
  "admission.apiserver": benchAdmissionApiserver,
  scale: benchScale,
  "scale.admission": benchScaleAdmission,
  fetch: benchFetch,
  multicluster: benchMulticluster,
  soak: benchSoak,
};
const DEFAULT = ["sync", "admission"];

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== "--");
  const unknown = args.filter((a) => !(a in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark(s): ${unknown.join(", ")}; choose from ${Object.keys(BENCHMARKS).join(", ")}`,
    );
    process.exitCode = 2;
    return;
  }
  const selected = args.length > 0 ? args : DEFAULT;
  const cpu = cpus();
  console.log(
    `gitgate benchmarks — ${new Date().toISOString()} — node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? "cpu"}`,
  );
  const started = performance.now();
  for (const name of selected) {
    const before = sampleCpu();
    await (BENCHMARKS[name] as () => Promise<void>)();
    const after = sampleCpu();
    console.log(
      `[${name}] noise: other processes used ${othersCpuPct(before, after).toFixed(0)} % of a core on average ` +
        `(hypervisor steal ${stealPct(before, after).toFixed(0)} %) over ${((after.at - before.at) / 1000).toFixed(0)} s; load average now ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
    );
  }
  console.log(`\nbenchmarks done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
