/**
 * The admission decision (DESIGN "Admission decision"): pure, in-memory, no I/O. The numbered
 * comments follow the order there; the first rule that settles the request wins.
 */
import { isDeepStrictEqual } from "node:util";
import type { AlertEvent, AlertEventType, FieldChange } from "../manifest/event.js";
import { undeclaredRules } from "../diff/allowed.js";
import { diffDeclared, type DeclaredChange } from "../diff/declared.js";
import { diffUndeclared } from "../diff/undeclared.js";
import { cursorIgnoresPath, ignoreCursor } from "../diff/ignore.js";
import { managedMarkerChanges, MARKER_POINTERS } from "../diff/markers.js";
import type {
  DesiredEntry,
  DesiredIndexReader,
  EnforcementMode,
  IgnoreRule,
  UndeclaredPolicy,
} from "../manifest/desired.js";
import { verifiedHold } from "../manifest/hold-record.js";
import {
  BREAK_GLASS_REASON_ANNOTATION,
  isManaged,
  NAMESPACE_NAME_LABEL,
  LAST_CHANGE_ANNOTATION,
  WEBHOOK_NAMESPACE_IGNORE,
  WEBHOOK_NAMESPACE_LABEL,
} from "../manifest/labels.js";
import { isSecret, redactHead } from "../manifest/redact.js";
import { isPlainObject, keyOf, type KubeObject, type ObjectRef } from "../manifest/object.js";
import { awaitingAppDecision } from "./awaiting.js";
import { checkBreakGlass, inBreakGlassGroup, opensBreakGlass, type BreakGlassCheck } from "./break-glass.js";
import { recordProblem } from "./record-check.js";
import {
  breakGlassWarning,
  deleteMessage,
  namespaceNameLabelMessage,
  reservedLabelMessage,
  violationMessage,
  violationWarnings,
} from "./message.js";
import type { AdmissionPolicy, AdmissionRequest, Decision, DecisionReason, Verdict } from "./types.js";

/** A Scale request names its parent only by resource; these are the built-in kinds with a scale subresource. */
const SCALE_KINDS: Record<string, string> = {
  "apps/deployments": "Deployment",
  "apps/replicasets": "ReplicaSet",
  "apps/statefulsets": "StatefulSet",
  "/replicationcontrollers": "ReplicationController",
};

/** Identity of the object a request is about (the parent object for subresources). */
export function targetOf(request: AdmissionRequest, policy: AdmissionPolicy): ObjectRef {
  const obj = request.object ?? request.oldObject;
  let { group, kind } = request.kind;
  if (request.subResource === "scale") {
    const resource = `${request.resource.group}/${request.resource.resource}`;
    group = request.resource.group;
    kind = policy.resourceKinds?.[resource] ?? SCALE_KINDS[resource] ?? kind;
  }
  return {
    group,
    kind,
    namespace: request.namespace || obj?.metadata.namespace || "",
    name: request.name || obj?.metadata.name || "",
  };
}

export interface Violations {
  deleting: boolean;
  /** Declared fields changed away from Git, then (flagged `undeclared`) fields Git does not declare. */
  changes: DeclaredChange[];
}

/** How undeclared fields are judged for an entry: its app's choice, else the config's, else its mode. */
export function undeclaredPolicyOf(
  entry: DesiredEntry,
  policy?: Partial<AdmissionPolicy>,
): UndeclaredPolicy | undefined {
  return entry.undeclaredFields ?? policy?.undeclaredFields;
}

/**
 * The HorizontalPodAutoscaler controller's identities (kube-controller-manager with and without
 * --use-service-account-credentials): the replicas of an object whose Git leaves them out are its
 * to set through `scale`, when an HPA in Git targets the object.
 */
export const AUTOSCALER_USERS: readonly string[] = [
  "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
  "system:kube-controller-manager",
];

