/** Condition bookkeeping: lastTransitionTime only moves when the status changes. Pure. */
import type { Condition, ConditionStatus, ConditionType } from "../api/gitapp.js";

export interface ConditionInput {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function setConditions(
  previous: Condition[] | undefined,
  updates: ConditionInput[],
  now: Date,
  observedGeneration?: number,
): Condition[] {
  const byType = new Map((previous ?? []).map((c) => [c.type, c]));
  for (const u of updates) {
    const old = byType.get(u.type);
    const lastTransitionTime = old && old.status === u.status ? old.lastTransitionTime : now.toISOString();
    byType.set(u.type, { ...u, message: u.message.slice(0, 4000), lastTransitionTime, observedGeneration });
  }
  const order: ConditionType[] = ["Ready", "Synced", "Drifted"];
  return [...byType.values()].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}

export function findCondition(
  conditions: Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
