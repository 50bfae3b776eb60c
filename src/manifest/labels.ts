/** The label and annotations gitgate stamps on every object it applies. */
import type { KubeObject } from "./object.js";

export const GROUP = "gitgate.io";
export const APP_LABEL = "gitgate.io/app";
export const REPO_ANNOTATION = "gitgate.io/repo";
export const FILE_ANNOTATION = "gitgate.io/file";
export const COMMIT_ANNOTATION = "gitgate.io/commit";
/**
 * A digest of the object as Git declares it, without the commit stamp: an object whose live copy
 * carries it is current even when a later commit (elsewhere in the repository) moved the stamp.
 */
export const CONTENT_ANNOTATION = "gitgate.io/content";
/** Set by the mutating webhook on admitted out-of-band changes: JSON {user, groups, fields, time}. */
export const LAST_CHANGE_ANNOTATION = "gitgate.io/last-out-of-band-change";
/** Break-glass: reason (required) and expiry (RFC 3339, optional; capped by policy). */
export const BREAK_GLASS_REASON_ANNOTATION = "gitgate.io/break-glass-reason";
export const BREAK_GLASS_EXPIRES_ANNOTATION = "gitgate.io/break-glass-expires";
export const FIELD_MANAGER = "gitgate";
/** `ignore` on a namespace takes it out of the webhooks' namespaceSelector (kube-system, gitgate's own). */
export const WEBHOOK_NAMESPACE_LABEL = "gitgate.io/webhook";
/** Set and guarded by kube-apiserver from 1.21 on; on 1.20 anyone may set it, so gitgate guards it. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
export const WEBHOOK_NAMESPACE_IGNORE = "ignore";

export const MANAGED_ANNOTATIONS = [
  REPO_ANNOTATION,
  FILE_ANNOTATION,
  COMMIT_ANNOTATION,
  CONTENT_ANNOTATION,
] as const;

/** Label value for an app: `<namespace>.<name>` (both are DNS labels, so the dot is unambiguous). */
export function appLabelValue(app: { namespace: string; name: string }): string {
  return `${app.namespace}.${app.name}`;
}

export function isManaged(obj: KubeObject | undefined): boolean {
  return obj?.metadata.labels?.[APP_LABEL] !== undefined;
}
