import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { assetOptionsFromEnv, ensureBinaries, findBinaries } from "./assets.js";

const run = promisify(execFile);

void describe("control-plane binaries from KUBEBUILDER_ASSETS", () => {
  let scratch: string;
  let installed: Awaited<ReturnType<typeof findBinaries>>;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "gitgate-assets-test-"));
    // The binaries this machine's tests use (KUBEBUILDER_ASSETS, or the cache install-testenv.sh fills).
    installed = await findBinaries(assetOptionsFromEnv());
  });
  after(async () => rm(scratch, { recursive: true, force: true }));

  void it("reads KUBEBUILDER_ASSETS and GITGATE_CACHE, nothing else", () => {
    assert.deepEqual(assetOptionsFromEnv({ KUBEBUILDER_ASSETS: "/k/bin", GITGATE_CACHE: "/c", HOME: "/h" }), {
      kubebuilderAssets: "/k/bin",
      cacheDir: "/c",
    });
    // Without GITGATE_CACHE, the one default config/ sets: ~/.cache/gitgate.
    assert.deepEqual(assetOptionsFromEnv({ KUBEBUILDER_ASSETS: "", HOME: "/h" }), {
      kubebuilderAssets: undefined,
      cacheDir: "/h/.cache/gitgate",
    });
  });

  void it("takes etcd, kube-apiserver and kubectl from an envtest-style directory; the controller-manager is optional", async () => {
    const assets = join(scratch, "envtest");
    await mkdir(assets);
    await symlink(installed.etcd, join(assets, "etcd"));
    await symlink(installed.kubeApiserver, join(assets, "kube-apiserver"));
    await symlink(installed.kubectl, join(assets, "kubectl"));
    const found = await findBinaries({ kubebuilderAssets: assets, cacheDir: join(scratch, "unused-cache") });
    assert.deepEqual(found, {
      etcd: join(assets, "etcd"),
      kubeApiserver: join(assets, "kube-apiserver"),
      kubeControllerManager: undefined,
      kubectl: join(assets, "kubectl"),
    });
    // They are the real binaries: each runs.
    const { stdout } = await run(found.kubeApiserver, ["--version"]);
    assert.match(stdout, /^Kubernetes v1\.\d+/);
  });

  void it("when KUBEBUILDER_ASSETS lacks them, says what is missing and installs nothing", async () => {
    const empty = join(scratch, "empty");
    await mkdir(empty);
    const progress: string[] = [];
    await assert.rejects(
      ensureBinaries({ kubebuilderAssets: empty, cacheDir: join(scratch, "cache") }, (l) => progress.push(l)),
      (err: Error) => {
        assert.equal(
          err.message,
          `control-plane binaries missing: ${empty}/etcd, ${empty}/kube-apiserver, ${empty}/kubectl; ` +
            `KUBEBUILDER_ASSETS=${empty} must hold etcd, kube-apiserver and kubectl`,
        );
        return true;
      },
    );
    assert.deepEqual(progress, [], "the installer never ran");
  });
});
