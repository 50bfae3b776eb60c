import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { GitgateError } from "../errors.js";
import { pinnedTools, type Tools } from "../testenv/tools.js";
import { render } from "./render.js";
import type { RenderRequest } from "./types.js";

const fixtures = fileURLToPath(new URL("../../test/fixtures/render/", import.meta.url));
let tools: Tools;
let scratch = "";
let repo = "";
let outside = "";

before(async () => {
  tools = await pinnedTools();
});
// A fresh copy per test: symlinks are made here because Git checkouts cannot be relied on for them.
beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), "gitgate-contain-"));
  repo = join(scratch, "repo");
  outside = join(scratch, "outside");
  await cp(fixtures, repo, { recursive: true });
  await mkdir(outside);
  await writeFile(
    join(outside, "secret.yaml"),
    "apiVersion: v1\nkind: Secret\nmetadata: {name: stolen}\nstringData: {key: host-secret}\n",
  );
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function rejectsWith(
  req: Omit<RenderRequest, "repoDir" | "namespace">,
  reason: string,
  message: RegExp,
): Promise<void> {
  await assert.rejects(render({ repoDir: repo, namespace: "app", ...req }, { tools }), (err: unknown) => {
    assert.ok(err instanceof GitgateError, String(err));
    assert.equal(err.class, "terminal");
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    return true;
  });
}

void describe("containment: app path", () => {
  for (const path of ["..", "../outside", "plain/../../outside", "/etc"]) {
    void it(`refuses path ${path}`, () =>
      rejectsWith({ path }, "PathEscapesRepo", /is outside the repository/));
  }
  void it("refuses an app path that is a symlink out of the repo", async () => {
    await symlink(outside, join(repo, "evil"));
    await rejectsWith({ path: "evil" }, "PathEscapesRepo", /path evil resolves outside the repository/);
  });
  void it("names a missing path", () =>
    rejectsWith({ path: "apps/nope" }, "PathNotFound", /path apps\/nope does not exist/));
  void it("names a missing checkout", async () => {
    await assert.rejects(
      render({ repoDir: join(scratch, "gone"), path: ".", namespace: "app" }, { tools }),
      (err: unknown) => err instanceof GitgateError && err.reason === "PathNotFound",
    );
  });
});

