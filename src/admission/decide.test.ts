import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DesiredEntry, DesiredIndexReader, EnforcementMode, IgnoreRule } from "../manifest/desired.js";
import { keyOf, refOf, type KubeObject } from "../manifest/object.js";
import { signHold } from "../manifest/hold-record.js";
import { LAST_CHANGE_ANNOTATION } from "../manifest/labels.js";
import { decide } from "./decide.js";
import type { AdmissionPolicy, AdmissionRequest, Decision } from "./types.js";

const NOW = new Date("2025-05-01T12:00:00Z");
const COMMIT = "3f2a9c1d4e5f60718293a4b5c6d7e8f901234567";
const REPO = "https://git.example.com/team/deploy.git";

const markers = {
  labels: { app: "guestbook-ui", "gitgate.io/app": "gitgate-system.guestbook" },
  annotations: {
    "gitgate.io/repo": REPO,
    "gitgate.io/file": "apps/guestbook/deployment.yaml",
    "gitgate.io/commit": COMMIT,
  },
};

const gitDeployment: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "guestbook-ui", namespace: "guestbook", ...structuredClone(markers) },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: "guestbook-ui" } },
    template: {
      spec: { containers: [{ name: "web", image: "gcr.io/heptio-images/ks-guestbook-demo:0.2" }] },
    },
  },
};

const gitSecret: KubeObject = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "db", namespace: "guestbook", ...structuredClone(markers) },
  stringData: { password: "hunter2" },
};

function entryFor(object: KubeObject, mode: EnforcementMode, ignore: IgnoreRule[] = []): DesiredEntry {
  const ref = refOf(object);
  return {
    key: keyOf(ref),
    ref,
    object,
    app: { namespace: "gitgate-system", name: "guestbook" },
    source: {
      repoURL: REPO,
      path: "apps/guestbook",
      file: `apps/guestbook/${object.kind.toLowerCase()}.yaml`,
      commit: COMMIT,
    },
    mode,
    ignore,
  };
}

function indexOf(...entries: DesiredEntry[]): DesiredIndexReader {
  const map = new Map(entries.map((e) => [e.key, e]));
  return { get: (key) => map.get(key), isComplete: () => true };
}

const policy: AdmissionPolicy = {
  selfUsername: "system:serviceaccount:gitgate-system:gitgate",
  exemptUsers: ["system:serviceaccount:ops:janitor", "alice-exempt"],
  exemptGroups: ["platform-admins"],
  defaultMode: "enforce",
  breakGlassGroups: ["oncall"],
  breakGlassMaxSeconds: 3600,
  breakGlassDefaultSeconds: 900,
};

function live(
  mutate: (obj: KubeObject & { spec: Record<string, unknown> }) => void = () => undefined,
  base = gitDeployment,
): KubeObject {
  const obj = structuredClone(base) as KubeObject & { spec: Record<string, unknown> };
  obj.metadata.uid = "u-1";
  obj.metadata.resourceVersion = "42";
  obj.metadata.managedFields = [{ manager: "gitgate", operation: "Apply" }];
  if (obj.spec) obj.spec.progressDeadlineSeconds = 600; // an API-server default
  mutate(obj);
  return obj;
}

function update(object: KubeObject, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  const isSecret = object.kind === "Secret";
  return {
    uid: "req-1",
    kind: isSecret
      ? { group: "", version: "v1", kind: "Secret" }
      : { group: "apps", version: "v1", kind: "Deployment" },
    resource: isSecret
      ? { group: "", version: "v1", resource: "secrets" }
      : { group: "apps", version: "v1", resource: "deployments" },
    name: object.metadata.name ?? "",
    namespace: "guestbook",
    operation: "UPDATE",
    userInfo: { username: "bob", groups: ["developers", "system:authenticated"] },
    object,
    oldObject: live(() => undefined, isSecret ? gitSecret : gitDeployment),
    dryRun: false,
    ...extra,
  };
}

const scaled = live((o) => (o.spec.replicas = 5));
const enforce = indexOf(entryFor(gitDeployment, "enforce"), entryFor(gitSecret, "enforce"));
const decideWith = (req: AdmissionRequest, index = enforce, pol = policy): Decision =>
  decide({ request: req, index, policy: pol, now: NOW });

const REPLICAS_MESSAGE =
  `Deployment guestbook/guestbook-ui is managed by Git: spec.replicas is 1 in ${REPO} ` +
  `apps/guestbook/deployment.yaml@3f2a9c1, request has 5. Change it in Git, or use break-glass.`;

/** A kubectl scale of guestbook-ui: the Scale subresource, as kube-apiserver sends it. */
const scale = (replicas: number, extra: Partial<AdmissionRequest> = {}): AdmissionRequest =>
  update(
    {
      apiVersion: "autoscaling/v1",
      kind: "Scale",
      metadata: { name: "guestbook-ui", namespace: "guestbook" },
      spec: { replicas },
    },
    {
      kind: { group: "autoscaling", version: "v1", kind: "Scale" },
      subResource: "scale",
      oldObject: {
        apiVersion: "autoscaling/v1",
        kind: "Scale",
        metadata: { name: "guestbook-ui" },
        spec: { replicas: 1 },
      },
      ...extra,
    },
  );

