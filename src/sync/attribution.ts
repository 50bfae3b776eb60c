/** Who changed a live object: the newest managedFields entry not written by gitgate. Pure. */
import { FIELD_MANAGER } from "../manifest/labels.js";
import type { KubeObject } from "../manifest/object.js";

export function lastChanger(live: KubeObject, selfManager = FIELD_MANAGER): string | undefined {
  let newest: { manager: string; time: string } | undefined;
  for (const entry of live.metadata.managedFields ?? []) {
    if (!entry.manager || entry.manager === selfManager || entry.subresource === "status") continue;
    const time = entry.time ?? "";
    if (!newest || time > newest.time) newest = { manager: entry.manager, time };
  }
  return newest?.manager;
}
