import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { pinnedTools, type Tools } from "../testenv/tools.js";
import { render } from "./render.js";
import type { RenderResult } from "./types.js";

const repoDir = fileURLToPath(new URL("../../test/fixtures/render/", import.meta.url));
let tools: Tools;

before(async () => {
  tools = await pinnedTools();
});

const summary = (result: RenderResult): string[] =>
  result.objects.map(
    (o) => `${o.object.kind}/${o.object.metadata.name} ${o.file}${o.line ? `:${o.line}` : ""}`,
  );

void describe("render: plain directory", () => {
  void it("reads every yaml/yml/json file recursively in sorted order, with file and line", async () => {
    const result = await render({ repoDir, path: "plain", namespace: "guestbook" }, { tools: {} });
    assert.equal(result.kind, "directory");
    assert.deepEqual(summary(result), [
      "ConfigMap/guestbook-config plain/config/configmap.json:1",
      "Deployment/guestbook-ui plain/deployment.yaml:1",
      "ServiceAccount/guestbook-ui plain/rbac.yaml:3",
      "Role/guestbook-reader plain/rbac.yaml:8",
      "RoleBinding/guestbook-reader plain/rbac.yaml:18",
      "Service/guestbook-ui plain/service.yaml:1",
    ]);
    // YAML 1.2 core schema: a date-looking value stays a string, as kubectl would send it.
    assert.equal((result.objects[0]?.object.data as Record<string, unknown>).STARTED, "2024-01-01");
  });

  void it("is deterministic", async () => {
    const req = { repoDir, path: "plain", namespace: "guestbook" };
    assert.deepEqual(await render(req, { tools: {} }), await render(req, { tools: {} }));
  });
});

void describe("render: kustomize", () => {
  void it("builds an overlay over ../../base with a patch, a name prefix and labels", async () => {
    const result = await render({ repoDir, path: "kustomize/overlays/prod", namespace: "web" }, { tools });
    assert.equal(result.kind, "kustomize");
    assert.deepEqual(summary(result), [
      "Service/prod-web kustomize/overlays/prod",
      "Deployment/prod-web kustomize/overlays/prod",
    ]);
    const deployment = result.objects[1]?.object;
    assert.equal((deployment?.spec as { replicas: number }).replicas, 3);
    assert.deepEqual(deployment?.metadata.labels, { env: "prod" });
  });

  void it("uses a standalone kustomize when configured", async () => {
    // Stand-in for a kustomize binary: `kustomize build ARGS` is `kubectl kustomize ARGS`.
    const dir = await mkdtemp(join(tmpdir(), "gitgate-kustomize-"));
    const kustomize = join(dir, "kustomize");
    await writeFile(
      kustomize,
      `#!/bin/sh\n[ "$1" = build ] || exit 3\nshift\nexec ${tools.kubectl} kustomize "$@"\n`,
    );
    await chmod(kustomize, 0o755);
    try {
      const result = await render(
        { repoDir, path: "kustomize/base", namespace: "web" },
        { tools: { kustomize } },
      );
      assert.deepEqual(summary(result), ["Service/web kustomize/base", "Deployment/web kustomize/base"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

void describe("render: helm", () => {
  void it("templates the chart with value files and inline values, attributing objects to templates", async () => {
    const result = await render(
      {
        repoDir,
        path: "helm/guestbook",
        namespace: "guestbook",
        helm: { releaseName: "gb", valueFiles: ["values-prod.yaml"], values: { image: { tag: "0.3" } } },
      },
      { tools },
    );
    assert.equal(result.kind, "helm");
    assert.deepEqual(summary(result), [
      "Service/gb-guestbook helm/guestbook/templates/service.yaml",
      "Deployment/gb-guestbook helm/guestbook/templates/deployment.yaml",
    ]);
    const [service, deployment] = result.objects.map((o) => o.object);
    assert.equal((service?.spec as { ports: Array<{ port: number }> }).ports[0]?.port, 8080);
    const spec = deployment?.spec as {
      replicas: number;
      template: { spec: { containers: Array<{ image: string }> } };
    };
    assert.equal(spec.replicas, 2);
    assert.equal(spec.template.spec.containers[0]?.image, "gcr.io/heptio-images/ks-guestbook-demo:0.3");
    assert.equal(deployment?.metadata.labels?.["app.kubernetes.io/instance"], "gb");
  });

  void it("reads $values/ value files from the values checkout, confined to it", async () => {
    const values = await mkdtemp(join(tmpdir(), "gitgate-values-"));
    try {
      await writeFile(join(values, "prod.yaml"), "replicaCount: 4\n");
      const req = { repoDir, path: "helm/guestbook", namespace: "guestbook", valuesRepoDir: values };
      const result = await render({ ...req, helm: { valueFiles: ["$values/prod.yaml"] } }, { tools });
      const deployment = result.objects.find((o) => o.object.kind === "Deployment")?.object;
      assert.equal((deployment?.spec as { replicas: number }).replicas, 4);
      const refusals: Array<[typeof req | Omit<typeof req, "valuesRepoDir">, string, RegExp]> = [
        [req, "$values/../outside.yaml", /PathEscapesRepo|outside the repository/],
        [req, "$values/missing.yaml", /does not exist/],
        [
          { repoDir, path: "helm/guestbook", namespace: "guestbook" },
          "$values/prod.yaml",
          /no spec\.valuesFrom/,
        ],
      ];
      for (const [base, file, message] of refusals)
        await assert.rejects(render({ ...base, helm: { valueFiles: [file] } }, { tools }), message);
    } finally {
      await rm(values, { recursive: true, force: true });
    }
  });

  void it("defaults the release name to the app directory and uses the chart's own values", async () => {
    const result = await render({ repoDir, path: "helm/guestbook", namespace: "guestbook" }, { tools });
    const deployment = result.objects.find((o) => o.object.kind === "Deployment")?.object;
    assert.equal(deployment?.metadata.name, "guestbook-guestbook");
    assert.equal((deployment?.spec as { replicas: number }).replicas, 1);
  });
});
