import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { KubeObject } from "../manifest/object.js";
import { aggregateHealth, healthOf, summarizeHealth } from "./health.js";
import type { HealthStatus } from "./types.js";

const obj = (
  apiVersion: string,
  kind: string,
  spec: unknown,
  status: unknown,
  generation = 1,
): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name: "x", namespace: "ns", generation },
  spec,
  status,
});
const cond = (type: string, status: string, reason = "", message = ""): Record<string, string> => ({
  type,
  status,
  reason,
  message,
});
const deploy = (spec: unknown, status: unknown, generation = 1): KubeObject =>
  obj("apps/v1", "Deployment", spec, status, generation);
const pod = (spec: unknown, status: unknown): KubeObject => obj("v1", "Pod", spec, status);
const waiting = (reason: string, message = ""): unknown => ({
  name: "app",
  state: { waiting: { reason, message } },
});

type Case = [name: string, object: KubeObject, status: HealthStatus, message?: string];

const cases: Case[] = [
  // Deployment
  ["deployment, no status yet", deploy({ replicas: 2 }, {}), "Progressing"],
  [
    "deployment, generation not observed",
    deploy({ replicas: 1 }, { observedGeneration: 1 }, 2),
    "Progressing",
  ],
  [
    "deployment, all available",
    deploy({ replicas: 2 }, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
    "Healthy",
  ],
  [
    "deployment, new replicas not all updated",
    deploy({ replicas: 3 }, { observedGeneration: 1, replicas: 3, updatedReplicas: 1, availableReplicas: 3 }),
    "Progressing",
    "1 of 3 new replicas updated",
  ],
  [
    "deployment, old replicas pending termination (rollout still running)",
    deploy({ replicas: 2 }, { observedGeneration: 1, replicas: 3, updatedReplicas: 2, availableReplicas: 3 }),
    "Progressing",
    "1 old replicas pending termination",
  ],
  [
    "deployment, updated but not available",
    deploy({ replicas: 2 }, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }),
    "Progressing",
    "1 of 2 updated replicas available",
  ],
  [
    "deployment, progress deadline exceeded",
    deploy(
      { replicas: 1 },
      {
        observedGeneration: 1,
        replicas: 1,
        updatedReplicas: 1,
        conditions: [
          cond(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            'ReplicaSet "x-1" has timed out progressing.',
          ),
        ],
      },
    ),
    "Degraded",
    'ReplicaSet "x-1" has timed out progressing.',
  ],
  ["deployment, paused", deploy({ replicas: 1, paused: true }, {}), "Suspended", "Deployment is paused"],
  ["deployment scaled to zero", deploy({ replicas: 0 }, { observedGeneration: 1 }), "Healthy"],
  // StatefulSet
  ["statefulset, never observed", obj("apps/v1", "StatefulSet", { replicas: 1 }, {}), "Progressing"],
  [
    "statefulset, pods not ready",
    obj("apps/v1", "StatefulSet", { replicas: 3 }, { observedGeneration: 1, readyReplicas: 1 }),
    "Progressing",
    "1 of 3 pods ready",
  ],
  [
    "statefulset, update revision differs from current",
    obj(
      "apps/v1",
      "StatefulSet",
      { replicas: 2 },
      { observedGeneration: 1, readyReplicas: 2, currentRevision: "x-1", updateRevision: "x-2" },
    ),
    "Progressing",
    "rolling update to revision x-2 in progress",
  ],
  [
    "statefulset, rolled out",
    obj(
      "apps/v1",
      "StatefulSet",
      { replicas: 2 },
      { observedGeneration: 1, readyReplicas: 2, currentRevision: "x-2", updateRevision: "x-2" },
    ),
    "Healthy",
  ],
  [
    "statefulset, partitioned rollout done",
    obj(
      "apps/v1",
      "StatefulSet",
      { replicas: 4, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 2 } } },
      {
        observedGeneration: 1,
        readyReplicas: 4,
        updatedReplicas: 2,
        currentRevision: "a",
        updateRevision: "b",
      },
    ),
    "Healthy",
  ],
  [
    "statefulset, partitioned rollout running",
    obj(
      "apps/v1",
      "StatefulSet",
      { replicas: 4, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 2 } } },
      { observedGeneration: 1, readyReplicas: 4, updatedReplicas: 1 },
    ),
    "Progressing",
  ],
  [
    "statefulset, OnDelete",
    obj(
      "apps/v1",
      "StatefulSet",
      { replicas: 1, updateStrategy: { type: "OnDelete" } },
      { observedGeneration: 1, readyReplicas: 1, currentRevision: "a", updateRevision: "b" },
    ),
    "Healthy",
  ],
  // DaemonSet
  [
    "daemonset, rolling",
    obj(
      "apps/v1",
      "DaemonSet",
      {},
      { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 2 },
    ),
    "Progressing",
    "2 of 3 new pods updated",
  ],
  [
    "daemonset, updated not available",
    obj(
      "apps/v1",
      "DaemonSet",
      {},
      { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 },
    ),
    "Progressing",
  ],
  [
    "daemonset, rolled out",
    obj(
      "apps/v1",
      "DaemonSet",
      {},
      { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 },
    ),
    "Healthy",
  ],
  [
    "daemonset, generation not observed",
    obj("apps/v1", "DaemonSet", {}, { observedGeneration: 1 }, 2),
    "Progressing",
  ],
  // ReplicaSet
  [
    "replicaset, replica failure",
    obj(
      "apps/v1",
      "ReplicaSet",
      { replicas: 1 },
      {
        observedGeneration: 1,
        conditions: [cond("ReplicaFailure", "True", "FailedCreate", "quota exceeded")],
      },
    ),
    "Degraded",
    "quota exceeded",
  ],
  [
    "replicaset, available",
    obj("apps/v1", "ReplicaSet", { replicas: 1 }, { observedGeneration: 1, availableReplicas: 1 }),
    "Healthy",
  ],
  // Pod
  [
    "pod, CrashLoopBackOff",
    pod({}, { phase: "Running", containerStatuses: [waiting("CrashLoopBackOff", "back-off 10s")] }),
    "Degraded",
    "app: CrashLoopBackOff (back-off 10s)",
  ],
  [
    "pod, ImagePullBackOff",
    pod({}, { phase: "Pending", containerStatuses: [waiting("ImagePullBackOff")] }),
    "Degraded",
    "app: ImagePullBackOff",
  ],
  [
    "pod, ErrImagePull",
    pod({}, { phase: "Pending", containerStatuses: [waiting("ErrImagePull")] }),
    "Degraded",
  ],
  [
    "pod, CreateContainerConfigError",
    pod({}, { phase: "Pending", containerStatuses: [waiting("CreateContainerConfigError")] }),
    "Degraded",
  ],
  [
    "pod, ContainerCreating",
    pod({}, { phase: "Pending", containerStatuses: [waiting("ContainerCreating")] }),
    "Progressing",
  ],
  [
    "hook pod (restartPolicy Never) waiting on an image is not Degraded",
    pod({ restartPolicy: "Never" }, { phase: "Pending", containerStatuses: [waiting("ImagePullBackOff")] }),
    "Progressing",
  ],
  ["pod, ready", pod({}, { phase: "Running", conditions: [cond("Ready", "True")] }), "Healthy"],
  [
    "pod, running not ready after a restart",
    pod(
      {},
      { phase: "Running", containerStatuses: [{ name: "app", lastState: { terminated: { exitCode: 1 } } }] },
    ),
    "Degraded",
  ],
  ["pod, running not ready", pod({}, { phase: "Running" }), "Progressing"],
  ["pod, running to completion", pod({ restartPolicy: "OnFailure" }, { phase: "Running" }), "Progressing"],
  ["pod, succeeded", pod({ restartPolicy: "Never" }, { phase: "Succeeded" }), "Healthy"],
  [
    "pod, failed with an exit code",
    pod(
      {},
      { phase: "Failed", containerStatuses: [{ name: "app", state: { terminated: { exitCode: 3 } } }] },
    ),
    "Degraded",
    "container app failed with exit code 3",
  ],
  [
    "pod, OOMKilled",
    pod(
      {},
      {
        phase: "Failed",
        containerStatuses: [{ name: "a", state: { terminated: { reason: "OOMKilled", exitCode: 137 } } }],
      },
    ),
    "Degraded",
    "OOMKilled",
  ],
  ["pod, unknown phase", pod({}, { phase: "Unknown" }), "Unknown"],
  // Job, CronJob
  ["job, running", obj("batch/v1", "Job", {}, { active: 1 }), "Progressing"],
  ["job, complete", obj("batch/v1", "Job", {}, { conditions: [cond("Complete", "True")] }), "Healthy"],
  [
    "job, failed",
    obj(
      "batch/v1",
      "Job",
      {},
      {
        conditions: [
          cond("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        ],
      },
    ),
    "Degraded",
    "Job has reached the specified backoff limit",
  ],
  ["job, suspended", obj("batch/v1", "Job", { suspend: true }, {}), "Suspended"],
  [
    "cronjob, suspended",
    obj("batch/v1", "CronJob", { suspend: true }, {}),
    "Suspended",
    "CronJob is suspended",
  ],
  ["cronjob, never run", obj("batch/v1", "CronJob", {}, {}), "Healthy"],
  [
    "cronjob, last run succeeded",
    obj(
      "batch/v1",
      "CronJob",
      {},
      { lastScheduleTime: "2026-01-01T00:00:00Z", lastSuccessfulTime: "2026-01-01T00:01:00Z" },
    ),
    "Healthy",
  ],
  [
    "cronjob, last run did not succeed",
    obj(
      "batch/v1",
      "CronJob",
      {},
      { lastScheduleTime: "2026-01-01T01:00:00Z", lastSuccessfulTime: "2026-01-01T00:01:00Z" },
    ),
    "Degraded",
  ],
  [
    "cronjob, a run active",
    obj("batch/v1", "CronJob", {}, { lastScheduleTime: "2026-01-01T01:00:00Z", active: [{ name: "j" }] }),
    "Healthy",
  ],
  // Service, Ingress
  ["service, ClusterIP", obj("v1", "Service", { type: "ClusterIP" }, {}), "Healthy"],
  ["service, LoadBalancer pending", obj("v1", "Service", { type: "LoadBalancer" }, {}), "Progressing"],
  [
    "service, LoadBalancer assigned",
    obj("v1", "Service", { type: "LoadBalancer" }, { loadBalancer: { ingress: [{ ip: "10.0.0.1" }] } }),
    "Healthy",
  ],
  ["ingress, no address", obj("networking.k8s.io/v1", "Ingress", {}, {}), "Progressing"],
  [
    "ingress, address assigned",
    obj("networking.k8s.io/v1", "Ingress", {}, { loadBalancer: { ingress: [{ hostname: "lb" }] } }),
    "Healthy",
  ],
  // HPA
  [
    "hpa, no conditions yet",
    obj("autoscaling/v2", "HorizontalPodAutoscaler", {}, {}),
    "Progressing",
    "waiting to autoscale",
  ],
  [
    "hpa, able to scale",
    obj(
      "autoscaling/v2",
      "HorizontalPodAutoscaler",
      {},
      { conditions: [cond("AbleToScale", "True", "ReadyForNewScale")] },
    ),
    "Healthy",
  ],
  [
    "hpa, cannot get metrics",
    obj(
      "autoscaling/v2",
      "HorizontalPodAutoscaler",
      {},
      { conditions: [cond("ScalingActive", "False", "FailedGetResourceMetric", "no metrics returned")] },
    ),
    "Degraded",
    "no metrics returned",
  ],
  [
    "hpa, failure wins over a healthy condition listed later",
    obj(
      "autoscaling/v2",
      "HorizontalPodAutoscaler",
      {},
      {
        conditions: [
          cond("AbleToScale", "False", "FailedGetScale", "no scale"),
          cond("ScalingLimited", "True"),
        ],
      },
    ),
    "Degraded",
  ],
  // APIService, CRD, PVC
  [
    "apiservice, available",
    obj("apiregistration.k8s.io/v1", "APIService", {}, { conditions: [cond("Available", "True")] }),
    "Healthy",
  ],
  [
    "apiservice, unavailable",
    obj(
      "apiregistration.k8s.io/v1",
      "APIService",
      {},
      { conditions: [cond("Available", "False", "FailedDiscoveryCheck", "no response")] },
    ),
    "Progressing",
    "no response",
  ],
  [
    "crd, established",
    obj(
      "apiextensions.k8s.io/v1",
      "CustomResourceDefinition",
      {},
      { conditions: [cond("Established", "True")] },
    ),
    "Healthy",
  ],
  [
    "crd, names conflict",
    obj(
      "apiextensions.k8s.io/v1",
      "CustomResourceDefinition",
      {},
      { conditions: [cond("NamesAccepted", "False", "", "plural taken")] },
    ),
    "Degraded",
  ],
  ["pvc, bound", obj("v1", "PersistentVolumeClaim", {}, { phase: "Bound" }), "Healthy"],
  ["pvc, pending", obj("v1", "PersistentVolumeClaim", {}, { phase: "Pending" }), "Progressing"],
  ["pvc, lost", obj("v1", "PersistentVolumeClaim", {}, { phase: "Lost" }), "Degraded"],
  // Kinds without anything to wait for
  ["configmap", obj("v1", "ConfigMap", undefined, undefined), "Healthy"],
  ["role", obj("rbac.authorization.k8s.io/v1", "Role", undefined, undefined), "Healthy"],
  // Custom resources
  ["custom resource without status", obj("example.com/v1", "Widget", {}, undefined), "Unknown"],
  [
    "custom resource, Ready True",
    obj("example.com/v1", "Widget", {}, { conditions: [cond("Ready", "True", "Ok", "up")] }),
    "Healthy",
    "up",
  ],
  [
    "custom resource, Ready False",
    obj("example.com/v1", "Widget", {}, { conditions: [cond("Ready", "False", "BadConfig", "port taken")] }),
    "Degraded",
    "port taken",
  ],
  [
    "custom resource, Ready False while progressing",
    obj("example.com/v1", "Widget", {}, { conditions: [cond("Ready", "False", "Progressing", "rolling")] }),
    "Progressing",
  ],
  [
    "custom resource, Ready Unknown",
    obj("example.com/v1", "Widget", {}, { conditions: [cond("Ready", "Unknown")] }),
    "Progressing",
  ],
  [
    "custom resource, Available",
    obj("example.com/v1", "Widget", {}, { conditions: [cond("Available", "True")] }),
    "Healthy",
  ],
  [
    "custom resource, Healthy False",
    obj("example.com/v1", "Widget", {}, { conditions: [cond("Healthy", "False", "Down")] }),
    "Degraded",
  ],
  [
    "custom resource, Stalled (kstatus)",
    obj(
      "example.com/v1",
      "Widget",
      {},
      { conditions: [cond("Ready", "True"), cond("Stalled", "True", "X", "gave up")] },
    ),
    "Degraded",
    "gave up",
  ],
  [
    "custom resource, Reconciling (kstatus)",
    obj("example.com/v1", "Widget", {}, { conditions: [cond("Reconciling", "True")] }),
    "Progressing",
  ],
  [
    "custom resource, status for an older generation",
    obj("example.com/v1", "Widget", {}, { observedGeneration: 1, conditions: [cond("Ready", "True")] }, 2),
    "Progressing",
  ],
  [
    "custom resource, Ready condition for an older generation",
    obj(
      "example.com/v1",
      "Widget",
      {},
      { conditions: [{ ...cond("Ready", "True"), observedGeneration: 1 }] },
      2,
    ),
    "Progressing",
  ],
  [
    "custom resource, unrelated conditions",
    obj("example.com/v1", "Widget", {}, { conditions: [cond("Synced", "True")] }),
    "Unknown",
  ],
  [
    "custom resource, conditions not a list",
    obj("example.com/v1", "Widget", {}, { conditions: "Ready" }),
    "Unknown",
  ],
];

describe("healthOf", () => {
  for (const [name, o, want, message] of cases)
    it(name, () => {
      const got = healthOf(o);
      assert.equal(got.status, want);
      if (message !== undefined) assert.equal(got.message, message);
    });

  it("cuts a long message written into a status", () => {
    const long = "m".repeat(100_000);
    const got = healthOf(
      obj("example.com/v1", "Widget", {}, { conditions: [cond("Ready", "False", "Bad", long)] }),
    );
    assert.equal(got.status, "Degraded");
    assert.ok((got.message ?? "").length <= 301);
  });
});

describe("aggregateHealth", () => {
  const table: Array<[HealthStatus[], HealthStatus]> = [
    [[], "Healthy"],
    [["Healthy", "Unknown"], "Healthy"],
    [["Unknown"], "Healthy"],
    [["Healthy", "Suspended"], "Suspended"],
    [["Suspended", "Progressing"], "Progressing"],
    [["Progressing", "Missing"], "Missing"],
    [["Missing", "Degraded", "Healthy"], "Degraded"],
  ];
  for (const [input, want] of table)
    it(`${input.join(",") || "none"} → ${want}`, () => assert.equal(aggregateHealth(input), want));
});

describe("summarizeHealth", () => {
  it("names the worst objects, three at most", () => {
    const objects = ["a", "b", "c", "d", "e"].map((n) => ({
      object: `Pod ns/${n}`,
      health: { status: "Degraded" as const, message: "ImagePullBackOff" },
    }));
    const got = summarizeHealth([{ object: "ConfigMap ns/c", health: { status: "Healthy" } }, ...objects]);
    assert.equal(got.status, "Degraded");
    assert.equal(
      got.message,
      "Degraded: Pod ns/a: ImagePullBackOff; Pod ns/b: ImagePullBackOff; Pod ns/c: ImagePullBackOff (and 2 more)",
    );
  });
  it("says all healthy", () =>
    assert.deepEqual(summarizeHealth([]), { status: "Healthy", message: "all objects are healthy" }));
});
