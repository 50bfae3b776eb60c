/**
 * Undeclared additions on a live object, read from its managedFields, and the takeover that lets
 * server-side apply remove them. Pure.
 *
 * A field that Git does not declare and that another field manager wrote — `kubectl edit`, `patch`,
 * `set`, client-side apply, a script with its own manager, an exempt admin, anything written while
 * gitgate was down — is drift the declared diff cannot see. The fields the API server defaults are
 * owned by no manager, and the cluster's own controllers are trusted, so neither is reported. To
 * remove the additions, gitgate moves their ownership into its own Apply entry (as Flux's ssa
 * package does for kubectl's managers); its next forced apply then drops them, since it owns them
 * and no longer applies them. Paths on the operational allow-list, under ignoreDifferences, and
 * values that the API server allocates or makes immutable (NEVER_REMOVE) are left alone.
 */
import type { DesiredEntry, IgnoreRule } from "../manifest/desired.js";
import { FIELD_MANAGER } from "../manifest/labels.js";
import {
  isPlainObject,
  ownField,
  refOf,
  type KubeObject,
  type ManagedFieldsEntry,
} from "../manifest/object.js";
import { isSecret, REDACTED } from "../manifest/redact.js";
import { metadataKeyAllowed, undeclaredRules } from "./allowed.js";
import type { DeclaredChange } from "./declared.js";
import { cursorIgnores, ignoreCursor, stepCursor, type IgnoreCursor } from "./ignore.js";
import { formatPath, toPointer, type PathSegment } from "./path.js";

/** The cluster's own controllers: what they write is the cluster working, not drift. */
export const TRUSTED_MANAGERS: ReadonlySet<string> = new Set([
  "kube-controller-manager",
  "kube-scheduler",
  "kubelet",
  "kube-apiserver",
]);

/**
 * Values the API server allocates or that become immutable once set: removing them fails the apply
 * or reallocates them. Never taken over, whoever wrote them (often `kubectl create` of an object
 * gitgate later adopts, whose managedFields own the defaults too).
 */
export const NEVER_REMOVE: readonly IgnoreRule[] = [
  {
    group: "",
    kind: "Service",
    jsonPointers: [
      "/spec/clusterIP",
      "/spec/clusterIPs",
      "/spec/ipFamilies",
      "/spec/ipFamilyPolicy",
      "/spec/ports/*/nodePort",
      "/spec/healthCheckNodePort",
    ],
  },
  {
    group: "",
    kind: "PersistentVolumeClaim",
    jsonPointers: ["/spec/volumeName", "/spec/storageClassName", "/spec/volumeMode", "/spec/dataSource"],
  },
  { group: "", kind: "PersistentVolume", jsonPointers: ["/spec/claimRef"] },
  {
    group: "batch",
    kind: "Job",
    jsonPointers: [
      "/spec/selector",
      "/spec/template/metadata/labels/controller-uid",
      "/spec/template/metadata/labels/job-name",
    ],
  },
  { group: "", kind: "Pod", jsonPointers: ["/spec/nodeName"] },
  { group: "", kind: "ServiceAccount", jsonPointers: ["/secrets"] },
];

/** An undeclared addition: where, its live value, who wrote it, and its fieldsV1 node for the takeover. */
export interface Addition extends DeclaredChange {
  manager: string;
  /** Keys from the fieldsV1 root (`f:spec`, `k:{"name":"x"}`) and the owned node there. */
  fieldsPath: string[];
  fieldsNode: Record<string, unknown>;
}

interface Walk {
  kind: string;
  secret: boolean;
  manager: string;
  path: PathSegment[];
  fieldsPath: string[];
  out: Addition[];
  seen: Set<string>;
}

const MAX_ADDITIONS = 1000;

function isForeign(entry: ManagedFieldsEntry, self: string): boolean {
  const manager = entry.manager ?? "";
  return manager !== self && !TRUSTED_MANAGERS.has(manager) && entry.subresource !== "status";
}

/** The union of the fieldsV1 trees of the trusted managers (gitgate's own included). */
function trustedFields(entries: readonly ManagedFieldsEntry[], self: string): Record<string, unknown> {
  const union: Record<string, unknown> = {};
  for (const entry of entries)
    if (!isForeign(entry, self) && isPlainObject(entry.fieldsV1)) mergeFields(union, entry.fieldsV1);
  return union;
}

