/**
 * 10,000 hostile AdmissionReviews through the real HTTPS server (createApp + listenHttps, as the
 * runtime serves them): bad JSON, wrong types, huge and deep values, duplicate keys, escapes, odd
 * headers. Seeded, so a failure reproduces. Asserts zero 5xx and that the server keeps answering;
 * reports the p99 answer time (not asserted: it measures the machine as much as gitgate).
 */
import assert from "node:assert/strict";
import { admissionReview } from "../testenv/admission-client.js";
import { Agent, request as httpsRequest } from "node:https";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { Registry } from "prom-client";
import { createCA, createServingCert } from "../certs/certs.js";
import { silentLogger } from "../log/logger.js";
import type { DesiredEntry, DesiredIndexReader } from "../manifest/desired.js";
import type { KubeObject } from "../manifest/object.js";
import { createApp } from "../server/app.js";
import { listenHttps, type HttpsListener } from "../server/https.js";
import { createAdmissionTransport } from "../server/admission-http.js";
import type { AdmissionPolicy } from "./types.js";

const SEED = 1313;
const REQUESTS = 10_000;
const IN_FLIGHT = 4;

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const managed = (kind: string, name: string, body: Record<string, unknown>): KubeObject => ({
  apiVersion: kind === "Deployment" ? "apps/v1" : "v1",
  kind,
  metadata: { name, namespace: "n", labels: { "gitgate.io/app": "g.a" } },
  ...body,
});
const OBJECTS: KubeObject[] = [
  managed("ConfigMap", "c", { data: { a: "1", b: "two" } }),
  managed("Secret", "s", { data: { k: "dg==" } }),
  managed("Deployment", "web", {
    spec: { replicas: 2, template: { spec: { containers: [{ name: "a", image: "b" }] } } },
  }),
];
const ENTRIES = new Map<string, DesiredEntry>(
  OBJECTS.map((object, i) => {
    const group = object.apiVersion === "apps/v1" ? "apps" : "";
    const key = `${group}/${object.kind}/n/${object.metadata.name ?? ""}`;
    return [
      key,
      {
        key,
        ref: { group, kind: object.kind, namespace: "n", name: object.metadata.name ?? "" },
        object,
        app: { namespace: "g", name: "a" },
        source: { repoURL: "https://u:p@r", path: ".", file: "f.yaml", commit: "c".repeat(40) },
        mode: (["enforce", "warn", "audit"] as const)[i % 3] ?? "enforce",
        ignore: [{ jsonPointers: ["/data/b"] }],
      },
    ];
  }),
);
const index: DesiredIndexReader = { get: (key) => ENTRIES.get(key), isComplete: () => true };
const policy: AdmissionPolicy = {
  selfUsername: "gitgate",
  exemptUsers: ["root"],
  exemptGroups: [],
  defaultMode: "enforce",
  breakGlassGroups: ["oncall"],
  breakGlassMaxSeconds: 3600,
  breakGlassDefaultSeconds: 600,
  holdSecret: "s3cret",
};