void describe("decide: the order of DESIGN's admission decision", () => {
  void it("1. unmanaged: not in the index and not labelled → fast path", () => {
    const other = live((o) => {
      o.metadata.name = "other";
      o.metadata.labels = { app: "other" };
    });
    assert.equal(decideWith(update(other, { oldObject: other })).reason, "unmanaged");
  });

  void it("1. labelled but not in the index → allowed (nothing to compare with)", () => {
    const d = decideWith(update(live((o) => (o.metadata.name = "stray"))));
    assert.deepEqual([d.allowed, d.reason], [true, "not-indexed"]);
  });

  void it("1. mode off → allowed", () => {
    const d = decideWith(update(scaled), indexOf(entryFor(gitDeployment, "off")));
    assert.deepEqual([d.allowed, d.reason, d.event], [true, "mode-off", undefined]);
  });

  void it("2. gitgate's own identity → allowed", () => {
    const d = decideWith(update(scaled, { userInfo: { username: policy.selfUsername } }));
    assert.deepEqual([d.allowed, d.reason], [true, "self"]);
  });

  void it("2. exempt user, exempt group and exempt service account → allowed", () => {
    for (const userInfo of [
      { username: "alice-exempt" },
      { username: "carol", groups: ["platform-admins"] },
      {
        username: "system:serviceaccount:ops:janitor",
        groups: ["system:serviceaccounts", "system:serviceaccounts:ops"],
      },
    ]) {
      const d = decideWith(update(scaled, { userInfo }));
      assert.deepEqual([d.allowed, d.reason], [true, "exempt"], userInfo.username);
    }
  });

  void it("3. status subresource → allowed whatever it holds", () => {
    const d = decideWith(update(scaled, { subResource: "status" }));
    assert.deepEqual([d.allowed, d.reason], [true, "subresource"]);
  });

  void it("3. scale compares replicas with Git", () => {
    const denied = decideWith(scale(5));
    assert.equal(denied.allowed, false);
    assert.ok(denied.status?.message.startsWith(REPLICAS_MESSAGE));
    assert.match(denied.status?.message ?? "", /kubectl scale cannot carry break-glass annotations/);
    assert.equal(decideWith(scale(1)).reason, "matches-git");
    const hpa = indexOf(
      entryFor(gitDeployment, "enforce", [
        { group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] },
      ]),
    );
    assert.equal(decideWith(scale(5), hpa).allowed, true);
  });

  void it("3. scale of a resource whose kind is unknown is unmanaged; policy.resourceKinds names it", () => {
    const req = scale(5, { resource: { group: "example.com", version: "v1", resource: "widgets" } });
    assert.equal(decideWith(req).reason, "unmanaged");
    const widget: KubeObject = { ...gitDeployment, apiVersion: "example.com/v1", kind: "Widget" };
    const d = decideWith(req, indexOf(entryFor(widget, "enforce")), {
      ...policy,
      resourceKinds: { "example.com/widgets": "Widget" },
    });
    assert.equal(d.verdict, "denied");
  });

  void it("4. DELETE of a managed object → violation", () => {
    const req = update(gitDeployment, { operation: "DELETE", object: null, oldObject: live() });
    const d = decideWith(req);
    assert.equal(d.allowed, false);
    assert.equal(
      d.status?.message,
      `Deployment guestbook/guestbook-ui is managed by Git (${REPO} apps/guestbook/deployment.yaml@3f2a9c1): ` +
        `deleting it is not allowed. Remove it from Git, or use break-glass.`,
    );
    assert.equal(d.event?.type, "change-denied");
    assert.equal(d.event?.operation, "DELETE");
  });

  void it("4. removing gitgate's label → violation; keeping a lagging commit annotation is not", () => {
    const unlabelled = live((o) => delete o.metadata.labels?.["gitgate.io/app"]);
    const d = decideWith(update(unlabelled));
    assert.equal(d.allowed, false);
    assert.deepEqual(
      d.changes?.map((c) => c.path),
      ["metadata.labels[gitgate.io/app]"],
    );

    const lagging = live(
      (o) => ((o.metadata.annotations as Record<string, string>)["gitgate.io/commit"] = "0ld"),
    );
    assert.equal(decideWith(update(lagging, { oldObject: lagging })).reason, "matches-git");
  });

  void it("5. CREATE of the raw Git file (no gitgate markers) is not a violation; differing fields are", () => {
    const raw = live((o) => {
      o.metadata.labels = { app: "guestbook-ui" };
      o.metadata.annotations = {};
    });
    assert.equal(decideWith(update(raw, { operation: "CREATE", oldObject: null })).reason, "matches-git");
    const rawScaled = live((o) => {
      o.metadata.labels = { app: "guestbook-ui", "gitgate.io/app": "gitgate-system.guestbook" };
      o.spec.replicas = 5;
    });
    assert.equal(decideWith(update(rawScaled, { operation: "CREATE", oldObject: null })).verdict, "denied");
  });

  void it("5. a top-level label Git does not declare is allowed; restoring Git is allowed", () => {
    const labelled = live((o) => (o.metadata.labels = { ...o.metadata.labels, team: "x" }));
    assert.equal(decideWith(update(labelled)).reason, "matches-git");
    assert.equal(decideWith(update(live(), { oldObject: scaled })).reason, "matches-git");
  });

  void it("5. a field Git does not declare, added by the request, is denied and named as not in Git", () => {
    const added = live((o) => (o.spec.minReadySeconds = 10));
    const d = decideWith(update(added));
    assert.equal(d.allowed, false);
    assert.equal(d.reason, "violation");
    assert.deepEqual(
      d.changes?.map((c) => [c.path, c.gitValue, c.liveValue, c.undeclared]),
      [["spec.minReadySeconds", undefined, 10, true]],
    );
    assert.match(
      d.status?.message ?? "",
      /spec\.minReadySeconds is not in Git at \S+ \S+@[0-9a-f]{7}, request sets 10/,
    );
  });

  void it("5. drift already live is not the request's: an unrelated UPDATE passes, a further change does not", () => {
    // replicas drifted to 5 earlier (selfHeal off, break-glass, gitgate down); now only a label changes.
    const labelled = live((o) => {
      o.spec.replicas = 5;
      o.metadata.labels = { ...o.metadata.labels, team: "x" };
    });
    assert.equal(decideWith(update(labelled, { oldObject: scaled })).allowed, true);
    // Moving the drifted field further away from Git is this request's change.
    const further = live((o) => (o.spec.replicas = 7));
    const denied = decideWith(update(further, { oldObject: scaled }));
    assert.equal(denied.allowed, false);
    assert.deepEqual(
      denied.changes?.map((c) => [c.path, c.gitValue, c.liveValue]),
      [["spec.replicas", 1, 7]],
    );
  });

  void it("1. an Ingress written through extensions/v1beta1 is the one Git declares as networking.k8s.io", () => {
    const gitIngress: KubeObject = {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name: "web", namespace: "guestbook", ...structuredClone(markers) },
      spec: { ingressClassName: "nginx" },
    };
    const index = indexOf(entryFor(gitIngress, "enforce"));
    const viaExtensions = structuredClone(gitIngress);
    viaExtensions.apiVersion = "extensions/v1beta1";
    (viaExtensions.spec as Record<string, unknown>).ingressClassName = "other";
    const kind = { group: "extensions", version: "v1beta1", kind: "Ingress" };
    const resource = { group: "extensions", version: "v1beta1", resource: "ingresses" };
    const request = update(viaExtensions, { kind, resource, name: "web", oldObject: gitIngress });
    const d = decideWith(request, index);
    assert.equal(d.allowed, false);
    assert.equal(d.reason, "violation");
    const deleted = decideWith({ ...request, operation: "DELETE", object: null }, index);
    assert.equal(deleted.allowed, false);
  });

  void it("6. a huge requested value is kept short in the decision and the alert", () => {
    const huge = "x".repeat(100_000);
    const d = decideWith(
      update(
        live((o) => (o.spec.paused = huge)),
        {},
      ),
      indexOf(
        entryFor(
          live((o) => (o.spec.paused = "no")),
          "enforce",
        ),
      ),
    );
    const kept = String(d.event?.changes?.[0]?.liveValue);
    assert.ok(kept.length < 2100, `kept ${kept.length} characters`);
    assert.match(kept, /… \(100000 characters\)$/);
  });

  void it("6. enforce → 403 with the Git location and requested value; several fields joined by '; '", () => {
    const d = decideWith(update(scaled));
    assert.deepEqual(
      [d.allowed, d.verdict, d.status?.code, d.status?.reason],
      [false, "denied", 403, "Forbidden"],
    );
    assert.equal(d.status?.message, REPLICAS_MESSAGE);
    const two = live((o) => {
      o.spec.replicas = 5;
      (
        (o.spec.template as { spec: { containers: Array<{ image: string }> } }).spec.containers[0] as {
          image: string;
        }
      ).image = "evil:1";
    });
    assert.match(
      decideWith(update(two)).status?.message ?? "",
      /spec\.replicas is 1 in .*, request has 5; spec\.template\.spec\.containers\[name=web\]\.image is gcr\.io\/heptio-images\/ks-guestbook-demo:0\.2 in .*, request has evil:1\. Change it in Git/,
    );
  });

  void it("6. the alert event names actor, fields, source and is absent for dry runs", () => {
    const d = decideWith(update(scaled));
    assert.equal(d.event?.type, "change-denied");
    assert.deepEqual(d.event?.actor, {
      username: "bob",
      groups: ["developers", "system:authenticated"],
      via: "admission",
    });
    assert.deepEqual(d.event?.changes, [{ path: "spec.replicas", gitValue: 1, liveValue: 5 }]);
    assert.equal(d.event?.source?.commit, COMMIT);
    assert.equal(d.event?.time, NOW.toISOString());
    const dry = decideWith(update(scaled, { dryRun: true }));
    assert.deepEqual([dry.allowed, dry.event], [false, undefined]);
  });

  void it("6. warn → allowed with the same text as warnings; audit → allowed and recorded", () => {
    const warned = decideWith(update(scaled), indexOf(entryFor(gitDeployment, "warn")));
    assert.deepEqual([warned.allowed, warned.verdict, warned.status], [true, "warned", undefined]);
    assert.deepEqual(warned.warnings, [REPLICAS_MESSAGE]);
    assert.equal(warned.event?.type, "change-warned");
    const audited = decideWith(update(scaled), indexOf(entryFor(gitDeployment, "audit")));
    assert.deepEqual([audited.allowed, audited.verdict, audited.warnings], [true, "audited", undefined]);
    assert.equal(audited.event?.type, "change-audited");
  });

  void it("6. Secret values never appear in messages, warnings or events", () => {
    const changed = live((o) => (o.stringData = { password: "letmein" }), gitSecret);
    for (const mode of ["enforce", "warn"] as const) {
      const d = decideWith(update(changed), indexOf(entryFor(gitSecret, mode)));
      const text = JSON.stringify(d);
      assert.ok(!text.includes("hunter2") && !text.includes("letmein"), text);
      assert.match(text, /stringData\.password is <redacted> in .*request has <redacted>/);
    }
  });

  void it("updates to an object being deleted (finalizer removal) pass", () => {
    const deleting = live((o) => {
      o.metadata.deletionTimestamp = "2025-05-01T11:59:00Z";
      o.spec.replicas = 5;
    });
    assert.equal(decideWith(update(deleting, { oldObject: deleting })).reason, "being-deleted");
  });
});

