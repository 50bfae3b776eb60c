/**
 * A Helm repository's index.yaml, reduced to the one chart a GitApp names. Pure. Only that chart's
 * entries are read (an index of a large repository holds thousands), and only the fields gitgate
 * uses: version, urls, digest. The text is size-capped by the caller before it gets here.
 */
import yaml from "js-yaml";
import { messageOf, terminal } from "../../errors.js";
import { isPlainObject } from "../../manifest/object.js";

export interface ChartVersionEntry {
  version: string;
  /** Where the chart archive is; relative URLs are relative to the index (resolved by the caller). */
  urls: string[];
  /** `sha256:<hex>` or bare hex as `helm repo index` writes it; absent in some hand-made indexes. */
  digest?: string;
}

/** Chart names as Helm allows them; rules out path tricks before a name reaches a URL or a path. */
export const CHART_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$/i;

/** Versions of one chart listed per index: more is a hostile or broken index, not a real repository. */
const MAX_ENTRIES_PER_CHART = 20_000;

export function parseIndex(text: string, chart: string, where: string): ChartVersionEntry[] {
  let doc: unknown;
  try {
    // CORE_SCHEMA: no custom tags, no binary; aliases are shared references, never copied.
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA, json: true });
  } catch (err) {
    throw terminal(
      "InvalidChartIndex",
      `${where}: index.yaml is not valid YAML: ${firstLine(messageOf(err))}`,
    );
  }
  if (!isPlainObject(doc) || !isPlainObject(doc.entries))
    throw terminal("InvalidChartIndex", `${where}: index.yaml has no "entries" map`);
  const list = doc.entries[chart];
  if (list === undefined) throw terminal("ChartNotFound", `${where} has no chart ${JSON.stringify(chart)}`);
  if (!Array.isArray(list))
    throw terminal("InvalidChartIndex", `${where}: index.yaml entries.${chart} is not a list`);
  if (list.length > MAX_ENTRIES_PER_CHART)
    throw terminal(
      "InvalidChartIndex",
      `${where}: chart ${chart} lists more than ${MAX_ENTRIES_PER_CHART} versions`,
    );
  const entries: ChartVersionEntry[] = [];
  for (const item of list as unknown[]) {
    if (!isPlainObject(item)) continue;
    const version = scalar(item.version);
    const urls = Array.isArray(item.urls) ? item.urls.filter((u): u is string => typeof u === "string") : [];
    if (version === undefined || urls.length === 0) continue;
    const digest = scalar(item.digest);
    entries.push({ version, urls: urls.slice(0, 8), ...(digest ? { digest } : {}) });
  }
  return entries;
}

function scalar(value: unknown): string | undefined {
  if (typeof value === "string") return value.slice(0, 256);
  return typeof value === "number" ? String(value) : undefined;
}

/** The sha256 hex a digest field names, or undefined when it is not one. */
export function sha256Hex(digest: string | undefined): string | undefined {
  if (!digest) return undefined;
  const hex = digest.toLowerCase().replace(/^sha256:/, "");
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").slice(0, 200);
}
