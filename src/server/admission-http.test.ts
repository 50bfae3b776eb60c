import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { Registry } from "prom-client";
import type { AlertEvent } from "../manifest/event.js";
import { silentLogger } from "../log/logger.js";
import type { DesiredEntry } from "../manifest/desired.js";
import { signHold } from "../manifest/hold-record.js";
import { LAST_CHANGE_ANNOTATION } from "../manifest/labels.js";
import type { KubeObject } from "../manifest/object.js";
import { createAdmissionMetrics } from "../admission/metrics.js";
import type { ClaimedField } from "../gate/admitted-changes.js";
import type { GateForAdmission } from "../gate/gate.js";
import { createAdmissionTransport } from "./admission-http.js";
import { createApp } from "./app.js";
import { configMapEntry, gitConfigMap } from "../../test/fixtures/admission/configmap.js";
import { admissionReview } from "../testenv/admission-client.js";

const git = gitConfigMap;
const entry = configMapEntry;

function review(
  data: Record<string, string>,
  annotations: Record<string, string> = {},
  groups: string[] = [],
): unknown {
  return admissionReview({
    userInfo: { username: "bob", groups },
    object: { ...git, metadata: { ...git.metadata, annotations }, data },
    oldObject: git,
  });
}

interface Claim {
  key: string;
  username: string;
  fields: readonly ClaimedField[];
}

/** The webhook's side of the gate state over a fixed index; admitted-change claims go to `claims`. */
function gateOver(only: DesiredEntry, claims: Claim[] = []): GateForAdmission {
  return {
    index: { get: (k) => (k === only.key ? only : undefined), isComplete: () => true },
    recordAdmittedChange: (key, username, fields) => void claims.push({ key, username, fields }),
  };
}