void describe("decide: break-glass", () => {
  const annotated = (annotations: Record<string, string>): KubeObject =>
    live((o) => {
      o.spec.replicas = 5;
      o.metadata.annotations = { ...o.metadata.annotations, ...annotations };
    });
  const oncall = { username: "dave", groups: ["oncall"] };
  const reason = { "gitgate.io/break-glass-reason": "INC-42: scale out during outage" };

  void it("a break-glass group member with a reason is allowed, with the default duration", () => {
    const d = decideWith(update(annotated(reason), { userInfo: oncall }));
    assert.deepEqual([d.allowed, d.reason], [true, "break-glass"]);
    assert.equal(d.breakGlass?.expiresAt.toISOString(), "2025-05-01T12:15:00.000Z");
    assert.equal(d.breakGlass?.key, "apps/Deployment/guestbook/guestbook-ui");
    assert.equal(d.breakGlass?.username, "dave");
    assert.equal(d.event?.type, "break-glass-used");
    assert.equal(d.event?.detail, reason["gitgate.io/break-glass-reason"]);
    assert.match(d.warnings?.[0] ?? "", /Break-glass: .* until 2025-05-01T12:15:00.000Z/);
  });

  void it("the requested expiry is honoured, and capped by policy", () => {
    const soon = decideWith(
      update(annotated({ ...reason, "gitgate.io/break-glass-expires": "2025-05-01T12:30:00Z" }), {
        userInfo: oncall,
      }),
    );
    assert.equal(soon.breakGlass?.expiresAt.toISOString(), "2025-05-01T12:30:00.000Z");
    const late = decideWith(
      update(annotated({ ...reason, "gitgate.io/break-glass-expires": "2025-05-09T00:00:00+02:00" }), {
        userInfo: oncall,
      }),
    );
    assert.equal(late.breakGlass?.expiresAt.toISOString(), "2025-05-01T13:00:00.000Z");
  });

  void it("works for DELETE with the annotation on the live object", () => {
    const d = decideWith(
      update(gitDeployment, {
        operation: "DELETE",
        object: null,
        oldObject: annotated(reason),
        userInfo: oncall,
      }),
    );
    assert.deepEqual([d.allowed, d.reason], [true, "break-glass"]);
  });

  void it("someone outside the break-glass groups gets the normal decision, with a note", () => {
    const d = decideWith(update(annotated(reason)));
    assert.equal(d.allowed, false);
    assert.ok(d.status?.message.startsWith(REPLICAS_MESSAGE));
    assert.match(d.status?.message ?? "", /Break-glass refused: bob is not in a break-glass group\.$/);
    assert.equal(d.breakGlass, undefined);
  });

  void it("a past or malformed expiry is refused", () => {
    for (const expires of ["2025-05-01T11:00:00Z", "tomorrow"]) {
      const d = decideWith(
        update(annotated({ ...reason, "gitgate.io/break-glass-expires": expires }), { userInfo: oncall }),
      );
      assert.equal(d.allowed, false, expires);
      assert.match(d.status?.message ?? "", /Break-glass refused/);
    }
  });

  void it("a dry run is allowed but grants nothing and alerts nobody", () => {
    const d = decideWith(update(annotated(reason), { userInfo: oncall, dryRun: true }));
    assert.deepEqual([d.allowed, d.breakGlass, d.event], [true, undefined, undefined]);
  });

  void it("annotating alone opens a window once; a later write that keeps the annotation does not", () => {
    const annotatedOnly = live((o) => (o.metadata.annotations = { ...o.metadata.annotations, ...reason }));
    const opened = decideWith(update(annotatedOnly, { userInfo: oncall }));
    assert.deepEqual([opened.allowed, opened.reason, opened.changes], [true, "break-glass", []]);
    assert.equal(opened.breakGlass?.expiresAt.toISOString(), "2025-05-01T12:15:00.000Z");
    assert.equal(opened.event?.type, "break-glass-used");
    const again = decideWith(update(annotatedOnly, { userInfo: oncall, oldObject: annotatedOnly }));
    assert.deepEqual([again.reason, again.breakGlass], ["matches-git", undefined]);
    const outsider = decideWith(update(annotatedOnly));
    assert.deepEqual(
      [outsider.allowed, outsider.reason, outsider.breakGlass],
      [true, "matches-git", undefined],
    );
    assert.match(outsider.warnings?.[0] ?? "", /Break-glass refused: bob is not in a break-glass group/);
  });

  void describe("kubectl scale: the reason is on the live object, the window opened by annotating", () => {
    const SECRET = "hold-secret";
    const key = "apps/Deployment/guestbook/guestbook-ui";
    const scaleTo = (replicas: number, userInfo = oncall): AdmissionRequest => scale(replicas, { userInfo });
    const withWindow = (until: string, secret = SECRET): KubeObject =>
      live((o) => {
        const record = { user: "dave", groups: ["oncall"], fields: [], time: NOW.toISOString() };
        const breakGlass = signHold(
          secret,
          key,
          "dave",
          new Date(until),
          reason["gitgate.io/break-glass-reason"],
        );
        o.metadata.annotations = {
          ...o.metadata.annotations,
          ...reason,
          [LAST_CHANGE_ANNOTATION]: JSON.stringify({ ...record, breakGlass }),
        };
      });
    const decideScale = (req: AdmissionRequest, parent: KubeObject | undefined): Decision =>
      decide({ request: req, index: enforce, policy: { ...policy, holdSecret: SECRET }, now: NOW, parent });

    void it("a member scales inside an open window: admitted until the window's end", () => {
      const d = decideScale(scaleTo(5), withWindow("2025-05-01T12:10:00Z"));
      assert.deepEqual([d.allowed, d.reason], [true, "break-glass"]);
      assert.equal(d.breakGlass?.expiresAt.toISOString(), "2025-05-01T12:10:00.000Z");
      assert.equal(d.event?.type, "break-glass-used");
    });

    const refusals: Array<{
      name: string;
      req: AdmissionRequest;
      parent: KubeObject | undefined;
      note: RegExp;
    }> = [
      {
        name: "no reason on the object",
        req: scaleTo(5),
        parent: live(),
        note: /Break-glass: kubectl scale cannot carry break-glass annotations/,
      },
      {
        name: "the object is not in the watch cache",
        req: scaleTo(5),
        parent: undefined,
        note: /Break-glass: kubectl scale cannot carry/,
      },
      {
        name: "a reason but no signed window (annotated before, or by hand)",
        req: scaleTo(5),
        parent: live((o) => (o.metadata.annotations = { ...o.metadata.annotations, ...reason })),
        note: /Break-glass refused: no open break-glass window/,
      },
      {
        name: "the window has closed",
        req: scaleTo(5),
        parent: withWindow("2025-05-01T11:59:00Z"),
        note: /no open break-glass window/,
      },
      {
        name: "a window signed with another key",
        req: scaleTo(5),
        parent: withWindow("2025-05-01T12:10:00Z", "forged"),
        note: /no open break-glass window/,
      },
      {
        name: "a window open, but the requester is not in a break-glass group",
        req: scaleTo(5, { username: "bob", groups: [] }),
        parent: withWindow("2025-05-01T12:10:00Z"),
        note: /Break-glass refused: bob is not in a break-glass group/,
      },
    ];
    for (const c of refusals) {
      void it(`denied: ${c.name}`, () => {
        const d = decideScale(c.req, c.parent);
        assert.deepEqual([d.allowed, d.breakGlass], [false, undefined]);
        assert.ok(d.status?.message.startsWith(REPLICAS_MESSAGE));
        assert.match(d.status?.message ?? "", c.note);
      });
    }
  });
});

