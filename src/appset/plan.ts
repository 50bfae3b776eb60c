/**
 * What a set's parameter sets mean for its GitApps, pure: the GitApps to apply (template rendered,
 * in the set's namespace, labelled and owned by the set), the names another owner holds (never
 * overwritten), and the set's former GitApps it generates no more (deleted only with prune).
 */
import { GITAPP_API_VERSION, GITAPP_KIND, type GitApp } from "../api/gitapp.js";
import {
  APPSET_FIELD_MANAGER,
  APPSET_LABEL,
  GITAPPSET_KIND,
  MAX_TEMPLATE_BYTES,
  type GitAppSet,
  type GitAppSetSpec,
  type GitAppTemplate,
} from "../api/gitappset.js";
import { terminal, type GitgateError } from "../errors.js";
import { isPlainObject } from "../manifest/object.js";
import { HUB_CLUSTER } from "./generators.js";
import { renderTemplate, type Params } from "./template.js";

/** A DNS subdomain: what a GitApp's name must be. */
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

export interface SetPlan {
  /** The generated GitApps, as they are to be server-side applied. */
  apply: GitApp[];
  /** Generated names held by a GitApp this set does not own: left alone. */
  notOwned: string[];
  /** This set's GitApps it no longer generates. */
  orphans: string[];
}

export type Planned = { ok: true; plan: SetPlan } | { ok: false; error: GitgateError };

export interface PlanContext {
  /** The set acts for a tenant (outside the platform namespaces): no remote clusters. */
  tenant: boolean;
}

/** Whether `app` is this set's: its controller ownerReference is the set (by uid). */
export function ownedBy(app: GitApp, set: GitAppSet): boolean {
  return (app.metadata.ownerReferences ?? []).some(
    (r) => r.controller === true && r.kind === GITAPPSET_KIND && r.uid === set.metadata.uid,
  );
}

function fail(reason: string, message: string): Planned {
  return { ok: false, error: terminal(reason, message) };
}

/** One GitApp from the template and one parameter set; a string is the reason it cannot be. */
function generatedApp(
  set: GitAppSet,
  template: GitAppTemplate,
  params: Params,
  ctx: PlanContext,
): GitApp | GitgateError {
  const rendered = renderTemplate(template, params);
  if (!rendered.ok) return rendered.error;
  const { metadata, spec } = rendered.value;
  const namespace = set.metadata.namespace ?? "default";
  const setName = set.metadata.name ?? "";
  if (!NAME.test(metadata.name))
    return terminal(
      "InvalidName",
      `generated name "${metadata.name.slice(0, 80)}" is not a valid GitApp name (a DNS subdomain)`,
    );
  const asked = (metadata as { namespace?: string }).namespace;
  if (asked !== undefined && asked !== namespace)
    return terminal(
      "NamespaceRefused",
      `template names namespace "${asked}": generated GitApps go in the set's namespace "${namespace}"`,
    );
  const destination = { ...(spec.destination ?? {}) };
  if (destination.cluster === HUB_CLUSTER || destination.cluster === "") delete destination.cluster;
  if (ctx.tenant && destination.cluster !== undefined)
    return terminal(
      "RemoteClusterRefused",
      `GitApp ${metadata.name} would name cluster "${destination.cluster}": only a GitAppSet in a platform namespace may generate GitApps for a registered cluster`,
    );
  const app: GitApp = {
    apiVersion: GITAPP_API_VERSION,
    kind: GITAPP_KIND,
    metadata: {
      name: metadata.name,
      namespace,
      labels: { ...(metadata.labels ?? {}), [APPSET_LABEL]: setName },
      ...(metadata.annotations ? { annotations: metadata.annotations } : {}),
      ownerReferences: [
        {
          apiVersion: set.apiVersion,
          kind: GITAPPSET_KIND,
          name: setName,
          uid: set.metadata.uid ?? "",
          controller: true,
        },
      ],
    },
    spec: { ...spec, ...(spec.destination ? { destination } : {}) },
  };
  if (JSON.stringify(app).length > 2 * MAX_TEMPLATE_BYTES)
    return terminal(
      "TooLarge",
      `generated GitApp ${metadata.name} is larger than ${2 * MAX_TEMPLATE_BYTES} bytes`,
    );
  return app;
}

