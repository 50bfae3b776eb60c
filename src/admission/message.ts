/**
 * The text people see: kubectl prints the denial message and warnings verbatim, and they must say
 * what Git holds, where, and what to do instead. Secret values never appear (changes arrive redacted
 * and the whole text passes through redactText for credentials embedded in other values).
 */
import type { FieldChange } from "../manifest/event.js";
import type { GitLocation } from "../manifest/desired.js";
import { publicRepoURL } from "../manifest/normalize.js";
import { describeRef, type ObjectRef } from "../manifest/object.js";
import { REDACTED, redactHead } from "../manifest/redact.js";
import { oneLine } from "./codec.js";
import {
  NAMESPACE_NAME_LABEL,
  WEBHOOK_NAMESPACE_IGNORE,
  WEBHOOK_NAMESPACE_LABEL,
} from "../manifest/labels.js";

/** Fields listed in one denial message; the rest are counted. */
const MAX_FIELDS_IN_MESSAGE = 5;
const MAX_VALUE_LENGTH = 60;
/** Value files named in a chart's location; the rest are counted. */
const MAX_VALUE_FILES = 3;

export function gitLocation(source: GitLocation): string {
  // A chart has a version where Git has a commit: `<repo> <chart>@<version>`, and its value files
  // in Git, if any, as Git locations (a template's field may come from them: change them there).
  if (source.chart) {
    const chart = `${publicRepoURL(source.repoURL)} ${source.chart}@${source.commit}`;
    const v = source.values;
    if (!v || v.files.length === 0) return chart;
    const shown = v.files.slice(0, MAX_VALUE_FILES).join(", ");
    const more = v.files.length > MAX_VALUE_FILES ? ` and ${v.files.length - MAX_VALUE_FILES} more` : "";
    return `${chart} with values ${publicRepoURL(v.repoURL)} ${shown}${more}@${v.commit.slice(0, 7)}`;
  }
  return `${publicRepoURL(source.repoURL)} ${source.file}@${source.commit.slice(0, 7)}`;
}

export function formatValue(value: unknown): string {
  if (value === REDACTED) return REDACTED;
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  // redactHead cuts before matching and drops what a cut could split past recognition.
  return oneLine(redactHead(text, MAX_VALUE_LENGTH), MAX_VALUE_LENGTH);
}

/**
 * `spec.replicas is 1 in <repo> <file>@<sha>, request has 5`, or for a field Git does not declare
 * `spec.template.spec.hostNetwork is not in Git at <repo> <file>@<sha>, request sets true`.
 */
export function changeClause(change: FieldChange, source: GitLocation): string {
  if (change.undeclared)
    return `${change.path} is not in Git at ${gitLocation(source)}, request sets ${formatValue(change.liveValue)}`;
  const requested =
    change.liveValue === undefined ? "request removes it" : `request has ${formatValue(change.liveValue)}`;
  return `${change.path} is ${formatValue(change.gitValue)} in ${gitLocation(source)}, ${requested}`;
}

function finish(text: string): string {
  return oneLine(redactHead(text, 4096), 4096);
}

export function violationMessage(
  ref: ObjectRef,
  source: GitLocation,
  changes: readonly FieldChange[],
  note?: string,
): string {
  const clauses = changes.slice(0, MAX_FIELDS_IN_MESSAGE).map((c) => changeClause(c, source));
  const more = changes.length - clauses.length;
  if (more > 0) clauses.push(`and ${more} more field${more === 1 ? "" : "s"}`);
  const advice = note ?? "Change it in Git, or use break-glass.";
  return finish(`${describeRef(ref)} is managed by Git: ${clauses.join("; ")}. ${advice}`);
}

export function deleteMessage(ref: ObjectRef, source: GitLocation): string {
  return finish(
    `${describeRef(ref)} is managed by Git (${gitLocation(source)}): deleting it is not allowed. ` +
      `Remove it from Git, or use break-glass.`,
  );
}

/** One short warning per field (kubectl prints each on its own `Warning:` line). */
export function violationWarnings(
  ref: ObjectRef,
  source: GitLocation,
  changes: readonly FieldChange[],
): string[] {
  return changes.map((c) =>
    finish(
      `${describeRef(ref)} is managed by Git: ${changeClause(c, source)}. Change it in Git, or use break-glass.`,
    ),
  );
}

export function breakGlassWarning(ref: ObjectRef, expiresAt: Date): string {
  return finish(
    `Break-glass: ${describeRef(ref)} admitted outside Git until ${expiresAt.toISOString()}; gitgate reverts it then.`,
  );
}

/** Why setting gitgate.io/webhook=ignore on a namespace is refused, and what to do instead. */
export function reservedLabelMessage(
  namespace: string,
  ignored: readonly string[] = ["kube-system"],
): string {
  return (
    `gitgate: the label ${WEBHOOK_NAMESPACE_LABEL}=${WEBHOOK_NAMESPACE_IGNORE} on namespace ${namespace} would exempt ` +
    `every object in it from gitgate's admission gate; gitgate sets it only on ${ignored.join(", ")}. ` +
    "To stop gitgate enforcing there, set the GitApp's enforcement mode (spec.enforcement.mode) in Git, " +
    "or ask a member of an exempt group."
  );
}

/** Why a namespace may not carry another namespace's name in kubernetes.io/metadata.name. */
export function namespaceNameLabelMessage(namespace: string, value: string): string {
  return (
    `gitgate: the label ${NAMESPACE_NAME_LABEL}=${value} on namespace ${namespace} must equal its own name: ` +
    "gitgate's admission webhooks exclude namespaces by it (Kubernetes ≥ 1.21 sets it itself)."
  );
}
