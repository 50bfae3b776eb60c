/** Kubernetes label selectors (matchLabels, matchExpressions) over a label map. Pure. */
import type { LabelSelector } from "../api/gitappset.js";

/** Whether `labels` satisfy every term; an empty selector matches everything (as Kubernetes). */
export function matchesSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  for (const term of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, term.key);
    const value = has ? labels[term.key] : undefined;
    const values = term.values ?? [];
    switch (term.operator) {
      case "In":
        if (!has || !values.includes(value ?? "")) return false;
        break;
      case "NotIn":
        if (has && values.includes(value ?? "")) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** What is wrong with a selector's terms (In/NotIn need values, Exists/DoesNotExist take none). */
export function selectorProblem(selector: LabelSelector): string | undefined {
  for (const term of selector.matchExpressions ?? []) {
    const count = term.values?.length ?? 0;
    if ((term.operator === "In" || term.operator === "NotIn") && count === 0)
      return `matchExpressions: ${term.operator} on "${term.key}" needs values`;
    if ((term.operator === "Exists" || term.operator === "DoesNotExist") && count > 0)
      return `matchExpressions: ${term.operator} on "${term.key}" takes no values`;
  }
  return undefined;
}