void describe("decide: the namespace label that takes a namespace out of the gate", () => {
  const namespace = (name: string, labels: Record<string, string> = {}): KubeObject => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "kubernetes.io/metadata.name": name, ...labels } },
  });
  const ignore = { "gitgate.io/webhook": "ignore" };
  const request = (
    object: KubeObject,
    oldObject: KubeObject | null,
    username = "bob",
    groups: string[] = [],
  ): AdmissionRequest => ({
    uid: "ns-1",
    kind: { group: "", version: "v1", kind: "Namespace" },
    resource: { group: "", version: "v1", resource: "namespaces" },
    name: object.metadata.name ?? "",
    operation: oldObject ? "UPDATE" : "CREATE",
    userInfo: { username, groups },
    object,
    oldObject,
  });
  const withIgnored = { ...policy, ignoredNamespaces: ["kube-system", "gitgate-system"] };
  const cases: Array<{ name: string; req: AdmissionRequest; allowed: boolean; reason: string }> = [
    {
      name: "a user labels a namespace: denied",
      req: request(namespace("guestbook", ignore), namespace("guestbook")),
      allowed: false,
      reason: "reserved-label",
    },
    {
      name: "a user creates a namespace with the label: denied",
      req: request(namespace("sneaky", ignore), null),
      allowed: false,
      reason: "reserved-label",
    },
    {
      name: "gitgate labels its own namespace",
      req: request(namespace("gitgate-system", ignore), namespace("gitgate-system"), policy.selfUsername),
      allowed: true,
      reason: "unmanaged",
    },
    {
      name: "anyone on kube-system, which gitgate labels itself",
      req: request(namespace("kube-system", ignore), namespace("kube-system")),
      allowed: true,
      reason: "unmanaged",
    },
    {
      name: "gitgate applying a Namespace whose Git manifest carries the label",
      req: request(namespace("guestbook", ignore), namespace("guestbook"), policy.selfUsername),
      allowed: true,
      reason: "self",
    },
    {
      name: "an exempt group",
      req: request(namespace("guestbook", ignore), namespace("guestbook"), "carol", ["platform-admins"]),
      allowed: true,
      reason: "exempt",
    },
    {
      name: "the label was already there (another label changes)",
      req: request(namespace("guestbook", { ...ignore, team: "a" }), namespace("guestbook", ignore)),
      allowed: true,
      reason: "unmanaged",
    },
    {
      name: "removing the label",
      req: request(namespace("guestbook"), namespace("guestbook", ignore)),
      allowed: true,
      reason: "unmanaged",
    },
    {
      name: "a user names a namespace kube-system in kubernetes.io/metadata.name (1.20 leaves it open)",
      req: request(
        {
          ...namespace("guestbook"),
          metadata: { name: "guestbook", labels: { "kubernetes.io/metadata.name": "kube-system" } },
        },
        namespace("guestbook"),
      ),
      allowed: false,
      reason: "reserved-label",
    },
    {
      name: "the name label as kube-apiserver ≥ 1.21 sets it",
      req: request(namespace("fresh"), null),
      allowed: true,
      reason: "unmanaged",
    },
    {
      name: "another value of the label",
      req: request(namespace("guestbook", { "gitgate.io/webhook": "enforce" }), namespace("guestbook")),
      allowed: true,
      reason: "unmanaged",
    },
  ];
  for (const c of cases) {
    void it(c.name, () => {
      const d = decideWith(c.req, enforce, withIgnored);
      assert.deepEqual([d.allowed, d.reason], [c.allowed, c.reason]);
      if (!c.allowed) {
        assert.equal(d.status?.code, 403);
        assert.match(
          d.status?.message ?? "",
          /gitgate\.io\/webhook=ignore on namespace \S+ would exempt .* only on kube-system, gitgate-system|kubernetes\.io\/metadata\.name=kube-system on namespace guestbook must equal its own name/,
        );
      }
    });
  }

  void it("without ignoredNamespaces only kube-system keeps the label", () => {
    const d = decideWith(request(namespace("gitgate-system", ignore), namespace("gitgate-system")));
    assert.equal(d.reason, "reserved-label");
  });
});