/** Steps 3–5: what the request changes away from Git (scale replicas, deletion, markers, declared and undeclared fields). */
export function violationsOf(
  request: AdmissionRequest,
  entry: DesiredEntry,
  policy?: Partial<AdmissionPolicy>,
): Violations {
  if (request.subResource === "scale")
    return { deleting: false, changes: scaleViolations(request, entry, undeclaredPolicyOf(entry, policy)) };
  if (request.operation === "DELETE") return { deleting: true, changes: [] };
  const requested = request.object ?? undefined;
  // Markers are judged on UPDATE only: a CREATE of the raw Git file by hand lacks them, removes nothing,
  // and the reconciler stamps them on its next apply.
  const markers =
    request.operation === "UPDATE"
      ? managedMarkerChanges(entry.object, requested, request.oldObject ?? undefined)
      : [];
  const rules = withMarkerRule(entry.ignore);
  let declared = diffDeclared(entry.object, requested, rules);
  // Drift already live (selfHeal off, a break-glass window, gitgate down) is not this request's doing:
  // an UPDATE is judged on what it changes. Secret values are compared redacted, so they are not.
  const previous = request.operation === "UPDATE" ? request.oldObject : undefined;
  if (declared.length > 0 && previous && !isSecret(entry.object)) {
    const before = new Map(diffDeclared(entry.object, previous, rules).map((c) => [c.path, c]));
    declared = declared.filter((c) => {
      const old = before.get(c.path);
      return !old || !isDeepStrictEqual(old.liveValue, c.liveValue);
    });
  }
  // Fields Git does not declare, judged on UPDATE only: what the request changes from the live object.
  const undeclared =
    previous && requested && undeclaredPolicyOf(entry, policy) !== "allow"
      ? diffUndeclared(entry.object, previous, requested, undeclaredRules(rules, entry.allowedChanges))
      : [];
  return { deleting: false, changes: [...markers, ...declared, ...undeclared] };
}

const MARKER_RULE: IgnoreRule = { jsonPointers: [...MARKER_POINTERS] };
const rulesWithMarkers = new WeakMap<readonly IgnoreRule[], IgnoreRule[]>();

/** The app's ignore rules plus the markers (judged apart): one array per app, so its parsed form is cached. */
function withMarkerRule(rules: readonly IgnoreRule[]): IgnoreRule[] {
  let all = rulesWithMarkers.get(rules);
  if (!all) rulesWithMarkers.set(rules, (all = [...rules, MARKER_RULE]));
  return all;
}

function scaleViolations(
  request: AdmissionRequest,
  entry: DesiredEntry,
  undeclared: UndeclaredPolicy | undefined,
): DeclaredChange[] {
  const gitValue = isPlainObject(entry.object.spec) ? entry.object.spec.replicas : undefined;
  if (cursorIgnoresPath(ignoreCursor(entry.ref, entry.ignore), ["spec", "replicas"])) return [];
  const scaleSpec = request.object?.spec;
  const requested = isPlainObject(scaleSpec) ? scaleSpec.replicas : undefined;
  const before = isPlainObject(request.oldObject?.spec) ? request.oldObject.spec.replicas : undefined;
  if (gitValue === undefined || gitValue === null) {
    // Replicas Git leaves out: an undeclared field, unless allowed or its HPA (in Git) is scaling.
    if (undeclared === "allow" || requested === before) return [];
    if (
      cursorIgnoresPath(ignoreCursor(entry.ref, undeclaredRules([], entry.allowedChanges)), [
        "spec",
        "replicas",
      ])
    )
      return [];
    if (entry.autoscaler && AUTOSCALER_USERS.includes(request.userInfo.username)) return [];
    return [{ path: "spec.replicas", pointer: "/spec/replicas", liveValue: requested, undeclared: true }];
  }
  if (requested === gitValue) return [];
  return [{ path: "spec.replicas", pointer: "/spec/replicas", gitValue, liveValue: requested }];
}

export function isExempt(request: AdmissionRequest, policy: AdmissionPolicy): boolean {
  const { username, groups = [] } = request.userInfo;
  return policy.exemptUsers.includes(username) || groups.some((g) => policy.exemptGroups.includes(g));
}

/** Everything one decision reads. */
export interface DecisionInput {
  request: AdmissionRequest;
  index: DesiredIndexReader;
  policy: AdmissionPolicy;
  now: Date;
  /**
   * The live object a break-glass member's `scale` is for (the Scale carries none of its
   * annotations), read beforehand because liveParentNeeded() asked for it; absent otherwise.
   */
  parent?: KubeObject;
}

/**
 * The one request decide() needs more than the index for: a break-glass member's `scale` reads
 * the parent object's annotations (the watch cache may not hold it, or may lag a kubectl
 * annotate). Returns the entry whose live object the caller reads and passes as `parent`.
 */
export function liveParentNeeded(
  request: AdmissionRequest,
  index: DesiredIndexReader,
  policy: AdmissionPolicy,
): DesiredEntry | undefined {
  if (request.subResource !== "scale") return undefined;
  if (!inBreakGlassGroup(request, policy)) return undefined;
  return index.get(keyOf(targetOf(request, policy)));
}

