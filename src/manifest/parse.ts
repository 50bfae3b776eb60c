/**
 * Multi-document YAML / JSON → Kubernetes objects, each with the file and line it came from so that
 * denials and alerts can say where in Git to make a change. Pure: no I/O.
 */
import yaml from "js-yaml";
import { messageOf, terminal, type GitgateError } from "../errors.js";
import { isPlainObject, type KubeObject } from "./object.js";
import { HOOK_ANNOTATIONS } from "../sync/waves.js";

export interface ParsedDoc {
  object: KubeObject;
  file: string;
  /** 1-based line of the document's first content line (for `kind: List` items: the List's line). */
  line: number;
}

/** Values left to create after alias expansion; shared by every document it is passed to. */
export interface NodeBudget {
  left: number;
}

export interface ParseOptions {
  /** Upper bound on values after alias expansion (defends against "billion laughs"), per call. */
  maxNodes?: number;
  /** A budget shared across calls (all files of one render); `maxNodes` is ignored then. */
  budget?: NodeBudget;
}

/** Values one render may create from YAML after alias expansion, across all its files. */
export const RENDER_MAX_NODES = 2_000_000;

/**
 * YAML 1.2 core schema plus merge keys (`<<: *base`). Unlike js-yaml's default schema this keeps
 * `2024-01-01` a string and has no `!!binary`, matching what kubectl sends (sigs.k8s.io/yaml).
 */
const MERGE = new yaml.Type("tag:yaml.org,2002:merge", {
  kind: "scalar",
  resolve: (data: unknown) => data === "<<" || data === null,
}); // js-yaml's own merge type, which its typings do not export
const SCHEMA = yaml.CORE_SCHEMA.extend({ implicit: [MERGE] });
const DEFAULT_MAX_NODES = 1_000_000;

interface Chunk {
  text: string;
  /** 0-based line of the chunk's first line in the whole file. */
  offset: number;
}

const MARKER = /^(?:---|\.\.\.)(?:[ \t]|$)/;
const BLANK_OR_COMMENT = /^[ \t]*(?:#.*)?$/;

/**
 * Splits at document markers ourselves because js-yaml's loadAll does not report where each document
 * starts. A `---` or `...` at column 0 always ends a document in YAML (even inside block scalars), so
 * this split agrees with the parser. Directives (`%YAML`) are dropped; they change nothing here.
 */
function splitDocuments(text: string): Chunk[] {
  const lines = text.split(/\r?\n/);
  const chunks: Chunk[] = [];
  let start = 0;
  let hasContent = false;
  const close = (end: number): void => {
    // Text without content before a marker (comments, directives, an empty document) is dropped:
    // js-yaml needs exactly one document per chunk.
    if (hasContent) chunks.push({ text: lines.slice(start, end).join("\n"), offset: start });
    start = end;
    hasContent = false;
  };
  lines.forEach((line, i) => {
    if (line.startsWith("---") && MARKER.test(line)) {
      close(i);
      // `--- {apiVersion: v1, ...}` puts content on the marker line itself.
      if (!BLANK_OR_COMMENT.test(line.slice(3))) hasContent = true;
    } else if (line.startsWith("...") && MARKER.test(line)) {
      close(i);
      start = i + 1;
    } else if (!BLANK_OR_COMMENT.test(line) && !line.startsWith("%")) {
      hasContent = true;
    }
  });
  close(lines.length);
  return chunks;
}

function firstContentLine(chunk: Chunk): number {
  const lines = chunk.text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const body = line.startsWith("---") && MARKER.test(line) ? line.slice(3) : line;
    if (!BLANK_OR_COMMENT.test(body) && !line.startsWith("%")) return chunk.offset + i + 1;
  }
  return chunk.offset + 1;
}

function invalid(file: string, line: number, what: string, cause?: unknown): GitgateError {
  return terminal("InvalidManifest", `${file}:${line}: ${what}`, cause);
}

/**
 * Deep-copies the loaded value. js-yaml shares one object for every alias of an anchor; without a copy,
 * stamping labels onto `metadata.labels` would also change a `selector.matchLabels: *labels`. Counting
 * nodes on the way bounds what an alias bomb can expand to.
 */
