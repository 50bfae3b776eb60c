/**
 * A set's status from one reconcile's outcome, pure: Argo CD's ApplicationSet conditions
 * (ErrorOccurred, ParametersGenerated, ResourcesUpToDate) and each generated GitApp's sync and health.
 */
import { destinationCluster, type GitApp } from "../api/gitapp.js";
import type {
  GeneratedAppStatus,
  GitAppSetStatus,
  SetCondition,
  SetConditionType,
} from "../api/gitappset.js";
import type { GitgateError } from "../errors.js";
import { HUB_CLUSTER } from "./generators.js";
import type { SetPlan } from "./plan.js";

export type SetOutcome =
  | { kind: "failed"; stage: "generate" | "apply"; error: GitgateError }
  | { kind: "done"; plan: SetPlan; pruned: string[]; prune: boolean };

/** What the generated GitApps report, by name (those the set owns and generates). */
export function applicationStatus(
  names: readonly string[],
  apps: ReadonlyMap<string, GitApp>,
): GeneratedAppStatus[] {
  return names.map((name) => {
    const app = apps.get(name);
    const synced = app?.status?.conditions?.find((c) => c.type === "Synced");
    return {
      name,
      cluster: (app && destinationCluster(app)) ?? HUB_CLUSTER,
      ...(app?.status?.revision ? { revision: app.status.revision } : {}),
      ...(synced ? { synced: synced.status } : {}),
      ...(app?.status?.health ? { health: app.status.health } : {}),
    };
  });
}

function cond(
  type: SetConditionType,
  ok: boolean,
  reason: string,
  message: string,
): Omit<SetCondition, "lastTransitionTime"> {
  return { type, status: ok ? "True" : "False", reason, message };
}

function conditionsOf(outcome: SetOutcome): Array<Omit<SetCondition, "lastTransitionTime">> {
  if (outcome.kind === "failed") {
    const { error, stage } = outcome;
    return [
      { ...cond("ErrorOccurred", true, error.reason, error.message) },
      stage === "generate"
        ? cond("ParametersGenerated", false, error.reason, error.message)
        : cond("ParametersGenerated", true, "ParametersGenerated", "the generators gave their parameters"),
      cond("ResourcesUpToDate", false, error.reason, error.message),
    ];
  }
  const { plan } = outcome;
  const count = `${plan.apply.length} GitApp${plan.apply.length === 1 ? "" : "s"} generated`;
  const problems = [
    ...(plan.notOwned.length
      ? [`GitApp ${plan.notOwned.join(", ")} exists and is not this set's: left as it is`]
      : []),
    ...(!outcome.prune && plan.orphans.length
      ? [`GitApp ${plan.orphans.join(", ")} no longer generated: left (syncPolicy.prune is off)`]
      : []),
  ];
  const notOwned = plan.notOwned.length > 0;
  return [
    notOwned
      ? cond("ErrorOccurred", true, "NotOwned", problems[0] ?? "")
      : cond("ErrorOccurred", false, "NoError", "no error"),
    cond("ParametersGenerated", true, "ParametersGenerated", count),
    problems.length
      ? cond("ResourcesUpToDate", false, notOwned ? "NotOwned" : "Orphaned", problems.join("; "))
      : cond(
          "ResourcesUpToDate",
          true,
          "UpToDate",
          `${count}, all applied${outcome.pruned.length ? `; ${outcome.pruned.length} pruned` : ""}`,
        ),
  ];
}

/** The conditions with their transition times kept where the status did not change. */
export function setConditions(
  previous: readonly SetCondition[] | undefined,
  outcome: SetOutcome,
  now: string,
): SetCondition[] {
  return conditionsOf(outcome).map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    return {
      ...c,
      message: c.message.slice(0, 1024),
      lastTransitionTime: before && before.status === c.status ? before.lastTransitionTime : now,
    };
  });
}

/** The whole status a reconcile writes. */
export function setStatus(
  previous: GitAppSetStatus | undefined,
  outcome: SetOutcome,
  apps: ReadonlyMap<string, GitApp>,
  generation: number | undefined,
  now: string,
): GitAppSetStatus {
  const names =
    outcome.kind === "done"
      ? outcome.plan.apply.map((a) => a.metadata.name ?? "")
      : (previous?.applications ?? []).map((a) => a.name);
  const orphaned =
    outcome.kind === "done" && !outcome.prune ? outcome.plan.orphans : (previous?.orphaned ?? []);
  return {
    conditions: setConditions(previous?.conditions, outcome, now),
    applications: applicationStatus(names, apps),
    orphaned: outcome.kind === "done" && outcome.prune ? [] : orphaned,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}