export function decide(input: DecisionInput): Decision {
  const { request, index, policy, now, parent } = input;
  const ref = targetOf(request, policy);
  const key = keyOf(ref);
  const allow = (reason: DecisionReason): Decision => ({ allowed: true, verdict: "allowed", reason, key });
  // 0. The label that takes a namespace out of the gate is gitgate's alone to set.
  const reserved = reservedLabelDecision(request, policy, key);
  if (reserved) return reserved;

  const entry = index.get(key);

  // 1. Not in the index and not labelled as managed: the fast path for nearly every request.
  if (!entry && !isManaged(request.object ?? undefined) && !isManaged(request.oldObject ?? undefined)) {
    return allow("unmanaged");
  }
  if (entry && (entry.mode ?? policy.defaultMode) === "off") return allow("mode-off");

  // 2. gitgate itself, then exempt users, groups and service accounts.
  if (request.userInfo.username === policy.selfUsername) return allow("self");
  // gitgate's record of who changed the object, and of break-glass windows: exempt users included.
  const forged = entry ? recordProblem(request, policy, key, now) : undefined;
  if (forged) return forgedRecordDecision(key, forged);
  if (isExempt(request, policy)) return allow("exempt");

  // 3. status is the controllers'; scale is judged below against Git's replicas; others (exec, eviction…) pass.
  if (request.subResource && request.subResource !== "scale") return allow("subresource");
  if (request.operation === "CONNECT") return allow("subresource");
  // Labelled but absent: its app not rendered yet (answered per failurePolicy), else absent from the
  // current revision (pending prune, or copied label) and there is nothing to compare with.
  if (!entry) return awaitingAppDecision(request, index, policy, key) ?? allow("not-indexed");
  // The deletion was already admitted; finalizer removal must not wedge it (namespaces would hang).
  if (request.operation === "UPDATE" && request.oldObject?.metadata.deletionTimestamp)
    return allow("being-deleted");

  // 4–5. Deletion, removed markers, declared fields that differ from Git.
  const violations = violationsOf(request, entry, policy);
  if (!violations.deleting && violations.changes.length === 0) {
    // Annotating alone opens a break-glass window, for what cannot carry annotations (kubectl scale).
    return opensBreakGlass(request) ? openWindow(request, entry, policy, now, key) : allow("matches-git");
  }

  // 6–7.
  return judge(request, entry, violations, policy, now, key, parent);
}

/** A request that only sets the break-glass annotations: a grant (self-heal paused), or a note why not. */
function openWindow(
  request: AdmissionRequest,
  entry: DesiredEntry,
  policy: AdmissionPolicy,
  now: Date,
  key: string,
): Decision {
  const check = checkBreakGlass(request, policy, now);
  if (check.kind === "granted") return granted(request, entry, [], check, now, key);
  return {
    allowed: true,
    verdict: "allowed",
    reason: "matches-git",
    key,
    ...(check.kind === "refused" ? { warnings: [check.note] } : {}),
  };
}

/**
 * Break-glass for a `scale` request: its reason is on the live parent (kubectl annotate first), and
 * the window must be open cluster-wide — the annotating request's grant, recorded and signed on the
 * object by the mutating webhook — since the scale itself passes no mutating webhook to record one.
 */
function scaleBreakGlass(
  request: AdmissionRequest,
  entry: DesiredEntry,
  policy: AdmissionPolicy,
  now: Date,
  key: string,
  parent: KubeObject | undefined,
): BreakGlassCheck {
  const hint =
    `kubectl scale cannot carry break-glass annotations: a member of a break-glass group annotates ` +
    `${entry.ref.kind} ${entry.ref.namespace ? `${entry.ref.namespace}/` : ""}${entry.ref.name} with ` +
    `${BREAK_GLASS_REASON_ANNOTATION} first (kubectl annotate; a new reason or expiry opens a new window), then scales.`;
  const check = checkBreakGlass(request, policy, now, parent?.metadata.annotations ?? {});
  if (check.kind === "none") return { kind: "refused", note: `Break-glass: ${hint}` };
  if (check.kind === "refused") return check;
  const open = parent && policy.holdSecret ? verifiedHold(parent, key, policy.holdSecret, now) : undefined;
  if (!open) return { kind: "refused", note: `Break-glass refused: no open break-glass window; ${hint}` };
  return { kind: "granted", reason: check.reason, expiresAt: open.expiresAt };
}

/**
 * A Namespace CREATE/UPDATE that sets a label the webhooks' namespaceSelector trusts: refused in
 * every mode unless gitgate or an exempt user asks. `gitgate.io/webhook=ignore` outside kube-system
 * and gitgate's namespace would take a namespace out of the gate; so would, on Kubernetes 1.20
 * (where nothing sets or guards it), `kubernetes.io/metadata.name` with another namespace's name.
 * Undefined for every other request.
 */