void describe("decide: fields Git does not declare", () => {
  const noReplicas = structuredClone(gitDeployment) as KubeObject & { spec: Record<string, unknown> };
  delete noReplicas.spec.replicas;
  const withEntry = (
    extra: Partial<DesiredEntry>,
    object: KubeObject = gitDeployment,
    mode: EnforcementMode = "enforce",
  ): DesiredIndexReader => indexOf({ ...entryFor(object, mode), ...extra });
  const sidecar = live((o) => {
    const template = o.spec.template as { spec: { containers: unknown[] } };
    template.spec.containers.push({ name: "debug", image: "busybox" });
  });

  const modes: Array<[string, EnforcementMode, DesiredEntry["undeclaredFields"], Decision["verdict"]]> = [
    ["enforce follows the mode: denied", "enforce", undefined, "denied"],
    ["warn follows the mode: warned", "warn", undefined, "warned"],
    ["audit follows the mode: audited", "audit", undefined, "audited"],
    ["deny in warn mode: denied", "warn", "deny", "denied"],
    ["deny in audit mode: denied", "audit", "deny", "denied"],
    ["warn in enforce mode: warned", "enforce", "warn", "warned"],
    ["allow in enforce mode: allowed", "enforce", "allow", "allowed"],
  ];
  for (const [name, mode, undeclaredFields, verdict] of modes) {
    void it(`undeclaredFields: ${name}`, () => {
      const d = decideWith(
        update(sidecar),
        withEntry(undeclaredFields ? { undeclaredFields } : {}, gitDeployment, mode),
      );
      assert.equal(d.verdict, verdict);
      if (verdict !== "allowed")
        assert.equal(d.changes?.[0]?.path, "spec.template.spec.containers[name=debug]");
    });
  }

  void it("the config's undeclaredFields applies where the GitApp sets none; the GitApp's wins", () => {
    assert.equal(
      decideWith(update(sidecar), enforce, { ...policy, undeclaredFields: "allow" }).verdict,
      "allowed",
    );
    const mine = withEntry({ undeclaredFields: "deny" });
    assert.equal(
      decideWith(update(sidecar), mine, { ...policy, undeclaredFields: "allow" }).verdict,
      "denied",
    );
  });

  void it("a declared change in enforce and an undeclared one under warn: the declared one still denies", () => {
    const both = live((o) => {
      o.spec.replicas = 5;
      o.spec.minReadySeconds = 3;
    });
    const d = decideWith(update(both), withEntry({ undeclaredFields: "warn" }));
    assert.equal(d.verdict, "denied");
    assert.deepEqual(
      d.changes?.map((c) => c.path),
      ["spec.replicas", "spec.minReadySeconds"],
    );
  });

  void it("allowedChanges lets an undeclared field through", () => {
    const index = withEntry({
      allowedChanges: [{ kind: "Deployment", jsonPointers: ["/spec/template/spec/containers/debug"] }],
    });
    assert.equal(decideWith(update(sidecar), index).reason, "matches-git");
  });

  void it("names five fields and counts the rest", () => {
    const many = live((o) => {
      for (const field of ["a", "b", "c", "d", "e", "f", "g"]) o.spec[field] = 1;
    });
    const d = decideWith(update(many));
    assert.match(
      d.status?.message ?? "",
      /spec\.e is not in Git at .*; and 2 more fields\. Change it in Git, or use break-glass\.$/,
    );
  });

  void it("scale of replicas Git leaves out: a person is denied, the controller of an HPA in Git is admitted", () => {
    const index = withEntry({}, noReplicas);
    const denied = decideWith(scale(5), index);
    assert.equal(denied.verdict, "denied");
    // The scale break-glass hint follows, as for every denied scale.
    assert.ok(
      denied.status?.message.startsWith(
        `Deployment guestbook/guestbook-ui is managed by Git: spec.replicas is not in Git at ${REPO} ` +
          `apps/guestbook/deployment.yaml@3f2a9c1, request sets 5. Change it in Git, or use break-glass. Break-glass: `,
      ),
      denied.status?.message,
    );
    // The HPA controller scales only what an HPA in the same Git targets; an HPA made by hand does not count.
    const byHpa = withEntry({ autoscaler: "guestbook/web" }, noReplicas);
    for (const username of [
      "system:kube-controller-manager",
      "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
    ]) {
      assert.equal(decideWith(scale(5, { userInfo: { username } }), byHpa).allowed, true, username);
      assert.equal(decideWith(scale(5, { userInfo: { username } }), index).allowed, false, username);
    }

    assert.equal(decideWith(scale(5), withEntry({ undeclaredFields: "allow" }, noReplicas)).allowed, true);
    const allowed = withEntry({ allowedChanges: [{ jsonPointers: ["/spec/replicas"] }] }, noReplicas);
    assert.equal(decideWith(scale(5), allowed).allowed, true);
  });

  void it("scale of an object an HPA in Git targets says to change the HPA", () => {
    const byHpa = decideWith(scale(5), withEntry({ autoscaler: "guestbook/web" }, noReplicas));
    assert.match(
      byHpa.status?.message ?? "",
      /request sets 5\. HorizontalPodAutoscaler guestbook\/web scales this object: change its minReplicas\/maxReplicas in Git\. Break-glass: /,
    );
    const conflict = decideWith(scale(5), withEntry({ autoscaler: "guestbook/web" }));
    assert.match(
      conflict.status?.message ?? "",
      /spec\.replicas is 1 in .*request has 5\. HorizontalPodAutoscaler guestbook\/web scales this object: change its minReplicas\/maxReplicas in Git, and remove spec\.replicas from Git \(or add \/spec\/replicas to ignoreDifferences\) so the HPA can scale it\. Break-glass: /,
    );
  });

  void it("an exempt user's addition is admitted (self-heal removes it later)", () => {
    assert.equal(decideWith(update(sidecar, { userInfo: { username: "alice-exempt" } })).reason, "exempt");
  });
});

