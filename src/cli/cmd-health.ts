/**
 * `gitgate health -f FILE`: the health of each object in a file (live objects saved with
 * `kubectl get -o yaml`, a List or several documents), judged exactly as the sync judges them.
 */
import { readFile, stat } from "node:fs/promises";
import { describeRef, refOf } from "../manifest/object.js";
import { parseManifests } from "../manifest/parse.js";
import { healthOf, type Health } from "../health/index.js";
import { paint } from "./style.js";

export interface HealthFlags {
  filename: string;
  output: "table" | "json";
}

export interface HealthRow {
  object: string;
  status: Health["status"];
  message: string;
}

/** Larger than any `kubectl get -o yaml` of one namespace worth judging by hand. */
const MAX_FILE_BYTES = 32 << 20;

async function readInput(file: string): Promise<string> {
  if (file === "-") {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_FILE_BYTES) throw new Error(`standard input is larger than ${MAX_FILE_BYTES >> 20} MiB`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
  const { size } = await stat(file);
  if (size > MAX_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_FILE_BYTES >> 20} MiB`);
  return readFile(file, "utf8");
}

export function healthRows(text: string, file: string): HealthRow[] {
  return parseManifests(text, file).map(({ object }) => {
    const h = healthOf(object);
    return { object: describeRef(refOf(object)), status: h.status, message: h.message ?? "" };
  });
}

export function formatHealthTable(rows: readonly HealthRow[]): string {
  const header = ["OBJECT", "HEALTH", "MESSAGE"];
  const cells = rows.map((r) => [r.object, r.status, r.message]);
  const widths = [0, 1].map((i) => Math.max(header[i]?.length ?? 0, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: string[]): string =>
    c
      .map((v, i) => (i < 2 ? v.padEnd(widths[i] ?? 0) : v))
      .join("  ")
      .trimEnd();
  const colour = (status: string, text: string): string =>
    status === "Degraded" || status === "Missing"
      ? paint.red(text)
      : status === "Healthy"
        ? text
        : paint.yellow(text);
  return [paint.bold(line(header)), ...cells.map((c) => colour(c[1] ?? "", line(c)))].join("\n");
}

export async function healthCommand(flags: HealthFlags): Promise<void> {
  const rows = healthRows(await readInput(flags.filename), flags.filename);
  if (flags.output === "json") process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
  else process.stdout.write((rows.length ? formatHealthTable(rows) : "No objects found.") + "\n");
}
