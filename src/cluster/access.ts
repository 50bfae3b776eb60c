/**
 * May a user (a tenant's ServiceAccount) write these objects? Asked of kube-apiserver with one
 * SubjectAccessReview per distinct resource and namespace, before a tenant's objects enter the
 * admission index: an object its identity may not write must not be applied, and must not be
 * claimed either (the gate would judge another team's object by this tenant's Git).
 */
import { groupOf, isPlainObject } from "../manifest/object.js";
import { apiErrorFrom } from "./api-error.js";
import type { ClusterClient } from "./client.js";

export interface WriteTarget {
  apiVersion: string;
  kind: string;
  /** "" for cluster-scoped objects. */
  namespace: string;
  /** How a refusal names it (file and object). */
  label: string;
}

export interface Refusal {
  target: WriteTarget;
  resource: string;
  /** The authorizer's reason, when it gave one. */
  reason: string;
}

const SA_PREFIX = "system:serviceaccount:";

/** The groups kube-apiserver gives a ServiceAccount, which RBAC bindings may name. */
export function serviceAccountGroups(username: string): string[] {
  if (!username.startsWith(SA_PREFIX)) return ["system:authenticated"];
  const namespace = username.slice(SA_PREFIX.length).split(":")[0] ?? "";
  return ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"];
}

/**
 * The targets `username` may not `patch` (server-side apply) — one review per distinct resource
 * and namespace, in the order first seen.
 */
export async function refusedWrites(
  client: ClusterClient,
  username: string,
  targets: readonly WriteTarget[],
): Promise<Refusal[]> {
  const seen = new Set<string>();
  const refused: Refusal[] = [];
  for (const target of targets) {
    const { name: resource } = await client.discovery.resource(target.apiVersion, target.kind);
    const id = `${groupOf(target.apiVersion)}/${resource}/${target.namespace}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const answer = await review(client, username, groupOf(target.apiVersion), resource, target.namespace);
    if (!answer.allowed) refused.push({ target, resource, reason: answer.reason });
  }
  return refused;
}

async function review(
  client: ClusterClient,
  user: string,
  group: string,
  resource: string,
  namespace: string,
): Promise<{ allowed: boolean; reason: string }> {
  const res = await client.raw({
    method: "POST",
    path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user,
        groups: serviceAccountGroups(user),
        resourceAttributes: { group, resource, verb: "patch", ...(namespace ? { namespace } : {}) },
      },
    },
  });
  if (res.status !== 201 && res.status !== 200) throw apiErrorFrom(`SubjectAccessReview for ${user}`, res);
  const status = isPlainObject(res.body) && isPlainObject(res.body.status) ? res.body.status : {};
  return {
    allowed: status.allowed === true && status.denied !== true,
    reason: typeof status.reason === "string" ? status.reason : "",
  };
}
