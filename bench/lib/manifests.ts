/**
 * Manifests for the benchmarks, written the way people write them: multi-document YAML files with
 * comments, fields left for the API server to default (strategy, probes' periods, pull policy…).
 * `protocol: TCP` is spelled out on container ports because kube-apiserver 1.20 rejects a
 * server-side apply that omits it (it is a key of that associative list), and the kubectl baseline
 * applies these same files.
 */
import { createHash } from "node:crypto";
import type { KubeObject, ManagedFieldsEntry } from "../../src/manifest/object.js";

const TEAMS = ["payments", "search", "checkout", "catalog", "identity", "shipping"];

function pad(i: number): string {
  return String(i).padStart(4, "0");
}

function configMapYaml(i: number): string {
  const team = TEAMS[i % TEAMS.length] ?? "platform";
  const svc = `svc-${pad(i % 200)}`;
  return `# Runtime settings for ${svc} (${team}); consumed via envFrom and a mounted file.
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${svc}-config-${pad(i)}
  labels:
    app.kubernetes.io/name: ${svc}
    app.kubernetes.io/part-of: shop
    app.kubernetes.io/component: config
    team: ${team}
  annotations:
    owner: "${team}@example.com"
data:
  LOG_LEVEL: info
  LOG_FORMAT: json
  MAX_CONNECTIONS: "${100 + (i % 50)}"
  REQUEST_TIMEOUT: 5s
  FEATURE_FLAGS: "checkout-v2,search-suggest,cart-merge"
  UPSTREAM_URL: "http://${team}-gateway.${team}.svc.cluster.local:8080"
  application.yaml: |
    server:
      port: 8080
      shutdownGracePeriod: 20s
    cache:
      ttl: ${60 + (i % 240)}s
      size: ${1000 + i}
    database:
      host: postgres-${team}.db.svc.cluster.local
      pool:
        min: 2
        max: ${10 + (i % 10)}
`;
}

function deploymentYaml(i: number): string {
  const team = TEAMS[i % TEAMS.length] ?? "platform";
  const svc = `svc-${pad(i)}`;
  return `# ${svc}: ${team} service with an Envoy sidecar.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${svc}
  labels:
    app.kubernetes.io/name: ${svc}
    app.kubernetes.io/part-of: shop
    team: ${team}
spec:
  replicas: ${1 + (i % 3)}
  selector:
    matchLabels:
      app.kubernetes.io/name: ${svc}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${svc}
        app.kubernetes.io/part-of: shop
        team: ${team}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "9090"
    spec:
      containers:
        - name: app
          image: registry.example.com/shop/${svc}:1.${i % 20}.${i % 7}
          args: ["--config=/etc/app/application.yaml"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            - name: metrics
              containerPort: 9090
              protocol: TCP
          env:
            - name: SERVICE_NAME
              value: ${svc}
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
          envFrom:
            - configMapRef:
                name: svc-${pad(i)}-config-${pad(i)}
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 256Mi
          readinessProbe:
            httpGet:
              path: /ready
              port: http
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 10
        - name: envoy
          image: envoyproxy/envoy:v1.30.1
          ports:
            - name: proxy
              containerPort: 15001
              protocol: TCP
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
`;
}