/** Deep union of two fieldsV1 trees, into `into`. */
export function mergeFields(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(from)) {
    const existing = into[key];
    if (isPlainObject(existing) && isPlainObject(value)) mergeFields(existing, value);
    else into[key] = isPlainObject(value) ? structuredClone(value) : value;
  }
}

/**
 * Fields of `live` that a foreign manager owns, no trusted manager shares, Git does not declare and
 * `rules` (undeclaredRules() plus NEVER_REMOVE) do not cover. In managedFields order, each path once.
 */
export function undeclaredAdditions(
  desired: KubeObject,
  live: KubeObject,
  rules: readonly IgnoreRule[],
  self = FIELD_MANAGER,
): Addition[] {
  const entries = live.metadata.managedFields ?? [];
  const foreign = entries.filter((e) => isForeign(e, self) && isPlainObject(e.fieldsV1));
  if (foreign.length === 0) return [];
  const trusted = trustedFields(entries, self);
  const ref = refOf(desired);
  // Two cursors: what is never taken over, and (for descending into an addition) what is allowed.
  const cursors: Cursors = { skip: ignoreCursor(ref, neverRemoving(rules)), allow: ignoreCursor(ref, rules) };
  const out: Addition[] = [];
  const seen = new Set<string>();
  for (const entry of foreign) {
    const walk: Walk = {
      kind: desired.kind,
      secret: isSecret(desired),
      manager: entry.manager ?? "",
      path: [],
      fieldsPath: [],
      out,
      seen,
    };
    visitFields(walk, cursors, entry.fieldsV1 as Record<string, unknown>, trusted, desired, live);
  }
  return out;
}

/** Undeclared additions on an entry's live object, unless its app allows undeclared fields. */
export function additionsOf(entry: DesiredEntry, live: KubeObject): Addition[] {
  if (entry.undeclaredFields === "allow") return [];
  return undeclaredAdditions(entry.object, live, undeclaredRules(entry.ignore, entry.allowedChanges));
}

interface Cursors {
  skip: IgnoreCursor;
  allow: IgnoreCursor;
}

const withNeverRemove = new WeakMap<readonly IgnoreRule[], IgnoreRule[]>();

/** `rules` plus NEVER_REMOVE, one array per rules array (so the compiled trie is cached). */
function neverRemoving(rules: readonly IgnoreRule[]): IgnoreRule[] {
  let all = withNeverRemove.get(rules);
  if (!all) withNeverRemove.set(rules, (all = [...rules, ...NEVER_REMOVE]));
  return all;
}

/** One fieldsV1 key resolved against Git's and the live object: its path segment and both values. */
interface Resolved {
  segment: PathSegment;
  git: unknown;
  live: unknown;
}

function resolve(key: string, git: unknown, live: unknown): Resolved | undefined {
  if (key.startsWith("f:")) {
    const name = key.slice(2);
    return {
      segment: name,
      git: ownField(git, name),
      live: ownField(live, name),
    };
  }
  if (!Array.isArray(live)) return undefined;
  const gitList = Array.isArray(git) ? git : [];
  if (key.startsWith("k:")) {
    const fields = parseJson(key.slice(2));
    if (!isPlainObject(fields)) return undefined;
    const pairs = Object.entries(fields);
    const matches = (item: unknown): boolean =>
      isPlainObject(item) &&
      pairs.every(([f, v]) => item[f] === v || (f === "protocol" && v === "TCP" && item[f] === undefined));
    const index = live.findIndex(matches);
    if (index < 0) return undefined;
    // Named as diffDeclared names them: a default-valued key (protocol TCP) left out.
    const keys = pairs.filter(
      ([f, v]) => (typeof v === "string" || typeof v === "number") && !(f === "protocol" && v === "TCP"),
    ) as Array<[string, string | number]>;
    return { segment: { keys, index }, git: gitList.find(matches), live: live[index] };
  }
  if (key.startsWith("v:")) {
    const value = parseJson(key.slice(2));
    if (value === undefined) return undefined;
    const index = live.findIndex((item) => item === value);
    if (index < 0) return undefined;
    return { segment: index, git: gitList.includes(value) ? value : undefined, live: value };
  }
  if (key.startsWith("i:")) {
    const index = Number(key.slice(2));
    return Number.isInteger(index) ? { segment: index, git: gitList[index], live: live[index] } : undefined;
  }
  return undefined;
}