void describe("containment: plain directories", () => {
  void it("refuses a manifest symlinked from outside the repo", async () => {
    await symlink(join(outside, "secret.yaml"), join(repo, "plain", "leak.yaml"));
    await rejectsWith({ path: "plain" }, "PathEscapesRepo", /symlink plain\/leak\.yaml points outside/);
  });
  void it("fails on a manifest symlink whose target inside the repo is gone, rather than dropping it", async () => {
    await symlink("../shared/renamed-away.yaml", join(repo, "plain", "zz-gone.yaml"));
    await rejectsWith(
      { path: "plain" },
      "PathNotFound",
      /symlink plain\/zz-gone\.yaml points to shared\/renamed-away\.yaml, which does not exist/,
    );
  });
  void it("follows symlinks that stay inside, attributing objects to the real file", async () => {
    await mkdir(join(repo, "shared"));
    await writeFile(
      join(repo, "shared", "cm.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n",
    );
    await symlink("../shared/cm.yaml", join(repo, "plain", "zz-shared.yaml"));
    const result = await render({ repoDir: repo, path: "plain", namespace: "app" }, { tools });
    assert.deepEqual(result.objects.map((o) => o.file).slice(-1), ["shared/cm.yaml"]);
  });
});

void describe("containment: helm", () => {
  const helm = { releaseName: "gb" };
  void it("refuses a value file outside the repo", () =>
    rejectsWith(
      { path: "helm/guestbook", helm: { ...helm, valueFiles: ["../../../outside/secret.yaml"] } },
      "PathEscapesRepo",
      /Helm value file \.\.\/\.\.\/\.\.\/outside\/secret\.yaml is outside the repository/,
    ));
  void it("refuses a value file symlinked out of the repo", async () => {
    await symlink(join(outside, "secret.yaml"), join(repo, "helm", "guestbook", "values-leak.yaml"));
    await rejectsWith(
      { path: "helm/guestbook", helm: { ...helm, valueFiles: ["values-leak.yaml"] } },
      "PathEscapesRepo",
      /symlink helm\/guestbook\/values-leak\.yaml points outside/,
    );
  });
  void it("refuses a chart with a symlink out of the repo (helm would follow it)", async () => {
    await symlink(join(outside, "secret.yaml"), join(repo, "helm", "guestbook", "templates", "leak.yaml"));
    await rejectsWith(
      { path: "helm/guestbook", helm },
      "PathEscapesRepo",
      /templates\/leak\.yaml points outside/,
    );
  });
  void it("names a missing value file", () =>
    rejectsWith(
      { path: "helm/guestbook", helm: { ...helm, valueFiles: ["values-staging.yaml"] } },
      "PathNotFound",
      /helm\/guestbook\/values-staging\.yaml does not exist/,
    ));
  void it("refuses a release name that could be read as a flag", () =>
    rejectsWith(
      { path: "helm/guestbook", helm: { releaseName: "--post-renderer=/bin/sh" } },
      "InvalidHelmRelease",
      /DNS label/,
    ));
});

void describe("containment: kustomize", () => {
  void it("refuses a symlink out of the repo anywhere in the repo", async () => {
    await symlink(outside, join(repo, "plain", "elsewhere"));
    await rejectsWith(
      { path: "kustomize/overlays/prod" },
      "PathEscapesRepo",
      /symlink plain\/elsewhere points outside/,
    );
  });
  void it("refuses a resource directory outside the repo", async () => {
    await writeFile(join(outside, "kustomization.yaml"), "resources: [secret.yaml]\n");
    await writeFile(
      join(repo, "kustomize", "overlays", "prod", "kustomization.yaml"),
      "resources:\n  - ../../base\n  - ../../../../outside\n",
    );
    await rejectsWith(
      { path: "kustomize/overlays/prod" },
      "PathEscapesRepo",
      /resources entry \.\.\/\.\.\/\.\.\/\.\.\/outside is outside/,
    );
  });
  void it("refuses transformers, generators and validators outside the repo", async () => {
    await writeFile(join(outside, "kustomization.yaml"), "resources: [secret.yaml]\n");
    for (const field of ["transformers", "generators", "validators"]) {
      await writeFile(
        join(repo, "kustomize", "overlays", "prod", "kustomization.yaml"),
        `resources:\n  - ../../base\n${field}:\n  - ../../../../outside\n`,
      );
      await rejectsWith(
        { path: "kustomize/overlays/prod" },
        "PathEscapesRepo",
        new RegExp(`${field} entry \\.\\./\\.\\./\\.\\./\\.\\./outside is outside`),
      );
    }
  });
  void it("refuses remote files in generators and patches (kustomize would fetch them)", async () => {
    const cases: Array<[string, string]> = [
      [
        "configMapGenerator:\n  - name: c\n    files: [data=http://127.0.0.1:1/data]\n",
        "configMapGenerator.files",
      ],
      ["secretGenerator:\n  - name: s\n    envs: [https://example.com/env]\n", "secretGenerator.envs"],
      ["patches:\n  - path: https://example.com/p.yaml\n", "patches.path"],
      ["configurations:\n  - http://127.0.0.1:1/c.yaml\n", "configurations"],
      ["crds:\n  - http://127.0.0.1:1/crd.json\n", "crds"],
      ["openapi:\n  path: http://127.0.0.1:1/o.json\n", "openapi.path"],
    ];
    for (const [snippet, field] of cases) {
      await writeFile(
        join(repo, "kustomize", "overlays", "prod", "kustomization.yaml"),
        `resources:\n  - ../../base\n${snippet}`,
      );
      await rejectsWith(
        { path: "kustomize/overlays/prod" },
        "RemoteResourceNotAllowed",
        new RegExp(`${field.replace(".", "\\.")} entry \\S+ is remote`),
      );
    }
  });
  void it("refuses remote bases", async () => {
    await writeFile(
      join(repo, "kustomize", "overlays", "prod", "kustomization.yaml"),
      "resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.5.0\n",
    );
    await rejectsWith(
      { path: "kustomize/overlays/prod" },
      "RemoteResourceNotAllowed",
      /vendor it into the repository/,
    );
  });
  void it("lets kustomize's root-only restrictor refuse patch files outside the kustomization", async () => {
    await writeFile(
      join(repo, "kustomize", "overlays", "prod", "kustomization.yaml"),
      "resources: [../../base]\npatches:\n  - path: ../../base/deployment.yaml\n",
    );
    await rejectsWith(
      { path: "kustomize/overlays/prod" },
      "RenderFailed",
      /kustomize failed .*not in or below/s,
    );
  });
});