export function reservedLabelDecision(
  request: AdmissionRequest,
  policy: AdmissionPolicy,
  key: string,
): Decision | undefined {
  if (request.kind.group !== "" || request.kind.kind !== "Namespace" || request.subResource) return undefined;
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return undefined;
  const labels = request.object?.metadata.labels ?? {};
  const before = request.oldObject?.metadata.labels ?? {};
  const name = request.name || request.object?.metadata.name || "";
  const ignoring =
    labels[WEBHOOK_NAMESPACE_LABEL] === WEBHOOK_NAMESPACE_IGNORE &&
    before[WEBHOOK_NAMESPACE_LABEL] !== WEBHOOK_NAMESPACE_IGNORE &&
    !(policy.ignoredNamespaces ?? ["kube-system"]).includes(name);
  const nameLabel = labels[NAMESPACE_NAME_LABEL];
  const misnamed =
    nameLabel !== undefined && nameLabel !== name && nameLabel !== before[NAMESPACE_NAME_LABEL];
  if (!ignoring && !misnamed) return undefined;
  if (request.userInfo.username === policy.selfUsername)
    return { allowed: true, verdict: "allowed", reason: "self", key };
  if (isExempt(request, policy)) return { allowed: true, verdict: "allowed", reason: "exempt", key };
  const message = ignoring
    ? reservedLabelMessage(name, policy.ignoredNamespaces)
    : namespaceNameLabelMessage(name, nameLabel ?? "");
  return {
    allowed: false,
    verdict: "denied",
    reason: "reserved-label",
    key,
    status: { code: 403, reason: "Forbidden", message },
  };
}

/** The raw values an admitted request sets, for attribution once the live object confirms them; none for dry runs. */
function claimOf(request: AdmissionRequest, violations: Violations): Decision["claimed"] {
  if (request.dryRun === true || violations.changes.length === 0) return undefined;
  return violations.changes.map((c) => ({ path: c.path, value: c.liveValue }));
}

/** Refused in every mode: the record is evidence gitgate relies on, not a field of the desired state. */
function forgedRecordDecision(key: string, problem: string): Decision {
  return {
    allowed: false,
    verdict: "denied",
    reason: "forged-record",
    key,
    status: {
      code: 403,
      reason: "Forbidden",
      message:
        `${LAST_CHANGE_ANNOTATION} is gitgate's record of out-of-band changes and is written only by ` +
        `gitgate's mutating webhook: this request's record is refused, ${problem}.`,
    },
  };
}

/** A value kept in decisions and alert queues: big ones (up to 3 MiB per request) as a short text. */
const MAX_KEPT_CHARS = 2048;
function bounded(value: unknown): unknown {
  if (value === undefined || value === null || typeof value === "number" || typeof value === "boolean")
    return value;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text.length <= MAX_KEPT_CHARS) return value;
  // redactHead cuts before matching, and drops what a cut could split past recognition.
  return `${redactHead(text, MAX_KEPT_CHARS).slice(0, MAX_KEPT_CHARS)}… (${text.length} characters)`;
}

function judge(
  request: AdmissionRequest,
  entry: DesiredEntry,
  violations: Violations,
  policy: AdmissionPolicy,
  now: Date,
  key: string,
  parent?: KubeObject,
): Decision {
  const changes: FieldChange[] = violations.changes.map(({ path, gitValue, liveValue, undeclared }) => ({
    path,
    gitValue: bounded(gitValue),
    liveValue: bounded(liveValue),
    ...(undeclared ? { undeclared } : {}),
  }));
  const event = (type: AlertEventType, action: string, detail?: string): AlertEvent | undefined =>
    alertEvent(request, entry, changes, now, type, action, detail);

  // 7. Break-glass overrides every mode; a refusal is explained in the normal outcome.
  const breakGlass =
    request.subResource === "scale"
      ? scaleBreakGlass(request, entry, policy, now, key, parent)
      : checkBreakGlass(request, policy, now);
  // What the request sets, for attribution if it is admitted (break-glass, warn, audit).
  const claimed = claimOf(request, violations);
  if (breakGlass.kind === "granted")
    return { ...granted(request, entry, changes, breakGlass, now, key), ...(claimed ? { claimed } : {}) };
  const note = breakGlass.kind === "refused" ? ` ${breakGlass.note}` : "";

  // 6. By mode.
  const message = violations.deleting
    ? deleteMessage(entry.ref, entry.source)
    : violationMessage(entry.ref, entry.source, changes, scaleNote(request, entry));
  const mode = effectiveMode(entry.mode ?? policy.defaultMode, undeclaredPolicyOf(entry, policy), changes);
  const base = { key, reason: "violation" as const, changes };
  const detail = note === "" ? undefined : note.trim();
  if (mode === "enforce") {
    return {
      ...base,
      allowed: false,
      verdict: "denied",
      status: { code: 403, reason: "Forbidden", message: `${message}${note}` },
      event: event("change-denied", "Denied the request.", detail),
    };
  }
  const verdict: Verdict = mode === "warn" ? "warned" : "audited";
  const warnings =
    mode === "warn"
      ? [
          ...(violations.deleting ? [message] : violationWarnings(entry.ref, entry.source, changes)),
          ...(detail ? [detail] : []),
        ]
      : undefined;
  return {
    ...base,
    allowed: true,
    verdict,
    ...(warnings ? { warnings } : {}),
    ...(claimed ? { claimed } : {}),
    event:
      mode === "warn"
        ? event("change-warned", "Admitted the request with a warning.", detail)
        : event("change-audited", "Admitted and recorded the request.", detail),
  };
}