/** A fieldsV1 key's JSON (`k:{"name":"web"}`, `v:"x"`); undefined when it is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function visitFields(
  walk: Walk,
  cursors: Cursors,
  node: Record<string, unknown>,
  trusted: unknown,
  git: unknown,
  live: unknown,
): void {
  for (const [key, child] of Object.entries(node)) {
    if (key === "." || !isPlainObject(child) || walk.out.length >= MAX_ADDITIONS) continue;
    const at = resolve(key, git, live);
    if (!at || at.live === undefined) continue; // stale bookkeeping: nothing live to remove
    const below: Cursors = {
      skip: stepCursor(cursors.skip, at.segment),
      allow: stepCursor(cursors.allow, at.segment),
    };
    if (cursorIgnores(below.skip) || allowedNote(walk.path, at.segment)) continue;
    // Top-level labels and annotations are judged key by key, whoever declares the map.
    const notes =
      walk.path.length === 1 &&
      walk.path[0] === "metadata" &&
      (key === "f:labels" || key === "f:annotations");
    const trustedChild = isPlainObject(trusted) ? trusted[key] : undefined;
    walk.path.push(at.segment);
    walk.fieldsPath.push(key);
    const hasChildren = Object.keys(child).some((k) => k !== ".");
    if ((at.git !== undefined && at.git !== null) || notes) {
      // Git declares it: gitgate applies it; only fields below it may be undeclared.
      if (hasChildren) visitFields(walk, below, child, trustedChild, at.git, at.live);
    } else if (trustedChild !== undefined) {
      // A controller shares it: never remove the field itself, but look below for foreign parts.
      if (hasChildren) visitFields(walk, below, child, trustedChild, undefined, at.live);
    } else if (below.allow.length > 0 && hasChildren) {
      // An allow-rule names a field further down (rollout restart's annotation): judge the parts.
      visitFields(walk, below, child, undefined, undefined, at.live);
    } else record(walk, at.live, child);
    walk.fieldsPath.pop();
    walk.path.pop();
  }
}

/** Top-level labels and annotations that Git does not declare are notes, unless they are gitgate's. */
function allowedNote(path: readonly PathSegment[], segment: PathSegment): boolean {
  if (path.length !== 2 || path[0] !== "metadata" || typeof segment !== "string") return false;
  const place = path[1];
  return (place === "labels" || place === "annotations") && metadataKeyAllowed(place, segment);
}

function record(walk: Walk, live: unknown, node: Record<string, unknown>): void {
  const path = formatPath(walk.path);
  if (walk.seen.has(path)) return;
  walk.seen.add(path);
  const secretValue = walk.secret && (walk.path[0] === "data" || walk.path[0] === "stringData");
  walk.out.push({
    path,
    pointer: toPointer(walk.path),
    liveValue: secretValue ? REDACTED : live,
    undeclared: true,
    manager: walk.manager,
    fieldsPath: [...walk.fieldsPath],
    fieldsNode: node,
  });
}

/**
 * managedFields with the additions owned by gitgate's Apply entry (created when gitgate has none)
 * and every foreign entry that owned one of them dropped: the API server then lets gitgate's next
 * forced apply remove them. What those entries owned besides is left unowned, and stays.
 */
export function takeOver(
  live: KubeObject,
  additions: readonly Addition[],
  apiVersion: string,
  now: Date,
  self = FIELD_MANAGER,
): ManagedFieldsEntry[] {
  const entries = live.metadata.managedFields ?? [];
  const dropped = new Set(additions.map((a) => a.manager));
  const mine = entries.find((e) => e.manager === self && e.operation === "Apply");
  const fields: Record<string, unknown> = isPlainObject(mine?.fieldsV1) ? structuredClone(mine.fieldsV1) : {};
  for (const addition of additions) {
    let node = fields;
    for (const key of addition.fieldsPath) {
      const next = node[key];
      node = isPlainObject(next) ? next : (node[key] = {});
    }
    mergeFields(node, addition.fieldsNode);
  }
  const owner: ManagedFieldsEntry = {
    ...(mine ?? { manager: self, operation: "Apply", apiVersion, fieldsType: "FieldsV1" }),
    time: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    fieldsV1: fields,
  };
  const kept = entries.filter(
    (e) => e !== mine && !(e.manager !== undefined && dropped.has(e.manager) && isForeign(e, self)),
  );
  return [owner, ...kept];
}
