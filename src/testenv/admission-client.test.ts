import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { createCA, createServingCert } from "../certs/certs.js";
import { admissionReview, call, openRequest, postReview, type ReviewRequest } from "./admission-client.js";

const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "n" } };

void describe("admissionReview", () => {
  // Each review as the tests spelled it out before they shared this builder, key for key.
  const cases: Array<[name: string, given: ReviewRequest, want: unknown]> = [
    [
      "a CREATE: kind, resource, name and namespace from the object",
      { uid: "in-flight-1", userInfo: { username: "alice" }, object: configMap },
      {
        uid: "in-flight-1",
        kind: { group: "", version: "v1", kind: "ConfigMap" },
        resource: { group: "", version: "v1", resource: "configmaps" },
        name: "c",
        namespace: "n",
        operation: "CREATE",
        userInfo: { username: "alice" },
        object: configMap,
      },
    ],
    [
      "an UPDATE when there is an oldObject; a grouped kind",
      {
        userInfo: { username: "bob", groups: ["oncall"] },
        object: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "n" } },
        oldObject: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "n" } },
        dryRun: true,
      },
      {
        uid: "uid-1",
        kind: { group: "apps", version: "v1", kind: "Deployment" },
        resource: { group: "apps", version: "v1", resource: "deployments" },
        name: "web",
        namespace: "n",
        operation: "UPDATE",
        userInfo: { username: "bob", groups: ["oncall"] },
        object: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "n" } },
        oldObject: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "n" } },
        dryRun: true,
      },
    ],
    [
      "a DELETE names the oldObject",
      { operation: "DELETE", userInfo: { username: "eve" }, object: null, oldObject: configMap },
      {
        uid: "uid-1",
        kind: { group: "", version: "v1", kind: "ConfigMap" },
        resource: { group: "", version: "v1", resource: "configmaps" },
        name: "c",
        namespace: "n",
        operation: "DELETE",
        userInfo: { username: "eve" },
        object: null,
        oldObject: configMap,
      },
    ],
    [
      "a scale subresource: kind and resource as given",
      {
        kind: { group: "autoscaling", version: "v1", kind: "Scale" },
        resource: { group: "apps", version: "v1", resource: "deployments" },
        subResource: "scale",
        name: "web",
        namespace: "n",
        userInfo: { username: "dave" },
        object: { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: "web" } },
        oldObject: { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: "web" } },
      },
      {
        uid: "uid-1",
        kind: { group: "autoscaling", version: "v1", kind: "Scale" },
        resource: { group: "apps", version: "v1", resource: "deployments" },
        subResource: "scale",
        name: "web",
        namespace: "n",
        operation: "UPDATE",
        userInfo: { username: "dave" },
        object: { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: "web" } },
        oldObject: { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: "web" } },
      },
    ],
  ];
  for (const [name, given, want] of cases)
    void it(name, () => {
      const review = admissionReview(given);
      // Same keys in the same order: JSON text is what a server reads.
      assert.equal(
        JSON.stringify(review),
        JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: want }),
      );
    });
});

void describe("requests to a webhook server", () => {
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage["headers"]; body: string }> =
    [];
  const echo = (req: IncomingMessage, res: ServerResponse): void => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(req.url === "/missing" ? 404 : 200, { "x-echo": "yes" }).end(`got ${body.length}`);
    });
  };
  const ca = createCA("client-test-ca", 1);
  const serving = createServingCert(ca, ["localhost"], ["127.0.0.1"], 1);
  const https = createHttpsServer({ key: serving.key, cert: serving.cert }, echo);
  const http = createHttpServer(echo);
  const base = (server: Server, scheme: string): string =>
    `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  before(async () => {
    for (const server of [https, http])
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  });
  after(() => {
    https.close();
    http.close();
  });

  void it("posts a review as JSON over HTTPS with the server's CA, and reads the whole answer", async () => {
    const review = admissionReview({ userInfo: { username: "alice" }, object: configMap });
    const answer = await postReview(`${base(https, "https")}/validate`, review, { ca: ca.cert });
    assert.deepEqual(
      [answer.status, answer.headers["x-echo"], answer.body],
      [200, "yes", `got ${JSON.stringify(review).length}`],
    );
    const got = seen.at(-1);
    assert.deepEqual(
      [got?.method, got?.url, got?.headers["content-type"], got?.headers["content-length"], got?.body],
      [
        "POST",
        "/validate",
        "application/json",
        String(JSON.stringify(review).length),
        JSON.stringify(review),
      ],
    );
  });

  void it("sends a malformed body as it is, with the caller's headers", async () => {
    const body = Buffer.from([0xff, 0xfe, 0x00, 0x7b]);
    const answer = await postReview(`${base(http, "http")}/mutate`, body, {
      headers: { "content-type": "text/plain" },
    });
    assert.equal(answer.status, 200);
    const got = seen.at(-1);
    assert.deepEqual([got?.headers["content-type"], got?.headers["content-length"]], ["text/plain", "4"]);
  });

  void it("GETs, and reports a status other than 200 as it is", async () => {
    const answer = await call(`${base(http, "http")}/missing`);
    assert.deepEqual([answer.status, answer.body, seen.at(-1)?.method], [404, "got 0", "GET"]);
  });

  void it("lets the caller send the body in parts", async () => {
    const { req, answer } = openRequest(`${base(https, "https")}/validate`, {
      method: "POST",
      ca: ca.cert,
      agent: false,
      headers: { "content-length": 6, expect: "100-continue" },
    });
    await new Promise<void>((resolve) => {
      req.once("continue", () => resolve());
      req.flushHeaders();
    });
    req.write("abc");
    req.end("def");
    assert.equal((await answer).body, "got 6");
    assert.equal(seen.at(-1)?.body, "abcdef");
  });

  void it("rejects when the server's certificate is not from the given CA, or nobody listens", async () => {
    const other = createCA("other-ca", 1);
    await assert.rejects(call(`${base(https, "https")}/validate`, { ca: other.cert }));
    const closed = createHttpServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", () => resolve()));
    const url = base(closed, "http");
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(call(url));
  });
});