/** 800 ConfigMaps in four files and 200 Deployments in two: 1,000 objects, no namespace named. */
export function syncManifestFiles(configMaps = 800, deployments = 200): Record<string, string> {
  const files: Record<string, string> = {};
  const cmFiles = 4;
  const deployFiles = 2;
  for (let f = 0; f < cmFiles; f++) {
    const docs: string[] = [];
    for (let i = f; i < configMaps; i += cmFiles) docs.push(configMapYaml(i));
    files[`shop/config-${f}.yaml`] = docs.join("---\n");
  }
  for (let f = 0; f < deployFiles; f++) {
    const docs: string[] = [];
    for (let i = f; i < deployments; i += deployFiles) docs.push(deploymentYaml(i));
    files[`shop/deployments-${f}.yaml`] = docs.join("---\n");
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Admission: Deployments as gitgate indexes them (desired) and as kube-apiserver sends them (live).

export const ADMISSION_APP = { namespace: "gitgate-system", name: "shop" };
export const ADMISSION_REPO = "https://git.example.com/shop/deploy.git";
export const ADMISSION_COMMIT = createHash("sha1").update("bench").digest("hex");

function container(name: string, image: string, port: number, full: boolean): Record<string, unknown> {
  return {
    name,
    image,
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    env: [
      { name: "SERVICE_NAME", value: name },
      ...(full ? [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }] : []),
    ],
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    readinessProbe: { httpGet: { path: "/ready", port: port } },
    ...(full
      ? { livenessProbe: { httpGet: { path: "/healthz", port: port }, initialDelaySeconds: 10 } }
      : {}),
  };
}

/**
 * Review sizes: `standard` (one container with env, a port, resources and a probe; the UPDATE
 * AdmissionReview with object, oldObject, managedFields and status is about 5.5 KB) and `large` (an
 * app container and an Envoy sidecar, each with env, port, resources and two probes: about 10 KB).
 */
export type ReviewSize = "standard" | "large";

/** The object as Git declares it, stamped the way gitgate applies it. */
export function desiredDeployment(i: number, size: ReviewSize = "standard"): KubeObject {
  const name = `web-${pad(i)}`;
  const labels = {
    "app.kubernetes.io/name": name,
    "app.kubernetes.io/part-of": "shop",
    team: TEAMS[i % TEAMS.length] ?? "x",
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: "shop",
      labels: { ...labels, "gitgate.io/app": `${ADMISSION_APP.namespace}.${ADMISSION_APP.name}` },
      annotations: {
        "gitgate.io/repo": ADMISSION_REPO,
        "gitgate.io/file": "shop/deployments.yaml",
        "gitgate.io/commit": ADMISSION_COMMIT,
      },
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { "app.kubernetes.io/name": name } },
      template: {
        metadata: { labels, annotations: { "prometheus.io/scrape": "true" } },
        spec: {
          containers:
            size === "large"
              ? [
                  container("app", `registry.example.com/shop/${name}:1.4.${i % 9}`, 8080, true),
                  container("envoy", "envoyproxy/envoy:v1.30.1", 15001, true),
                ]
              : [container("app", `registry.example.com/shop/${name}:1.4.${i % 9}`, 8080, false)],
        },
      },
    },
  };
}

type Json = Record<string, unknown>;

/** fieldsV1 for an applier's field set, the way the API server records it. */
function fieldsV1(value: unknown, field = ""): Json {
  if (Array.isArray(value)) {
    const out: Json = {};
    for (const item of value) {
      const it = item as Json;
      // Associative-list keys as the API server records them: ports by containerPort+protocol, others by name.
      const key =
        field === "ports"
          ? { containerPort: it.containerPort, protocol: it.protocol }
          : it.name !== undefined
            ? { name: it.name }
            : it;
      out[`k:${JSON.stringify(key)}`] = { ".": {}, ...fieldsV1(item) };
    }
    return out;
  }
  if (typeof value === "object" && value !== null) {
    const out: Json = {};
    for (const [k, v] of Object.entries(value))
      out[`f:${k}`] = typeof v === "object" && v !== null ? fieldsV1(v, k) : {};
    return out;
  }
  return {};
}

