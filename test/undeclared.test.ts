/**
 * Git is the whole truth: changes to fields Git does not declare, through the real kube-apiserver
 * with real kubectl. As the developer alice, additions by several kubectl verbs are denied by
 * gitgate's webhook, naming the field and Git's file and commit; `kubectl rollout restart` and a
 * note annotation are admitted; warn and audit modes admit and warn or record. As an exempt admin,
 * additions are admitted and self-heal removes them, leaving what the API server and the cluster's
 * controllers set (a Service's clusterIP, a Deployment's revision, a PVC's volumeName) alone.
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import type { KubeObject } from "../src/manifest/object.js";
import { startEnv, waitFor, waitSynced, type TestEnv } from "./harness/env.js";

let env: TestEnv;
let repoURL: string;
let commit: string;
const k = (args: string[], who = "user", stdin?: string): ReturnType<TestEnv["kubectl"]> =>
  env.kubectl(who, args, stdin);

const DEPLOYMENT = (name: string): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: web
          image: registry.example/web:1
          ports: [{ containerPort: 80 }]
`;

const FILES: Record<string, string> = {
  "shop/deployment.yaml": DEPLOYMENT("web"),
  "shop/service.yaml": `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 80 }]
`,
  "shop/config.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: web-config }
data: { TITLE: Shop }
`,
  "shop/claim.yaml": `apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  resources: { requests: { storage: 1Gi } }
`,
  "warned/deployment.yaml": DEPLOYMENT("warned"),
  "audited/deployment.yaml": DEPLOYMENT("audited"),
};

const SIDECAR = JSON.stringify([
  {
    op: "add",
    path: "/spec/template/spec/containers/-",
    value: { name: "sidecar", image: "registry.example/tool:1", securityContext: { privileged: true } },
  },
]);

const ADD_CONFIG_KEY = [
  "-n",
  "shop",
  "patch",
  "configmap",
  "web-config",
  "--type=merge",
  "-p",
  '{"data":{"EXTRA":"x"}}',
];

const DENIED = 'admission webhook "validate.gitgate.io" denied the request: ';

function gitAt(file: string): string {
  return `${repoURL} ${file}@${commit.slice(0, 7)}`;
}

async function deployment(ns: string, name: string): Promise<KubeObject & { spec: DeploymentSpec }> {
  const obj = await env.get("apps/v1", "Deployment", ns, name);
  assert.ok(obj, `Deployment ${ns}/${name}`);
  return obj as KubeObject & { spec: DeploymentSpec };
}

interface DeploymentSpec {
  progressDeadlineSeconds?: number;
  template: {
    metadata: { annotations?: Record<string, string> };
    spec: { containers: Array<{ name: string; env?: unknown[] }>; hostNetwork?: boolean; dnsPolicy?: string };
  };
}

describe("fields Git does not declare", () => {
  before(async () => {
    env = await startEnv({ webhook: true });
    commit = (await env.git.createRepo("deploy", FILES)).commit;
    repoURL = env.git.repoURL("deploy");
    const app = (name: string, mode: "enforce" | "warn" | "audit"): Promise<void> =>
      env.applyGitApp(name, {
        source: { repoURL, revision: "main", path: name },
        destination: { namespace: name },
        sync: { interval: "1h", createNamespace: true, selfHeal: mode === "enforce" },
        enforcement: { mode },
      });
    await app("shop", "enforce");
    await app("warned", "warn");
    await app("audited", "audit");
    await Promise.all(["shop", "warned", "audited"].map((n) => waitSynced(env, n, commit)));
  });
  after(async () => env?.stop());

  it("syncs with no drift: API-server defaults and controllers' fields are not additions", async () => {
    // The deployment controller has stamped its revision annotation by now (a write of its own).
    await waitFor("deployment revision", async () => {
      const d = await deployment("shop", "web");
      return d.metadata.annotations?.["deployment.kubernetes.io/revision"];
    });
    for (const name of ["shop", "warned", "audited"]) {
      const app = await env.getGitApp(name);
      assert.deepEqual(app?.status?.drift ?? [], [], `${name}: ${JSON.stringify(app?.status?.drift)}`);
    }
    assert.deepEqual(
      env.alerts.filter((a) => a.type === "drift-found" || a.type === "drift-reverted"),
      [],
    );
  });

  it("denies a privileged container added with kubectl patch, naming the field, file and commit", async () => {
    const r = await k(["-n", "shop", "patch", "deployment", "web", "--type=json", "-p", SIDECAR]);
    assert.notEqual(r.code, 0);
    assert.ok(
      r.stderr.includes(
        `${DENIED}Deployment shop/web is managed by Git: spec.template.spec.containers[name=sidecar] is not in Git at ${gitAt("shop/deployment.yaml")}, request sets {`,
      ),
      r.stderr,
    );
    assert.match(r.stderr, /Change it in Git, or use break-glass\./);
    assert.deepEqual(
      (await deployment("shop", "web")).spec.template.spec.containers.map((c) => c.name),
      ["web"],
    );
    const alert = await waitFor("denial alert", () =>
      env.alerts.find(
        (a) => a.type === "change-denied" && a.object?.name === "web" && a.object.namespace === "shop",
      ),
    );
    assert.deepEqual(
      alert.changes?.map((c) => [c.path, c.undeclared]),
      [["spec.template.spec.containers[name=sidecar]", true]],
    );
  });

  it("denies an env var added with kubectl set env and hostNetwork added with kubectl replace", async () => {
    const env1 = await k(["-n", "shop", "set", "env", "deployment/web", "DEBUG=1"]);
    assert.notEqual(env1.code, 0);
    assert.ok(
      env1.stderr.includes(
        `${DENIED}Deployment shop/web is managed by Git: spec.template.spec.containers[name=web].env is not in Git at ${gitAt("shop/deployment.yaml")}, request sets [{"name":"DEBUG","value":"1"}]`,
      ),
      env1.stderr,
    );

    const live = await deployment("shop", "web");
    live.spec.template.spec.hostNetwork = true;
    live.spec.template.spec.dnsPolicy = "ClusterFirstWithHostNet";
    const replaced = await k(["replace", "-f", "-"], "user", JSON.stringify(live));
    assert.notEqual(replaced.code, 0);
    assert.ok(replaced.stderr.includes(`${DENIED}Deployment shop/web is managed by Git: `), replaced.stderr);
    assert.match(
      replaced.stderr,
      /spec\.template\.spec\.hostNetwork is not in Git at \S+ shop\/deployment\.yaml@[0-9a-f]{7}, request sets true/,
    );
    assert.match(
      replaced.stderr,
      /spec\.template\.spec\.dnsPolicy is not in Git at .*request sets ClusterFirstWithHostNet/,
    );
    assert.equal((await deployment("shop", "web")).spec.template.spec.hostNetwork, undefined);
  });

  it("denies a new ConfigMap key and gitgate's own annotations; admits a note annotation", async () => {
    const key = await k(ADD_CONFIG_KEY);
    assert.notEqual(key.code, 0);
    assert.ok(
      key.stderr.includes(
        `${DENIED}ConfigMap shop/web-config is managed by Git: data.EXTRA is not in Git at ${gitAt("shop/config.yaml")}, request sets x`,
      ),
      key.stderr,
    );
    const steer = await k([
      "-n",
      "shop",
      "annotate",
      "deployment",
      "web",
      "gitgate.io/sync-options=Prune=false",
    ]);
    assert.notEqual(steer.code, 0);
    assert.ok(
      steer.stderr.includes(
        `${DENIED}Deployment shop/web is managed by Git: metadata.annotations[gitgate.io/sync-options] is not in Git`,
      ),
      steer.stderr,
    );

    const note = await k(["-n", "shop", "annotate", "deployment", "web", "example.com/owner=alice"]);
    assert.equal(note.code, 0, note.stderr);
  });

  it("admits kubectl rollout restart, and self-heal keeps its annotation", async () => {
    const r = await k(["-n", "shop", "rollout", "restart", "deployment/web"]);
    assert.equal(r.code, 0, r.stderr);
    const restartedAt = (await deployment("shop", "web")).spec.template.metadata.annotations?.[
      "kubectl.kubernetes.io/restartedAt"
    ];
    assert.ok(restartedAt);
    // A sync after the restart (a new commit forces one) leaves it and the note in place.
    commit = await env.git.commit(
      "deploy",
      { "shop/config.yaml": (FILES["shop/config.yaml"] ?? "").replace("Shop", "Shop 2") },
      "title",
    );
    await env.applyGitApp("shop", {
      source: { repoURL, revision: commit, path: "shop" },
      destination: { namespace: "shop" },
      sync: { interval: "1h", createNamespace: true, selfHeal: true },
      enforcement: { mode: "enforce" },
    });
    await waitSynced(env, "shop", commit);
    const d = await deployment("shop", "web");
    assert.equal(d.spec.template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"], restartedAt);
    assert.equal(d.metadata.annotations?.["example.com/owner"], "alice");
  });

  it("warn mode admits an addition with a warning naming it; audit admits it and records an alert", async () => {
    const warned = await k(["-n", "warned", "patch", "deployment", "warned", "--type=json", "-p", SIDECAR]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(
      warned.stderr,
      /Warning: Deployment warned\/warned is managed by Git: spec\.template\.spec\.containers\[name=sidecar\] is not in Git at \S+ warned\/deployment\.yaml@[0-9a-f]{7}/,
    );
    await waitFor("warned alert", () =>
      env.alerts.find(
        (a) =>
          a.type === "change-warned" && a.object?.name === "warned" && a.changes?.some((c) => c.undeclared),
      ),
    );

    const audited = await k([
      "-n",
      "audited",
      "patch",
      "deployment",
      "audited",
      "--type=json",
      "-p",
      SIDECAR,
    ]);
    assert.equal(audited.code, 0, audited.stderr);
    assert.doesNotMatch(audited.stderr, /Warning:/);
    const alert = await waitFor("audited alert", () =>
      env.alerts.find((a) => a.type === "change-audited" && a.object?.name === "audited"),
    );
    assert.deepEqual(
      alert.changes?.map((c) => [c.path, c.undeclared, c.gitValue]),
      [["spec.template.spec.containers[name=sidecar]", true, undefined]],
    );
    // selfHeal is off there: the addition stays and the GitApp reports it, naming the field manager.
    const app = await waitFor("audited drift reported", async () => {
      const a = await env.getGitApp("audited");
      return a?.status?.drift?.length ? a : undefined;
    });
    assert.deepEqual(app.status?.drift?.[0]?.undeclared, [
      { field: "spec.template.spec.containers[name=sidecar]", manager: "kubectl-patch" },
    ]);
  });

  it("removes an exempt admin's additions by self-heal, leaving defaults and controllers' fields", async () => {
    // A volume the PV controller binds the claim to: spec.volumeName becomes kube-controller-manager's.
    const pv = `apiVersion: v1
kind: PersistentVolume
metadata: { name: shop-data }
spec:
  capacity: { storage: 1Gi }
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  hostPath: { path: /tmp/shop-data }
`;
    assert.equal((await k(["apply", "-f", "-"], "admin", pv)).code, 0);
    await waitFor("claim bound", async () => {
      const claim = await env.get("v1", "PersistentVolumeClaim", "shop", "data");
      return (claim?.spec as { volumeName?: string } | undefined)?.volumeName === "shop-data";
    });
    const before = {
      service: await env.get("v1", "Service", "shop", "web"),
      deployment: await deployment("shop", "web"),
    };
    const clusterIP = (before.service?.spec as { clusterIP?: string }).clusterIP;
    assert.ok(clusterIP);
    const revision = before.deployment.metadata.annotations?.["deployment.kubernetes.io/revision"];
    assert.ok(revision);

    const alertsBefore = env.alerts.length;
    // carol is in an exempt group: admitted, with three managers of her own.
    for (const args of [
      ["-n", "shop", "patch", "deployment", "web", "--type=json", "-p", SIDECAR],
      [
        "-n",
        "shop",
        "patch",
        "service",
        "web",
        "--type=merge",
        "-p",
        '{"spec":{"sessionAffinity":"ClientIP"}}',
      ],
      ["-n", "shop", "annotate", "persistentvolumeclaim", "data", "gitgate.io/prune=false"],
      [...ADD_CONFIG_KEY, "--field-manager=ops-script"],
    ]) {
      const r = await k(args, "platform");
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    }

    await waitFor(
      "sidecar removed",
      async () => (await deployment("shop", "web")).spec.template.spec.containers.length === 1,
    );
    await waitFor("sessionAffinity back to the default", async () => {
      const s = await env.get("v1", "Service", "shop", "web");
      return (s?.spec as { sessionAffinity?: string }).sessionAffinity === "None";
    });
    await waitFor("config key removed", async () => {
      const cm = await env.get("v1", "ConfigMap", "shop", "web-config");
      return (cm?.data as Record<string, string>).EXTRA === undefined;
    });
    await waitFor("claim annotation removed", async () => {
      const claim = await env.get("v1", "PersistentVolumeClaim", "shop", "data");
      return claim?.metadata.annotations?.["gitgate.io/prune"] === undefined;
    });

    const service = await env.get("v1", "Service", "shop", "web");
    assert.equal((service?.spec as { clusterIP?: string }).clusterIP, clusterIP);
    const after = await deployment("shop", "web");
    assert.equal(after.metadata.annotations?.["deployment.kubernetes.io/revision"] !== undefined, true);
    assert.equal(after.spec.progressDeadlineSeconds, 600);
    const claim = await env.get("v1", "PersistentVolumeClaim", "shop", "data");
    assert.equal((claim?.spec as { volumeName?: string }).volumeName, "shop-data");
    assert.equal((claim?.status as { phase?: string }).phase, "Bound");

    const wanted = [
      ["Deployment", "spec.template.spec.containers[name=sidecar]", "kubectl-patch"],
      ["Service", "spec.sessionAffinity", "kubectl-patch"],
      ["PersistentVolumeClaim", "metadata.annotations[gitgate.io/prune]", "kubectl-annotate"],
      ["ConfigMap", "data.EXTRA", "ops-script"],
    ].map((w) => JSON.stringify(w));
    const added = (): string[] =>
      env.alerts
        .slice(alertsBefore)
        .filter((a) => a.type === "drift-reverted")
        .flatMap((a) => (a.changes ?? []).map((c) => JSON.stringify([a.object?.kind, c.path, c.manager])));
    // Each alert is published after its app's status: wait (bounded) for all four.
    await waitFor("the four drift-reverted alerts", () => wanted.every((w) => added().includes(w))).catch(
      () => undefined,
    );
    for (const want of wanted) assert.ok(added().includes(want), `${want} in ${JSON.stringify(added())}`);
  });
});