const UNDECLARED_MODE: Record<Exclude<UndeclaredPolicy, "allow">, EnforcementMode> = {
  deny: "enforce",
  warn: "warn",
};
const STRICTNESS: Record<EnforcementMode, number> = { off: 0, audit: 1, warn: 2, enforce: 3 };

/**
 * The strictest mode among the changes: declared fields follow the app's mode, undeclared ones the
 * undeclaredFields choice (unset: the mode too). `allow` never reaches here (nothing is reported).
 */
export function effectiveMode(
  mode: EnforcementMode,
  undeclared: UndeclaredPolicy | undefined,
  changes: readonly FieldChange[],
): EnforcementMode {
  const forUndeclared = undeclared && undeclared !== "allow" ? UNDECLARED_MODE[undeclared] : mode;
  let strictest: EnforcementMode | undefined;
  for (const change of changes) {
    const m = change.undeclared ? forUndeclared : mode;
    if (!strictest || STRICTNESS[m] > STRICTNESS[strictest]) strictest = m;
  }
  return strictest ?? mode;
}

/** For a scale of an object an HPA in Git targets: the replicas are the HPA's, change it instead. */
function scaleNote(request: AdmissionRequest, entry: DesiredEntry): string | undefined {
  if (request.subResource !== "scale" || !entry.autoscaler) return undefined;
  return (
    `HorizontalPodAutoscaler ${entry.autoscaler} scales this object: change its minReplicas/maxReplicas in Git` +
    (isPlainObject(entry.object.spec) && entry.object.spec.replicas !== undefined
      ? `, and remove spec.replicas from Git (or add /spec/replicas to ignoreDifferences) so the HPA can scale it.`
      : ".")
  );
}

/** Admitted under break-glass: self-heal paused for the object until expiry (no grant for dry runs). */
function granted(
  request: AdmissionRequest,
  entry: DesiredEntry,
  changes: FieldChange[],
  grant: Extract<BreakGlassCheck, { kind: "granted" }>,
  now: Date,
  key: string,
): Decision {
  const { expiresAt, reason } = grant;
  const action = `Admitted under break-glass until ${expiresAt.toISOString()}; self-heal paused for this object.`;
  return {
    allowed: true,
    verdict: "allowed",
    reason: "break-glass",
    key,
    warnings: [breakGlassWarning(entry.ref, expiresAt)],
    changes,
    event: alertEvent(request, entry, changes, now, "break-glass-used", action, reason),
    ...(request.dryRun === true
      ? {}
      : {
          breakGlass: {
            key,
            ref: entry.ref,
            app: entry.app,
            expiresAt,
            username: request.userInfo.username,
            reason,
          },
        }),
  };
}

/** The alert for a decision; none for dry runs. */
function alertEvent(
  request: AdmissionRequest,
  entry: DesiredEntry,
  changes: FieldChange[],
  now: Date,
  type: AlertEventType,
  action: string,
  detail?: string,
): AlertEvent | undefined {
  if (request.dryRun === true) return undefined;
  const { username, groups } = request.userInfo;
  return {
    type,
    time: now.toISOString(),
    app: entry.app,
    object: entry.ref,
    actor: { username, groups: groups ?? [], via: "admission" },
    changes,
    source: entry.source,
    action,
    ...(detail === undefined ? {} : { detail }),
    operation: request.operation,
  };
}
