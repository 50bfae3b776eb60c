/**
 * A chart archive (gzip'd tar, as `helm package` writes it) read in memory. Pure. Only regular files
 * are kept: symlinks, hard links, devices and anything else are skipped, so nothing extracted can
 * point outside the chart. Paths with `..`, absolute paths and names past the caps are refused, and
 * the unpacked size and file count are capped (a small archive can inflate enormously).
 */
import { gunzipSync } from "node:zlib";
import { terminal } from "../../errors.js";

export interface ArchiveFile {
  /** Relative path with forward slashes, the archive's top directory included (`mychart/Chart.yaml`). */
  path: string;
  data: Buffer;
}

export interface ArchiveLimits {
  /** Largest unpacked archive. */
  maxBytes: number;
  maxFiles: number;
}

const BLOCK = 512;

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString("utf8");
}

function octal(header: Buffer, start: number, length: number): number {
  const text = field(header, start, length).trim();
  if (!/^[0-7]{1,12}$/.test(text))
    throw terminal("InvalidChartArchive", "chart archive has a corrupt tar header");
  return parseInt(text, 8);
}

/** `path=` of a pax extended header, if it sets one. */
function paxPath(data: Buffer): string | undefined {
  let offset = 0;
  let path: string | undefined;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number(data.subarray(offset, space).toString("ascii"));
    if (!Number.isInteger(length) || length <= 0 || offset + length > data.length) break;
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8");
    if (record.startsWith("path=")) path = record.slice(5);
    offset += length;
  }
  return path;
}

/** A member's path made safe, or undefined for one to skip (`pax_global_header`, `./`). */
export function safeMemberPath(name: string): string | undefined {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) return undefined;
  if (name.startsWith("/") || parts.some((p) => p === ".." || p.includes("\\")))
    throw terminal(
      "InvalidChartArchive",
      `chart archive member ${JSON.stringify(name.slice(0, 200))} escapes the chart`,
    );
  return parts.join("/");
}

export function readChartArchive(gzipped: Buffer, limits: ArchiveLimits): ArchiveFile[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(gzipped, { maxOutputLength: limits.maxBytes });
  } catch (err) {
    const tooBig = (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
    throw terminal(
      tooBig ? "ChartTooLarge" : "InvalidChartArchive",
      tooBig
        ? `chart archive unpacks to more than ${limits.maxBytes} bytes`
        : "chart archive is not gzip data",
    );
  }
  const files: ArchiveFile[] = [];
  let offset = 0;
  let nextPath: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // end of archive
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] ?? 0);
    const dataStart = offset + BLOCK;
    if (dataStart + size > tar.length) throw terminal("InvalidChartArchive", "chart archive is truncated");
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") nextPath = paxPath(data);
    else if (type === "L") nextPath = field(data, 0, data.length);
    if (type === "x" || type === "L" || type === "g") continue;
    const prefix = field(header, 345, 155);
    const name = nextPath ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    nextPath = undefined;
    if (type !== "0" && type !== "\0") continue; // regular files only
    const path = safeMemberPath(name);
    if (path === undefined) continue;
    if (files.length >= limits.maxFiles)
      throw terminal("ChartTooLarge", `chart archive has more than ${limits.maxFiles} files`);
    files.push({ path, data: Buffer.from(data) });
  }
  return files;
}
