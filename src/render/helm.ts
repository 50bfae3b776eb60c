/**
 * Helm apps: `helm template` of a chart directory in the repository. Names from Git are validated so
 * none can be read as a flag, value files are confined to the repository, inline values go through a
 * temp file, and chart dependencies must be vendored under charts/ (no `--dependency-update`).
 */
import { stat, writeFile } from "node:fs/promises";
import { basename, join, posix } from "node:path";
import { terminal } from "../errors.js";
import { parseManifests, RENDER_MAX_NODES } from "../manifest/parse.js";
import { trimTrailing } from "../strings.js";
import { refuseEscapingSymlinks, repoRelative, resolveInRepo } from "./contain.js";
import type { HelmSource, Limits, RenderedObject } from "./types.js";

/** DNS-1123 label; Helm caps release names at 53 characters. Rules out a leading `-` (a flag). */
const RELEASE_NAME = /^[a-z0-9](?:[-a-z0-9]{0,51}[a-z0-9])?$/;
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

export function defaultReleaseName(appDir: string): string {
  const name = basename(appDir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "");
  return trimTrailing(trimTrailing(name, "-").slice(0, 53), "-");
}

/** Validates the request and builds `helm template` arguments; writes inline values into `scratch`. */
export async function helmArgs(
  root: string,
  appDir: string,
  helm: HelmSource,
  destinationNamespace: string,
  scratch: string,
  limits: Limits,
  valuesRoot?: string,
): Promise<string[]> {
  await refuseEscapingSymlinks(root, appDir);
  const releaseName = helm.releaseName ?? defaultReleaseName(appDir);
  if (!RELEASE_NAME.test(releaseName)) {
    throw terminal(
      "InvalidHelmRelease",
      `Helm release name ${JSON.stringify(releaseName)} must be a DNS label of at most 53 characters`,
    );
  }
  const namespace = helm.namespace ?? destinationNamespace;
  if (!NAMESPACE.test(namespace)) {
    throw terminal(
      "InvalidHelmRelease",
      `namespace ${JSON.stringify(namespace)} is not a valid namespace name`,
    );
  }
  // `--flag=value` forms and absolute paths: nothing from Git can start a new flag.
  const args = [
    "template",
    releaseName,
    appDir,
    `--namespace=${namespace}`,
    "--include-crds",
    "--skip-tests",
  ];
  for (const valueFile of helm.valueFiles ?? [])
    args.push(`--values=${await valueFilePath(root, appDir, valueFile, limits, valuesRoot)}`);
  if (helm.values && Object.keys(helm.values).length > 0) {
    const inline = join(scratch, "inline-values.json"); // JSON is YAML, and needs no escaping rules
    await writeFile(inline, JSON.stringify(helm.values), { mode: 0o600 });
    args.push(`--values=${inline}`);
  }
  return args;
}

/** `$values/<path>`: a file of the GitApp's values source (Argo CD's `$<ref>/` form), else app-relative. */
export const VALUES_REF = "$values/";

async function valueFilePath(
  root: string,
  appDir: string,
  valueFile: string,
  limits: Limits,
  valuesRoot: string | undefined,
): Promise<string> {
  const fromValues = valueFile.startsWith(VALUES_REF);
  if (fromValues && !valuesRoot)
    throw terminal(
      "ValuesSourceMissing",
      `Helm value file ${valueFile} names $values, but the GitApp has no spec.valuesFrom`,
    );
  const [base, dir, rel] =
    fromValues && valuesRoot
      ? [valuesRoot, valuesRoot, valueFile.slice(VALUES_REF.length)]
      : [root, appDir, valueFile];
  const real = await resolveInRepo(base, dir, rel, "Helm value file");
  const shown = `${fromValues ? VALUES_REF : ""}${repoRelative(base, real)}`;
  const info = await stat(real);
  if (!info.isFile()) throw terminal("PathNotFound", `Helm value file ${shown} is not a file`);
  if (info.size > limits.maxFileBytes) {
    throw terminal(
      "ManifestTooLarge",
      `Helm value file ${shown} is ${info.size} bytes, more than ${limits.maxFileBytes}`,
    );
  }
  return real;
}

interface SourceChunk {
  /** Chart-relative template path (chart name stripped), or undefined before the first header. */
  source: string | undefined;
  text: string;
}

const SOURCE_HEADER = /^# Source: (.+)$/;

/**
 * Splits helm's output at its `---\n# Source: <chart>/<path>` headers. Each template (and each
 * document a template emits) gets its own header, which names the file to edit in Git.
 */
export function splitBySource(output: string): SourceChunk[] {
  const lines = output.split("\n");
  const chunks: SourceChunk[] = [];
  let current: SourceChunk = { source: undefined, text: "" };
  let start = 0;
  const flush = (end: number): void => {
    current.text = lines.slice(start, end).join("\n");
    if (current.text.trim() !== "") chunks.push(current);
  };
  lines.forEach((line, i) => {
    const match = SOURCE_HEADER.exec(line);
    if (!match?.[1]) return;
    const begin = i > 0 && lines[i - 1]?.startsWith("---") ? i - 1 : i;
    flush(begin);
    start = begin;
    // `<chart name>/templates/x.yaml`: the chart name is Chart.yaml's, not the directory's.
    current = { source: match[1].trim().split("/").slice(1).join("/"), text: "" };
  });
  flush(lines.length);
  return chunks;
}

/** Parses helm's output into objects attributed to `<app path>/<template path>`. */
export function parseHelmOutput(output: string, appRel: string): RenderedObject[] {
  const objects: RenderedObject[] = [];
  const budget = { left: RENDER_MAX_NODES };
  for (const chunk of splitBySource(output)) {
    const file = chunk.source ? posix.join(appRel, chunk.source) : appRel;
    // Lines of rendered output do not match template lines, so no line is reported; error messages
    // say "(rendered)" for the same reason.
    for (const doc of parseManifests(chunk.text, `${file} (rendered)`, { budget }))
      objects.push({ object: doc.object, file });
  }
  return objects;
}
