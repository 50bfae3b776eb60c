/**
 * Pods, as Argo CD judges them: a container waiting on an error or a back-off (CrashLoopBackOff,
 * ImagePullBackOff, ErrImagePull, CreateContainerConfigError) is Degraded for pods that restart;
 * pods that run to completion (hooks) are Progressing until they succeed. Pure.
 */
import type { KubeObject } from "../manifest/object.js";
import { fields, health, isTrue, condition, num, text, type Fields, type Health } from "./types.js";

function statuses(status: Fields, key: string): Fields[] {
  const list = status[key];
  return Array.isArray(list) ? list.map(fields) : [];
}

/** Linear checks on bounded strings: no regular expressions on what a kubelet (or anyone) wrote. */
function waitingOnError(reason: string): boolean {
  return reason.startsWith("Err") || reason.endsWith("Error") || reason.endsWith("BackOff");
}

function failMessage(ctr: Fields): string {
  const terminated = fields(fields(ctr.state).terminated);
  if (text(terminated, "message")) return text(terminated, "message");
  if (terminated.reason === "OOMKilled") return "OOMKilled";
  const code = num(terminated, "exitCode");
  return code !== 0 ? `container ${text(ctr, "name")} failed with exit code ${code}` : "";
}

export function podHealth(obj: KubeObject): Health {
  const spec = fields(obj.spec);
  const status = fields(obj.status);
  const restartPolicy = text(spec, "restartPolicy") || "Always";
  const phase = text(status, "phase");
  const message = text(status, "message");
  const containers = [...statuses(status, "initContainerStatuses"), ...statuses(status, "containerStatuses")];
  if (restartPolicy === "Always" && (phase === "Pending" || phase === "Running")) {
    const waiting = containers
      .map((c) => ({ name: text(c, "name"), w: fields(fields(c.state).waiting) }))
      .filter((c) => waitingOnError(text(c.w, "reason")));
    if (waiting.length > 0)
      return health(
        "Degraded",
        waiting
          .map(
            (c) =>
              `${c.name}: ${text(c.w, "reason")}${text(c.w, "message") ? ` (${text(c.w, "message")})` : ""}`,
          )
          .join(", "),
      );
  }
  switch (phase) {
    case "Pending":
      return health("Progressing", message || "pending");
    case "Succeeded":
      return health("Healthy", message);
    case "Failed":
      return health("Degraded", message || containers.map(failMessage).find((m) => m !== "") || "pod failed");
    case "Running":
      if (restartPolicy !== "Always") return health("Progressing", message || "running to completion");
      if (isTrue(condition(status, "Ready"))) return health("Healthy", message);
      if (containers.some((c) => fields(c.lastState).terminated !== undefined))
        return health("Degraded", message || "a container restarted and the pod is not ready");
      return health("Progressing", message || "not ready");
    default:
      return health("Unknown", message);
  }
}