void describe("decide: gitgate's out-of-band record is written by gitgate only", () => {
  const SECRET = "hold-secret";
  const withSecret: AdmissionPolicy = { ...policy, holdSecret: SECRET };
  const key = keyOf(refOf(gitDeployment));
  const later = new Date(NOW.getTime() + 600_000);
  const record = (fields: Record<string, unknown>): string =>
    JSON.stringify({ user: "bob", groups: [], fields: [], time: NOW.toISOString(), ...fields });
  const annotated = (annotations: Record<string, string>): KubeObject =>
    live((o) => Object.assign(o.metadata.annotations ?? {}, annotations));
  const signed = (user: string, until = later, reason = "INC-9", secret = SECRET): unknown =>
    signHold(secret, key, user, until, reason);
  const held = (by: string): KubeObject =>
    annotated({
      "gitgate.io/break-glass-reason": "INC-1",
      [LAST_CHANGE_ANNOTATION]: record({ user: by, breakGlass: signHold(SECRET, key, by, later, "INC-1") }),
    });
  const oncall = { username: "bob", groups: ["oncall"] };

  const cases: Array<{
    name: string;
    object: KubeObject;
    extra?: Partial<AdmissionRequest>;
    denied?: string;
  }> = [
    { name: "a record naming the requester", object: annotated({ [LAST_CHANGE_ANNOTATION]: record({}) }) },
    {
      name: "a record naming someone else",
      object: annotated({ [LAST_CHANGE_ANNOTATION]: record({ user: "alice" }) }),
      denied: "it names alice, not bob",
    },
    {
      name: "a record that is not JSON",
      object: annotated({ [LAST_CHANGE_ANNOTATION]: "alice did it" }),
      denied: "it is not a record gitgate wrote",
    },
    {
      name: "a grant gitgate signed for the requester, a member, for the object's reason",
      object: annotated({
        "gitgate.io/break-glass-reason": "INC-9",
        [LAST_CHANGE_ANNOTATION]: record({ breakGlass: signed("bob") }),
      }),
      extra: { userInfo: oncall },
    },
    {
      name: "a signed grant for a requester outside the break-glass groups (a forged /mutate answer)",
      object: annotated({
        "gitgate.io/break-glass-reason": "INC-9",
        [LAST_CHANGE_ANNOTATION]: record({ breakGlass: signed("bob") }),
      }),
      denied: "bob is not in a break-glass group",
    },
    {
      name: "a signed grant for someone else, carried as grantee",
      object: annotated({
        "gitgate.io/break-glass-reason": "INC-9",
        [LAST_CHANGE_ANNOTATION]: record({ breakGlass: { ...(signed("dave") as object), grantee: "dave" } }),
      }),
      extra: { userInfo: oncall },
      denied: "its break-glass grant is for dave, not bob",
    },
    {
      name: "a grant signed with another key",
      object: annotated({
        "gitgate.io/break-glass-reason": "INC-9",
        [LAST_CHANGE_ANNOTATION]: record({ breakGlass: signed("bob", later, "INC-9", "guess") }),
      }),
      extra: { userInfo: oncall },
      denied: "its break-glass grant is not signed by gitgate for this object",
    },
    {
      name: "a grant for another reason than the object's",
      object: annotated({
        "gitgate.io/break-glass-reason": "INC-9",
        [LAST_CHANGE_ANNOTATION]: record({ breakGlass: signed("bob", later, "other") }),
      }),
      extra: { userInfo: oncall },
      denied: "its break-glass reason is not the object's gitgate.io/break-glass-reason",
    },
    {
      name: "a grant beyond the maximum window",
      object: annotated({
        "gitgate.io/break-glass-reason": "INC-9",
        [LAST_CHANGE_ANNOTATION]: record({ breakGlass: signed("bob", new Date(NOW.getTime() + 86_400_000)) }),
      }),
      extra: { userInfo: oncall },
      denied: "its break-glass window ends after the 3600 s maximum",
    },
    {
      name: "a window carried over from dave's grant by bob's later change",
      object: annotated({
        "gitgate.io/break-glass-reason": "INC-1",
        [LAST_CHANGE_ANNOTATION]: record({
          breakGlass: { ...signHold(SECRET, key, "dave", later, "INC-1"), grantee: "dave" },
        }),
      }),
      extra: { oldObject: held("dave") },
    },
    { name: "the record left as it was", object: held("dave"), extra: { oldObject: held("dave") } },
    { name: "the record removed", object: live(), extra: { oldObject: held("dave") } },
    {
      name: "an exempt user's record naming someone else",
      object: annotated({ [LAST_CHANGE_ANNOTATION]: record({ user: "alice" }) }),
      extra: { userInfo: { username: "root", groups: ["platform-admins"] } },
      denied: "it names alice, not root",
    },
    {
      name: "gitgate itself",
      object: annotated({ [LAST_CHANGE_ANNOTATION]: record({ user: "alice" }) }),
      extra: { userInfo: { username: policy.selfUsername, groups: [] } },
    },
  ];
  for (const c of cases)
    void it(`${c.denied ? "refuses" : "admits"} ${c.name}`, () => {
      for (const mode of ["enforce", "warn", "audit"] as const) {
        const d = decideWith(update(c.object, c.extra), indexOf(entryFor(gitDeployment, mode)), withSecret);
        if (!c.denied) {
          assert.equal(d.allowed, true, `${mode}: ${d.status?.message}`);
          assert.notEqual(d.reason, "forged-record");
          continue;
        }
        assert.deepEqual([d.allowed, d.reason, d.status?.code], [false, "forged-record", 403], mode);
        assert.equal(
          d.status?.message,
          `${LAST_CHANGE_ANNOTATION} is gitgate's record of out-of-band changes and is written only by ` +
            `gitgate's mutating webhook: this request's record is refused, ${c.denied}.`,
        );
      }
    });
});
