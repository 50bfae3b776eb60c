/**
 * Tenancy through the real kube-apiserver: a GitApp outside gitgate's namespace writes as a
 * ServiceAccount of its own namespace, so RBAC (not gitgate's cluster-wide identity) decides what it
 * may create. Escape attempts — a RoleBinding in kube-system, a Deployment in gitgate's namespace
 * running as gitgate's ServiceAccount, a cluster-scoped object, a Namespace labelled out of the gate
 * — create nothing, and the GitApp's Synced condition says why.
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import { condition, startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;
let repoURL: string;
let commit: string;

const CONFIG_MAP = `apiVersion: v1
kind: ConfigMap
metadata: { name: hello }
data: { greeting: hi }
`;

const FILES: Record<string, string> = {
  "ok/config.yaml": CONFIG_MAP,
  "ok2/config.yaml": CONFIG_MAP.replace("hello", "hello2"),
  "rbac/binding.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: team-a-takes-over, namespace: kube-system }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects: [{ kind: ServiceAccount, name: deployer, namespace: team-a }]
`,
  "gitgate-ns/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: borrowed-identity, namespace: gitgate-system }
spec:
  selector: { matchLabels: { app: x } }
  template:
    metadata: { labels: { app: x } }
    spec:
      serviceAccountName: gitgate
      containers: [{ name: x, image: registry.example/x:1 }]
`,
  "cluster/role.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: team-a-cluster-role }
rules: [{ apiGroups: [""], resources: [secrets], verbs: [get, list] }]
`,
  "label/namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: team-b
  labels: { gitgate.io/webhook: ignore }
`,
};

function tenantApp(name: string, path: string, serviceAccountName?: string): Promise<void> {
  return env.applyGitApp(
    name,
    {
      source: { repoURL, revision: "main", path },
      ...(serviceAccountName ? { serviceAccountName } : {}),
      sync: { interval: "1h" },
    },
    "team-a",
  );
}

/** Waits for the tenant GitApp's Synced=False, checks its reason and returns its message. */
async function refusal(name: string, reason: string): Promise<string> {
  const synced = await waitFor(`GitApp team-a/${name} refused`, async () => {
    const c = condition(await env.getGitApp(name, "team-a"), "Synced");
    return c?.status === "False" ? c : undefined;
  });
  assert.equal(synced.reason, reason, synced.message);
  return synced.message;
}

describe("tenancy", () => {
  before(async () => {
    env = await startEnv({ webhook: true });
    commit = (await env.git.createRepo("tenant", FILES)).commit;
    repoURL = env.git.repoURL("tenant");
    // The platform's part: a namespace, and a ServiceAccount that may edit only there.
    const setup = `apiVersion: v1
kind: Namespace
metadata: { name: team-a }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: deployer, namespace: team-a }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: deployer-edit, namespace: team-a }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit }
subjects: [{ kind: ServiceAccount, name: deployer, namespace: team-a }]
`;
    const r = await env.kubectl("admin", ["apply", "-f", "-"], setup);
    assert.equal(r.code, 0, r.stderr);
    // `edit` is an aggregated ClusterRole: its rules arrive when kube-controller-manager's
    // clusterrole-aggregation controller has run, which on a fresh, busy control plane can be after
    // the first sync (whose refusal would then stand until the 1h interval). Wait for it.
    await waitFor("the deployer may patch ConfigMaps in team-a", async () => {
      const can = await env.kubectl("admin", [
        "auth",
        "can-i",
        "patch",
        "configmaps",
        "-n",
        "team-a",
        "--as=system:serviceaccount:team-a:deployer",
      ]);
      return can.stdout.trim() === "yes";
    });
  });
  after(async () => env?.stop());

  it("a tenant's GitApp syncs what its ServiceAccount may write, as that ServiceAccount", async () => {
    await tenantApp("ok", "ok", "deployer");
    await waitSynced(env, "ok", commit, "team-a");
    const cm = await env.get("v1", "ConfigMap", "team-a", "hello");
    assert.equal((cm?.data as Record<string, string>).greeting, "hi");
    assert.equal(cm?.metadata.labels?.["gitgate.io/app"], "team-a.ok");
  });

  it("a RoleBinding in kube-system is refused by RBAC and not created", async () => {
    await tenantApp("rbac", "rbac", "deployer");
    const message = await refusal("rbac", "Forbidden");
    assert.match(
      message,
      /^render failed: rbac\/binding\.yaml: RoleBinding kube-system\/team-a-takes-over: system:serviceaccount:team-a:deployer may not patch rolebindings in namespace kube-system\. A tenant's GitApp writes as its ServiceAccount; nothing was applied/,
    );
    assert.equal(
      await env.get("rbac.authorization.k8s.io/v1", "RoleBinding", "kube-system", "team-a-takes-over"),
      undefined,
    );
  });

  it("a Deployment in gitgate's namespace, as gitgate's ServiceAccount, is refused", async () => {
    await tenantApp("gitgate-ns", "gitgate-ns", "deployer");
    const message = await refusal("gitgate-ns", "Forbidden");
    assert.match(
      message,
      /^render failed: gitgate-ns\/deployment\.yaml: Deployment gitgate-system\/borrowed-identity: system:serviceaccount:team-a:deployer may not patch deployments in namespace gitgate-system\./,
    );
    assert.equal(await env.get("apps/v1", "Deployment", "gitgate-system", "borrowed-identity"), undefined);
  });

  it("a cluster-scoped object is refused unless the ServiceAccount may create it", async () => {
    await tenantApp("cluster", "cluster", "deployer");
    const message = await refusal("cluster", "Forbidden");
    assert.match(
      message,
      /^render failed: cluster\/role\.yaml: ClusterRole team-a-cluster-role: system:serviceaccount:team-a:deployer may not patch clusterroles \(cluster-scoped\)\./,
    );
    assert.equal(
      await env.get("rbac.authorization.k8s.io/v1", "ClusterRole", undefined, "team-a-cluster-role"),
      undefined,
    );
  });

  it("gitgate's own labels in a tenant's manifests are refused before anything is applied", async () => {
    await tenantApp("label", "label", "deployer");
    const message = await refusal("label", "ReservedKey");
    assert.match(
      message,
      /label\/namespace\.yaml(:\d+)?: Namespace team-b sets the label gitgate\.io\/webhook; a tenant's GitApp may not set gitgate's own labels or annotations/,
    );
    assert.equal(await env.get("v1", "Namespace", undefined, "team-b"), undefined);
  });

  it("without serviceAccountName the namespace's default ServiceAccount is used, and it may write nothing", async () => {
    await tenantApp("default-sa", "ok2");
    const message = await refusal("default-sa", "Forbidden");
    assert.match(
      message,
      /^render failed: ok2\/config\.yaml: ConfigMap team-a\/hello2: system:serviceaccount:team-a:default may not patch configmaps in namespace team-a\./,
    );
  });

  it("the platform's GitApps still write as gitgate, and a tenant's refused objects claim nothing", async () => {
    // The tenant GitApp "cluster" declared this ClusterRole; refused, it holds no claim to it.
    await env.applyGitApp("platform-rbac", {
      source: { repoURL, revision: "main", path: "cluster" },
      sync: { interval: "1h" },
    });
    await waitSynced(env, "platform-rbac", commit);
    assert.ok(await env.get("rbac.authorization.k8s.io/v1", "ClusterRole", undefined, "team-a-cluster-role"));
  });
});