function detach(value: unknown, budget: { left: number }): unknown {
  if (--budget.left < 0) throw new RangeError("too many values after expanding aliases");
  if (Array.isArray(value)) return value.map((v) => detach(v, budget));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = detach(v, budget);
    return out;
  }
  return value;
}

function checkStringMap(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) return `${path} must be a map of strings`;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") return `${path}.${k} must be a string (quote it: "${String(v)}")`;
  }
  return undefined;
}

/** Why `value` is not an object gitgate can manage, or undefined when it is. */
function problemWith(value: unknown): string | undefined {
  if (!isPlainObject(value))
    return `document is ${Array.isArray(value) ? "a list" : `a ${typeof value}`}, expected a Kubernetes object`;
  if (typeof value.apiVersion !== "string" || value.apiVersion === "") return "missing apiVersion";
  if (typeof value.kind !== "string" || value.kind === "") return "missing kind";
  const meta = value.metadata;
  if (!isPlainObject(meta)) return `${value.kind} has no metadata`;
  // A hook is created once per sync and never tracked, so it may be named by the API server.
  const generatedHook = typeof meta.generateName === "string" && meta.generateName !== "" && isHook(meta);
  if ((typeof meta.name !== "string" || meta.name === "") && !generatedHook) {
    // gitgate tracks, prunes and guards objects by name; a generated name differs on every apply.
    return meta.generateName !== undefined
      ? `${value.kind} uses metadata.generateName; gitgate needs a fixed metadata.name (or a hook annotation: docs/sync-order.md)`
      : `${value.kind} has no metadata.name`;
  }
  if (meta.namespace !== undefined && meta.namespace !== null && typeof meta.namespace !== "string") {
    return `${value.kind} ${String(meta.name ?? meta.generateName)}: metadata.namespace must be a string`;
  }
  return (
    checkStringMap(meta.labels, "metadata.labels") ?? checkStringMap(meta.annotations, "metadata.annotations")
  );
}

/** Annotated as a hook (gitgate's, Argo CD's or Helm's annotation): see src/sync/waves.ts. */
function isHook(meta: Record<string, unknown>): boolean {
  const annotations = isPlainObject(meta.annotations) ? meta.annotations : {};
  return [...HOOK_ANNOTATIONS, "helm.sh/hook"].some((k) => typeof annotations[k] === "string");
}

function isListKind(value: Record<string, unknown>): value is { kind: string; items: unknown[] } {
  return typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items);
}

function loadChunk(chunk: Chunk, file: string, budget: NodeBudget): unknown {
  let loaded: unknown;
  try {
    loaded = yaml.load(chunk.text, { schema: SCHEMA, filename: file });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const mark = err.mark as { line: number; column: number } | undefined;
      const where = mark ? ` (column ${mark.column + 1})` : "";
      throw invalid(file, chunk.offset + (mark?.line ?? 0) + 1, `${err.reason}${where}`, err);
    }
    throw err;
  }
  try {
    return detach(loaded, budget);
  } catch (err) {
    throw invalid(file, firstContentLine(chunk), messageOf(err), err);
  }
}

/** Parses every document of `text`; `file` names it in errors and in the result. */
export function parseManifests(text: string, file: string, opts: ParseOptions = {}): ParsedDoc[] {
  const docs: ParsedDoc[] = [];
  // One budget for all documents: small documents each expanding to just under a per-document
  // limit would otherwise add up without bound.
  const budget = opts.budget ?? { left: opts.maxNodes ?? DEFAULT_MAX_NODES };
  for (const chunk of splitDocuments(text.replace(/^\uFEFF/, ""))) {
    const value = loadChunk(chunk, file, budget);
    if (value === null || value === undefined) continue;
    const line = firstContentLine(chunk);
    if (isPlainObject(value) && isListKind(value)) {
      value.items.forEach((item, i) => {
        const problem = problemWith(item);
        if (problem) throw invalid(file, line, `${value.kind} items[${i}]: ${problem}`);
        docs.push({ object: item as KubeObject, file, line });
      });
      continue;
    }
    const problem = problemWith(value);
    if (problem) throw invalid(file, line, problem);
    docs.push({ object: value as KubeObject, file, line });
  }
  return docs;
}