/**
 * The plan for one set: `existing` are the GitApps of the set's namespace. Any generated GitApp that
 * cannot be made fails the whole set (nothing applied, nothing pruned).
 */
export function planSet(
  set: GitAppSet,
  spec: GitAppSetSpec,
  params: readonly Params[],
  existing: readonly GitApp[],
  ctx: PlanContext,
): Planned {
  const setName = set.metadata.name ?? "";
  if (setName.length > 63)
    return fail("InvalidName", "a GitAppSet's name is at most 63 characters (it is a label value)");
  const byName = new Map(existing.map((a) => [a.metadata.name ?? "", a]));
  const apply: GitApp[] = [];
  const notOwned: string[] = [];
  const names = new Set<string>();
  for (const p of params) {
    const app = generatedApp(set, spec.template, p, ctx);
    if (!("spec" in app)) return { ok: false, error: app };
    const name = app.metadata.name ?? "";
    if (names.has(name))
      return fail("DuplicateName", `two parameter sets generate the GitApp name "${name}"`);
    names.add(name);
    const current = byName.get(name);
    if (current && !ownedBy(current, set)) notOwned.push(name);
    else apply.push(app);
  }
  const orphans = existing
    .filter(
      (a) =>
        a.metadata.labels?.[APPSET_LABEL] === setName && ownedBy(a, set) && !names.has(a.metadata.name ?? ""),
    )
    .map((a) => a.metadata.name ?? "")
    .sort();
  return { ok: true, plan: { apply, notOwned: notOwned.sort(), orphans } };
}

/** Deep equality of JSON values, key order aside. */
function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b))
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]))
    );
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]))
    );
  }
  return a === b;
}

/** The label or annotation keys the set's last apply owns on `live` (its managedFields entry). */
function appliedKeys(live: GitApp, field: "f:labels" | "f:annotations"): string[] {
  const entry = (live.metadata.managedFields ?? []).find(
    (m) => m.manager === APPSET_FIELD_MANAGER && m.operation === "Apply",
  );
  const fields = isPlainObject(entry?.fieldsV1) ? entry.fieldsV1["f:metadata"] : undefined;
  const keys = isPlainObject(fields) ? fields[field] : undefined;
  return isPlainObject(keys)
    ? Object.keys(keys)
        .filter((k) => k.startsWith("f:"))
        .map((k) => k.slice(2))
    : [];
}

/**
 * Whether the live GitApp already is what the set would apply (its spec, and the set's labels,
 * annotations and ownerReference on it): then no write, so that a set of many GitApps costs no
 * requests on each run.
 */
export function upToDate(live: GitApp, desired: GitApp): boolean {
  const has = (want: Record<string, string> | undefined, got: Record<string, string> | undefined): boolean =>
    Object.entries(want ?? {}).every(([k, v]) => got?.[k] === v);
  const owner = desired.metadata.ownerReferences?.[0];
  // A key the last apply set and the template no longer has: the apply removes it.
  const dropped = (field: "f:labels" | "f:annotations", want: Record<string, string> | undefined): boolean =>
    appliedKeys(live, field).some((k) => !Object.hasOwn(want ?? {}, k));
  return (
    sameJson(live.spec, desired.spec) &&
    has(desired.metadata.labels, live.metadata.labels) &&
    has(desired.metadata.annotations, live.metadata.annotations) &&
    !dropped("f:labels", desired.metadata.labels) &&
    !dropped("f:annotations", desired.metadata.annotations) &&
    (live.metadata.ownerReferences ?? []).some((r) => r.uid === owner?.uid && r.controller === true)
  );
}