void describe("admission transport", () => {
  let server: Server;
  let base = "";
  const events: AlertEvent[] = [];
  const claims: Claim[] = [];
  const registry = new Registry();

  before(async () => {
    const transport = createAdmissionTransport({
      gate: gateOver(entry, claims),
      policy: () => ({
        selfUsername: "gitgate",
        exemptUsers: [],
        exemptGroups: [],
        defaultMode: "enforce",
        breakGlassGroups: ["oncall"],
        breakGlassMaxSeconds: 3600,
        breakGlassDefaultSeconds: 600,
      }),
      alerts: {
        emit: (e) => {
          events.push(e);
          throw new Error("a broken sink must not matter");
        },
      },
      logger: silentLogger,
      metrics: createAdmissionMetrics(registry),
    });
    server = createServer((req, res) => {
      if (!transport.serve(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const post = async (
    path: string,
    body: string,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  void it("denies a change that differs from Git, and alerts after answering", async () => {
    const { status, json } = await post("/validate", JSON.stringify(review({ a: "2" })));
    assert.equal(status, 200);
    const response = json.response as {
      uid: string;
      allowed: boolean;
      status: { code: number; message: string };
    };
    assert.deepEqual([response.uid, response.allowed, response.status.code], ["uid-1", false, 403]);
    assert.match(
      response.status.message,
      /^ConfigMap n\/c is managed by Git: data\.a is 1 in https:\/\/r c\.yaml@bbbbbbb, request has 2\./,
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(events.at(-1)?.type, "change-denied");
  });

  void it("allows a matching change", async () => {
    const { json } = await post("/validate", JSON.stringify(review({ a: "1" })));
    assert.equal((json.response as { allowed: boolean }).allowed, true);
  });

  void it("hands a break-glass change to the gate as a claim with its raw values, and grants nothing", async () => {
    const { json } = await post(
      "/validate",
      JSON.stringify(review({ a: "9" }, { "gitgate.io/break-glass-reason": "INC-1" }, ["oncall"])),
    );
    assert.equal((json.response as { allowed: boolean }).allowed, true);
    await new Promise((r) => setImmediate(r));
    // The window itself opens only when the watch sees gitgate's signed record on the stored object.
    assert.deepEqual(claims.at(-1), {
      key: entry.key,
      username: "bob",
      fields: [{ path: "data.a", value: "9" }],
    });
  });

  void it("/mutate never denies and carries no patch under enforce", async () => {
    const { json } = await post("/mutate", JSON.stringify(review({ a: "2" })));
    assert.deepEqual(json.response, { uid: "uid-1", allowed: true });
  });

  void it("answers malformed JSON, wrong shapes and oversized bodies with 4xx, and keeps serving", async () => {
    assert.equal((await post("/validate", "{not json")).status, 400);
    const wrong = await post("/validate", JSON.stringify({ apiVersion: "v1" }));
    assert.equal(wrong.status, 400);
    assert.match(String(wrong.json.error), /invalid AdmissionReview/);
    assert.equal((await post("/mutate", "[]")).status, 400);
    assert.equal(
      (await post("/validate", JSON.stringify({ pad: "x".repeat(3.5 * 1024 * 1024) }))).status,
      413,
    );
    assert.equal((await post("/validate", JSON.stringify(review({ a: "1" })))).status, 200);
  });

  void it("counts requests by verdict", async () => {
    const text = await registry.metrics();
    assert.match(text, /gitgate_admission_requests_total\{webhook="validate",verdict="denied"\} 1/);
    assert.match(text, /gitgate_admission_requests_total\{webhook="validate",verdict="error"\} \d/);
    assert.match(text, /gitgate_admission_decision_seconds_count\{webhook="validate"\} \d+/);
  });
});

void describe("admission transport in front of express (createApp)", () => {
  let server: Server;
  let base = "";
  const registry = new Registry();
  const admission = createAdmissionTransport({
    gate: gateOver(entry),
    policy: () => ({
      selfUsername: "gitgate",
      exemptUsers: [],
      exemptGroups: [],
      defaultMode: "enforce",
      breakGlassGroups: [],
      breakGlassMaxSeconds: 3600,
      breakGlassDefaultSeconds: 600,
    }),
    alerts: { emit: () => undefined },
    logger: silentLogger,
    metrics: createAdmissionMetrics(registry),
  });

  before(async () => {
    const app = createApp({
      admission,
      onPush: () => [],
      hooks: { maxBodyBytes: 1024 },
      isReady: () => true,
      registry,
      logger: silentLogger,
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const post = async (
    path: string,
    body: NonNullable<RequestInit["body"]>,
    headers: Record<string, string> = { "content-type": "application/json" },
  ): Promise<{ status: number; type: string | null; json: Record<string, unknown> }> => {
    // A stream body needs duplex "half", which @types/node's RequestInit does not declare yet.
    const init: RequestInit & { duplex: "half" } = { method: "POST", headers, body, duplex: "half" };
    const res = await fetch(`${base}${path}`, init);
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      json: (await res.json()) as Record<string, unknown>,
    };
  };
  const denied = (json: Record<string, unknown>): boolean =>
    (json.response as { allowed: boolean } | undefined)?.allowed === false;

  void it("answers /validate and /mutate as kube-apiserver calls them, with its ?timeout query", async () => {
    const body = JSON.stringify(review({ a: "2" }));
    const validate = await post("/validate?timeout=5s", body);
    assert.equal(validate.status, 200);
    assert.equal(validate.type, "application/json; charset=utf-8");
    assert.ok(denied(validate.json));
    const mutate = await post("/mutate?timeout=5s", body);
    assert.deepEqual(mutate.json.response, { uid: "uid-1", allowed: true });
  });

  void it("reads chunked bodies, caps them at 3 MiB, and rejects what is not JSON like express.json did", async () => {
    const text = JSON.stringify(review({ a: "2" }));
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(text);
        for (let i = 0; i < bytes.length; i += 100) controller.enqueue(bytes.slice(i, i + 100));
        controller.close();
      },
    });
    assert.ok(denied((await post("/validate", chunked)).json));
    const big = await post("/validate", JSON.stringify({ pad: "x".repeat(3 * 1024 * 1024) }));
    assert.deepEqual([big.status, big.json.error], [413, "body larger than 3mb"]);
    for (const bad of ["{not json", "123", '"x"', "   "]) {
      const r = await post("/validate", bad);
      assert.deepEqual([r.status, r.json.error], [400, "body is not valid JSON"], bad);
    }
    const empty = await post("/validate", "");
    assert.equal(empty.status, 400);
    assert.match(
      String(empty.json.error),
      /invalid AdmissionReview: review must have required property 'apiVersion'/,
    );
    assert.ok(denied((await post("/validate", `\ufeff ${text}`)).json), "a UTF-8 byte-order mark is dropped");
  });

  void it("decodes compressed bodies, refuses non-UTF-8 ones, and leaves every other path to express", async () => {
    const text = JSON.stringify(review({ a: "2" }));
    const gzip = await post("/validate", gzipSync(text), {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    assert.ok(denied(gzip.json));
    const latin1 = await post("/validate", text, { "content-type": "application/json; charset=latin1" });
    assert.deepEqual([latin1.status, latin1.json.error], [400, 'unsupported charset "LATIN1"']);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/validate`)).status, 404, "GET is not an admission request");
    assert.equal(
      admission.serve({ method: "POST", url: "/hooks/git", headers: {} } as never, {} as never),
      false,
    );
  });

  void it("counts what it answered", async () => {
    const text = await registry.metrics();
    assert.match(text, /gitgate_admission_requests_total\{webhook="validate",verdict="denied"\} 4/);
    assert.match(text, /gitgate_admission_requests_total\{webhook="mutate",verdict="allowed"\} 1/);
    assert.match(text, /gitgate_admission_requests_total\{webhook="validate",verdict="error"\} 1/);
  });
});

void describe("admission transport: a break-glass member's kubectl scale", () => {
  const deployment: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "n", labels: { "gitgate.io/app": "g.a" } },
    spec: { replicas: 1 },
  };
  const key = "apps/Deployment/n/web";
  const deploymentEntry: DesiredEntry = {
    ...entry,
    key,
    ref: { group: "apps", kind: "Deployment", namespace: "n", name: "web" },
    object: deployment,
  };
  const SECRET = "shared";
  const until = new Date(Date.now() + 600_000);
  const windowed: KubeObject = {
    ...deployment,
    metadata: {
      ...deployment.metadata,
      annotations: {
        "gitgate.io/break-glass-reason": "INC-9",
        [LAST_CHANGE_ANNOTATION]: JSON.stringify({
          user: "dave",
          groups: ["oncall"],
          fields: [],
          time: new Date().toISOString(),
          breakGlass: signHold(SECRET, key, "dave", until, "INC-9"),
        }),
      },
    },
  };
  const scale = (replicas: number): KubeObject => ({
    apiVersion: "autoscaling/v1",
    kind: "Scale",
    metadata: { name: "web" },
    spec: { replicas },
  });
  const scaleReview = (groups: string[]): string =>
    JSON.stringify(
      admissionReview({
        uid: "scale-1",
        resource: { group: "apps", version: "v1", resource: "deployments" },
        subResource: "scale",
        namespace: "n",
        userInfo: { username: "dave", groups },
        object: scale(4),
        oldObject: scale(1),
      }),
    );

  async function answer(
    liveParent: () => Promise<KubeObject | undefined>,
    groups: string[],
  ): Promise<{ status: number; allowed: boolean; lookups: number }> {
    let lookups = 0;
    const app = createApp({
      admission: createAdmissionTransport({
        gate: gateOver(deploymentEntry),
        policy: () => ({
          selfUsername: "gitgate",
          exemptUsers: [],
          exemptGroups: [],
          defaultMode: "enforce",
          breakGlassGroups: ["oncall"],
          breakGlassMaxSeconds: 3600,
          breakGlassDefaultSeconds: 600,
          holdSecret: SECRET,
        }),
        alerts: { emit: () => undefined },
        logger: silentLogger,
        liveParent: () => {
          lookups++;
          return liveParent();
        },
      }),
      onPush: () => [],
      hooks: { maxBodyBytes: 1 << 20 },
      isReady: () => true,
      registry: new Registry(),
      logger: silentLogger,
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/validate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: scaleReview(groups),
      });
      const json = (await res.json()) as { response: { allowed: boolean } };
      return { status: res.status, allowed: json.response.allowed, lookups };
    } finally {
      server.close();
    }
  }

  void it("is admitted when the object, read asynchronously, carries an open window", async () => {
    assert.deepEqual(await answer(() => Promise.resolve(windowed), ["oncall"]), {
      status: 200,
      allowed: true,
      lookups: 1,
    });
  });

  void it("is denied, not failed, when the object cannot be read", async () => {
    assert.deepEqual(await answer(() => Promise.reject(new Error("API down")), ["oncall"]), {
      status: 200,
      allowed: false,
      lookups: 1,
    });
  });

  void it("reads nothing for someone outside the break-glass groups", async () => {
    assert.deepEqual(await answer(() => Promise.resolve(windowed), ["devs"]), {
      status: 200,
      allowed: false,
      lookups: 0,
    });
  });
});