/** The same object as kube-apiserver holds it: defaults, bookkeeping metadata, managedFields, status. */
export function liveDeployment(desired: KubeObject, i: number): KubeObject {
  const live = structuredClone(desired) as KubeObject & { spec: Json };
  const { metadata: _m, apiVersion: _a, kind: _k, ...declared } = desired;
  const gitgateFields: ManagedFieldsEntry = {
    manager: "gitgate",
    operation: "Apply",
    apiVersion: "apps/v1",
    time: "2025-05-01T12:00:00Z",
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:metadata": {
        "f:labels": fieldsV1(desired.metadata.labels),
        "f:annotations": fieldsV1(desired.metadata.annotations),
      },
      ...fieldsV1({ spec: declared.spec }),
    },
  };
  live.metadata = {
    ...live.metadata,
    uid: `6f1c2d3e-0000-4000-8000-${pad(i)}00000000`,
    resourceVersion: String(100_000 + i),
    generation: 4,
    creationTimestamp: "2025-05-01T12:00:00Z",
    annotations: { ...live.metadata.annotations, "deployment.kubernetes.io/revision": "4" },
    managedFields: [gitgateFields],
  };
  const spec = live.spec;
  spec.revisionHistoryLimit = 10;
  spec.progressDeadlineSeconds = 600;
  spec.strategy = { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } };
  const podSpec = (spec.template as Json).spec as Json;
  Object.assign(podSpec, {
    restartPolicy: "Always",
    terminationGracePeriodSeconds: 30,
    dnsPolicy: "ClusterFirst",
    securityContext: {},
    schedulerName: "default-scheduler",
  });
  for (const c of podSpec.containers as Json[]) {
    Object.assign(c, {
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
      imagePullPolicy: "IfNotPresent",
    });
    for (const probe of [c.readinessProbe, c.livenessProbe].filter(Boolean) as Json[]) {
      Object.assign(probe, {
        timeoutSeconds: 1,
        periodSeconds: 10,
        successThreshold: 1,
        failureThreshold: 3,
      });
      (probe.httpGet as Json).scheme = "HTTP";
    }
  }
  live.status = {
    observedGeneration: 4,
    replicas: 3,
    updatedReplicas: 3,
    readyReplicas: 3,
    availableReplicas: 3,
  };
  return live;
}

export type ReviewShape = "matches-git" | "label-added" | "replicas-changed" | "image-changed";

/**
 * An UPDATE AdmissionReview from a human (not exempt) for Deployment `i`. Most shapes are allowed
 * after a full comparison with Git; replicas/image changes are violations (denied in enforce mode).
 */
export function deploymentReview(
  i: number,
  shape: ReviewShape,
  uid: string,
  size: ReviewSize = "standard",
): Json {
  const old = liveDeployment(desiredDeployment(i, size), i);
  const object = structuredClone(old) as KubeObject & { spec: Json };
  object.metadata.resourceVersion = String(Number(old.metadata.resourceVersion) + 1);
  if (shape === "label-added") object.metadata.labels = { ...object.metadata.labels, "cost-center": "cc-42" };
  if (shape === "replicas-changed") object.spec.replicas = 5;
  if (shape === "image-changed") {
    const containers = ((object.spec.template as Json).spec as Json).containers as Json[];
    if (containers[0]) containers[0].image = "registry.example.com/shop/hotfix:latest";
  }
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "apps", version: "v1", kind: "Deployment" },
      resource: { group: "apps", version: "v1", resource: "deployments" },
      requestKind: { group: "apps", version: "v1", kind: "Deployment" },
      requestResource: { group: "apps", version: "v1", resource: "deployments" },
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      operation: "UPDATE",
      userInfo: { username: "alice", uid: "1001", groups: ["developers", "system:authenticated"] },
      object,
      oldObject: old,
      dryRun: false,
      options: { kind: "UpdateOptions", apiVersion: "meta.k8s.io/v1", fieldManager: "kubectl-edit" },
    },
  };
}

/** The admission workload: one review per Deployment, 10 % violations, the rest allowed after a full comparison. */
export function reviewWorkload(
  size: ReviewSize,
  deployments = 200,
): Array<{ shape: ReviewShape; body: string }> {
  return Array.from({ length: deployments }, (_, i) => {
    const shape: ReviewShape =
      i % 20 === 0
        ? "replicas-changed"
        : i % 20 === 10
          ? "image-changed"
          : i % 4 === 1
            ? "label-added"
            : "matches-git";
    const uid = `6a0e${pad(i)}-1b2c-4d3e-8f40-${String(i).padStart(12, "0")}`;
    return { shape, body: JSON.stringify(deploymentReview(i, shape, uid, size)) };
  });
}

/** One ConfigMap and one Deployment as files, for the through-kube-apiserver latency test. */
export function smallAppFiles(): Record<string, string> {
  return { "app/config.yaml": configMapYaml(0), "app/deployment.yaml": deploymentYaml(0) };
}
