/**
 * Foundation: the real control plane starts, client-node talks to it, kube-apiserver really calls
 * a validating webhook served from this test, and two control planes run side by side.
 */
import { strict as assert } from "node:assert";
import { createServer, type Server } from "node:https";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { createCA, createServingCert } from "../src/certs/index.js";
import { startControlPlane, type ControlPlane } from "../src/testenv/controlplane.js";
import { kubectl, runKubectl } from "../src/testenv/kubectl.js";

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
}

describe("test control plane", () => {
  let cp: ControlPlane;
  let webhook: Server;
  const calls: Array<{ user: string; groups: string[]; operation: string; name: string }> = [];

  before(async () => {
    cp = await startControlPlane();
    const ca = createCA("gitgate-test-ca", 1);
    const serving = createServingCert(ca, ["localhost"], ["127.0.0.1"], 1);
    webhook = createServer({ cert: serving.cert, key: serving.key }, (req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        const review = JSON.parse(body) as {
          request: {
            uid: string;
            operation: string;
            name: string;
            userInfo: { username: string; groups?: string[] };
          };
        };
        const user = review.request.userInfo.username;
        calls.push({
          user,
          groups: review.request.userInfo.groups ?? [],
          operation: review.request.operation,
          name: review.request.name,
        });
        const allowed = user === "admin";
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            apiVersion: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            response: {
              uid: review.request.uid,
              allowed,
              status: allowed ? undefined : { code: 403, message: `test webhook says no to ${user}` },
            },
          }),
        );
      });
    });
    const port = await listen(webhook);
    const config = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: "test-deny-humans" },
      webhooks: [
        {
          name: "deny.test.gitgate.io",
          clientConfig: {
            url: `https://127.0.0.1:${port}/validate`,
            caBundle: Buffer.from(ca.cert).toString("base64"),
          },
          rules: [
            {
              apiGroups: [""],
              apiVersions: ["v1"],
              resources: ["configmaps"],
              operations: ["CREATE", "UPDATE"],
            },
          ],
          objectSelector: { matchLabels: { guarded: "yes" } },
          sideEffects: "None",
          admissionReviewVersions: ["v1"],
          timeoutSeconds: 5,
          failurePolicy: "Fail",
        },
      ],
    };
    await runKubectl(
      cp.binaries.kubectl,
      cp.kubeconfigs.admin ?? "",
      ["apply", "-f", "-"],
      JSON.stringify(config),
    );
  });

  after(async () => {
    webhook?.close();
    await cp?.stop();
  });

  it("serves client-node: a ConfigMap created is read back", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigs.admin ?? "");
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "hello" }, data: { greeting: "hi" } },
    });
    const read = await core.readNamespacedConfigMap({ namespace: "default", name: "hello" });
    assert.equal(read.data?.greeting, "hi");
  });

  it("calls the webhook: a human's kubectl write is denied with its message, admin's is allowed", async () => {
    const manifest = (name: string): string =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name, namespace: "default", labels: { guarded: "yes" } },
        data: { a: "1" },
      });
    const denied = await kubectl(
      cp.binaries.kubectl,
      cp.kubeconfigs.user ?? "",
      ["apply", "-f", "-"],
      manifest("by-alice"),
    );
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /admission webhook "deny.test.gitgate.io" denied the request: test webhook says no to alice/,
    );
    const allowed = await kubectl(
      cp.binaries.kubectl,
      cp.kubeconfigs.admin ?? "",
      ["apply", "-f", "-"],
      manifest("by-admin"),
    );
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.deepEqual(
      calls.map((c) => c.user),
      ["alice", "admin"],
    );
  });

  it("gives each identity its own username and groups, as kube-apiserver authenticates them", async () => {
    // kube-apiserver tells the webhook who is asking: each kubeconfig's token must authenticate as
    // its own user with its own groups (one token shared by all would show one name five times).
    const expected: Record<string, { user: string; groups: string[] }> = {
      admin: { user: "admin", groups: ["system:masters", "system:authenticated"] },
      user: { user: "alice", groups: ["system:authenticated"] },
      gitgate: {
        user: "system:serviceaccount:gitgate-system:gitgate",
        groups: ["system:serviceaccounts", "system:serviceaccounts:gitgate-system", "system:authenticated"],
      },
      oncall: { user: "bob", groups: ["sre-oncall", "system:authenticated"] },
      platform: { user: "carol", groups: ["platform-admins", "system:authenticated"] },
    };
    assert.deepEqual(Object.keys(cp.kubeconfigs).sort(), Object.keys(expected).sort());
    for (const [id, want] of Object.entries(expected)) {
      const name = `whoami-${id}`;
      const result = await kubectl(
        cp.binaries.kubectl,
        cp.kubeconfigs[id] ?? "",
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name, namespace: "default", labels: { guarded: "yes" } },
        }),
      );
      const call = calls.find((c) => c.name === name);
      assert.deepEqual({ user: call?.user, groups: call?.groups }, want, `identity ${id}`);
      if (want.user === "admin") assert.equal(result.code, 0, result.stderr);
      else
        assert.match(
          result.stderr,
          new RegExp(
            `admission webhook "deny.test.gitgate.io" denied the request: test webhook says no to ${want.user}\\b`,
          ),
        );
    }
    // RBAC sees the same names: alice is bound to cluster-admin, an unbound user is not.
    const alice = await runKubectl(cp.binaries.kubectl, cp.kubeconfigs.user ?? "", [
      "auth",
      "can-i",
      "delete",
      "secrets",
      "-n",
      "kube-system",
    ]);
    assert.equal(alice.trim(), "yes");
    const nobody = await kubectl(cp.binaries.kubectl, cp.kubeconfigs.user ?? "", [
      "get",
      "secrets",
      "-n",
      "kube-system",
      "--as=nobody",
    ]);
    assert.notEqual(nobody.code, 0);
    assert.match(
      nobody.stderr,
      /secrets is forbidden: User "nobody" cannot list resource "secrets" in API group "" in the namespace "kube-system"/,
    );
  });

  it("runs beside a second control plane and stops without leaving processes", async () => {
    const second = await startControlPlane({ controllerManager: false });
    try {
      assert.notEqual(second.server, cp.server);
      const ns = await runKubectl(second.binaries.kubectl, second.kubeconfigs.admin ?? "", [
        "get",
        "ns",
        "-o",
        "name",
      ]);
      assert.match(ns, /namespace\/default/);
    } finally {
      await second.stop();
    }
    const { readdir } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    assert.ok(!(await readdir(tmpdir())).includes(second.dir.split("/").pop() ?? ""), "data dir removed");
    const { execFileSync } = await import("node:child_process");
    const ps = execFileSync("ps", ["-eo", "args"]).toString();
    assert.ok(!ps.includes(second.dir), "no process of the stopped control plane remains");
  });
});