interface Sent {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** The generator of hostile requests; `rand` drives every choice. */
function hostile(rand: () => number): () => Sent {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const int = (max: number): number => Math.floor(rand() * max);
  const nested = (levels: number): string =>
    rand() < 0.5
      ? `${"[".repeat(levels)}1${"]".repeat(levels)}`
      : `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
  const strings = [
    "",
    "__proto__",
    "constructor",
    "gitgate.io/app",
    "gitgate.io/break-glass-reason",
    "bearer" + " ".repeat(48_000),
    "password:" + " ".repeat(20_000) + "x",
    "-eyJ".repeat(5000),
    "\u0000\u001f\u007f\n\r",
    "\ud800",
    "a".repeat(3000),
    "https://u:p@h/x",
  ];
  const scalars: unknown[] = [null, true, false, 0, -1, 1e308, 3.5, "1", ...strings];
  const randomValue = (depth: number): unknown => {
    const r = rand();
    if (depth > 4 || r < 0.4) return pick(scalars);
    if (r < 0.7) return Array.from({ length: int(4) }, () => randomValue(depth + 1));
    return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(strings), randomValue(depth + 1)]));
  };
  const object = (): Record<string, unknown> => structuredClone(pick(OBJECTS));
  const review = (): Record<string, unknown> => {
    const obj = object();
    const meta = obj.metadata as Record<string, unknown>;
    const kind = obj.kind as string;
    const group = obj.apiVersion === "apps/v1" ? "apps" : "";
    const old = object();
    return {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: `u-${int(1e9)}`,
        kind: { group, version: "v1", kind },
        resource: { group, version: "v1", resource: `${kind.toLowerCase()}s` },
        ...(rand() < 0.1 ? { subResource: pick(["scale", "status", "exec"]) } : {}),
        name: meta.name,
        namespace: "n",
        operation: pick(["CREATE", "UPDATE", "UPDATE", "DELETE", "CONNECT"]),
        userInfo: {
          username: pick(["bob", "gitgate", "root", "eve"]),
          groups: rand() < 0.3 ? ["oncall"] : [],
        },
        object: obj,
        oldObject: kind === old.kind ? old : obj,
        dryRun: rand() < 0.2,
      },
    };
  };
  /** Sets a random field (mostly inside the objects, which reach decide()) to a random value. */
  const mutate = (node: unknown, depth = 0): void => {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 0) return;
    const key = pick(keys);
    const child = (node as Record<string, unknown>)[key];
    if (child && typeof child === "object" && !Array.isArray(child) && rand() < 0.7 && depth < 6)
      mutate(child, depth + 1);
    else if (rand() < 0.2) delete (node as Record<string, unknown>)[key];
    else (node as Record<string, unknown>)[key] = randomValue(0);
  };
  const withValue = (value: string): string => {
    // A declared field of a managed object, so the value reaches the diff and the message.
    const r = review();
    const request = r.request as Record<string, unknown>;
    const target = rand() < 0.5 ? "object" : "oldObject";
    (request[target] as Record<string, unknown>).data = { a: "PLACEHOLDER" };
    return JSON.stringify(r).replace('"PLACEHOLDER"', value);
  };
  const kinds: Array<[weight: number, make: () => string]> = [
    [20, () => JSON.stringify(review())],
    [
      25,
      () => {
        const r = review();
        for (let m = 0; m <= int(4); m++) mutate(rand() < 0.8 ? r.request : r);
        return JSON.stringify(r);
      },
    ],
    // Bad JSON: cut, spliced, garbage, other top-level values.
    [
      10,
      () => {
        const text = JSON.stringify(review());
        return pick([
          () => text.slice(0, int(text.length)),
          () =>
            `${text.slice(0, int(text.length))}${pick(["}", "]", '"', ",", "\\", "\u0000"])}${text.slice(int(text.length))}`,
          () => pick(["", " ", "null", "1", '"x"', "[]", "[{}]", "{", "}", "{not json", "\ufeff{}", "NaN"]),
          () => Buffer.from(Array.from({ length: int(200) }, () => int(256))).toString("latin1"),
        ])();
      },
    ],
    // Huge values: long strings (hostile to redaction), many keys, long arrays.
    [
      2,
      () =>
        withValue(
          JSON.stringify(
            pick([
              () => `bearer${" ".repeat(200_000 + int(800_000))}`,
              () => "-eyJ".repeat(50_000 + int(200_000)),
              () => "a.".repeat(100_000 + int(400_000)),
            ])(),
          ),
        ),
    ],
    [
      2,
      () =>
        withValue(
          rand() < 0.5
            ? `{${Array.from({ length: 20_000 + int(40_000) }, (_, i) => `"k${i}":${i}`).join(",")}}`
            : `[${Array.from({ length: 50_000 + int(100_000) }, (_, i) => i).join(",")}]`,
        ),
    ],
    // Deep values, in a declared field, or anywhere in the review.
    [8, () => withValue(nested(pick([100, 511, 512, 513, 2000, 6000, 20_000, 100_000])))],
    [
      3,
      () =>
        JSON.stringify(review()).replace(
          pick(['"dryRun":', '"namespace":"n"', '"userInfo":']),
          (m) => `"deep":${nested(pick([6000, 50_000]))},${m}`,
        ),
    ],
    // Duplicate keys, where they matter: uid, request, operation, labels, managedFields.
    [
      10,
      () => {
        const text = JSON.stringify(review());
        return pick([
          () => text.replace('"uid":', '"uid":7,"uid":'),
          () =>
            text.replace(
              '"operation":',
              `"operation":${JSON.stringify(pick(["PATCH", 1, null]))},"operation":`,
            ),
          () => text.replace('"request":{', '"request":{},"request":{'),
          () => text.replace('"labels":{', '"labels":{"gitgate.io/app":1,'),
          () => text.replace('"metadata":{', '"metadata":{"managedFields":[{"a":"]"}],"managedFields":[],'),
          () =>
            text.replace(
              '"metadata":{',
              `"metadata":{"managedFields":[${pick(["{", '"\\"', "]]", '"x"'])}],`,
            ),
          () => text.replace('"kind":"AdmissionReview"', '"kind":"AdmissionReview","kind":"Other"'),
        ])();
      },
    ],
    // Escapes: in keys (the decode fast path matches raw text), lone surrogates, NULs.
    [
      10,
      () => {
        const text = JSON.stringify(review());
        return pick([
          () => text.replace('"metadata":{', '"metadata":{"man\\u0061gedFields":[{"x":1}],'),
          () => text.replace('"name":', '"n\\u0061me":'),
          () => text.replace('"username":"', '"username":"\\ud800\\u0000'),
          () => text.replace('"uid":"', '"uid":"\\"\\\\'),
          () => text.replace('"data":{', '"data":{"\\u005f\\u005fproto__":{"x":1},'),
          () => text.replace('"namespace":"n"', '"namespace":"n\\u0000"'),
          () => text.replace('"metadata":{', '"metadata":{"managedFields\\":[":1,'),
        ])();
      },
    ],
  ];
  const total = kinds.reduce((sum, [w]) => sum + w, 0);
  return () => {
    let r = rand() * total;
    const make = kinds.find(([w]) => (r -= w) < 0)?.[1] ?? (kinds[0] as [number, () => string])[1];
    let body = Buffer.from(make(), "utf8");
    const headers: Record<string, string> = {
      "content-type": pick([
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/json; charset=latin1",
        "application/json; charset=utf-16",
        "",
      ]),
    };
    if (!headers["content-type"]) delete headers["content-type"];
    const encoding = rand();
    if (encoding < 0.05) {
      body = gzipSync(body);
      headers["content-encoding"] = "gzip";
    } else if (encoding < 0.07) headers["content-encoding"] = pick(["gzip", "br", "x-unknown"]);
    if (rand() < 0.02) body = Buffer.concat([body, Buffer.alloc(3 * 1024 * 1024, 0x20)]);
    const path = pick(["/validate", "/mutate", "/validate?timeout=10s", "/MUTATE/", "/validate/"]);
    return { path, headers, body };
  };
}

void describe("hostile AdmissionReviews through the HTTPS server", () => {
  let listener: HttpsListener;
  let agent: Agent;
  const ca = createCA("fuzz-ca", 1);
  const serving = createServingCert(ca, ["localhost"], ["127.0.0.1"], 1);

  before(async () => {
    const app = createApp({
      admission: createAdmissionTransport({
        gate: { index, recordAdmittedChange: () => undefined },
        policy: () => policy,
        alerts: { emit: () => undefined },
        logger: silentLogger,
        liveParent: (entry: DesiredEntry) => entry.object,
      }),
      onPush: () => [],
      hooks: { maxBodyBytes: 1024 },
      isReady: () => true,
      registry: new Registry(),
      logger: silentLogger,
    });
    listener = await listenHttps(app, "127.0.0.1", 0, serving);
    agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, ca: ca.cert });
  });
  after(async () => {
    agent.destroy();
    await listener.close();
  });

  const send = (sent: Sent): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: listener.port,
          path: sent.path,
          method: "POST",
          agent,
          headers: { ...sent.headers, "content-length": String(sent.body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(sent.body);
    });

  void it(`answers ${REQUESTS} hostile reviews (seed ${SEED}) without a 5xx or a crash`, async () => {
    const next = hostile(prng(SEED));
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const times: number[] = [];
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (issued < REQUESTS) {
        const n = issued++;
        const sent = next();
        const started = process.hrtime.bigint();
        const { status, body } = await send(sent);
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 500 || status === 0)
          failures.push(
            `#${n} ${sent.path} ${status} ${body.slice(0, 200)} <- ${sent.body.toString().slice(0, 200)}`,
          );
        else if (status === 200) {
          const response = (JSON.parse(body) as { response?: { allowed?: unknown } }).response;
          if (typeof response?.allowed !== "boolean")
            failures.push(`#${n} 200 without a verdict: ${body.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    times.sort((a, b) => a - b);
    const p = (q: number): string =>
      (times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0).toFixed(1);
    console.log(
      `fuzz: ${times.length} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ` +
        `answer time p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms`,
    );
    assert.deepEqual(failures.slice(0, 10), []);
    assert.equal(times.length, REQUESTS);
    assert.ok((statuses.get(200) ?? 0) > REQUESTS / 4, "too few reviews reached the decision");
  });

  void it("still answers a plain review correctly afterwards", async () => {
    const object = structuredClone(OBJECTS[0]) as KubeObject & { data: Record<string, string> };
    object.data.a = "changed";
    const { status, body } = await send({
      path: "/validate",
      headers: { "content-type": "application/json" },
      body: Buffer.from(
        JSON.stringify(
          admissionReview({ uid: "last", userInfo: { username: "bob" }, object, oldObject: OBJECTS[0] }),
        ),
      ),
    });
    assert.equal(status, 200);
    assert.deepEqual(
      (JSON.parse(body) as { response: { uid: string; allowed: boolean } }).response.allowed,
      false,
    );
  });
});
