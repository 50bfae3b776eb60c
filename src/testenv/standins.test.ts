import { strict as assert } from "node:assert";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { normalizedReference } from "./image.js";
import { STAND_INS, standInConfig } from "./standins.js";

const EXAMPLES = new URL("../../examples/apps", import.meta.url).pathname;

describe("stand-in images for the tour's apps", () => {
  it("carry exactly the image names the example manifests use (the manifests stay the real ones)", async () => {
    const guestbook = await readFile(join(EXAMPLES, "guestbook/deployment.yaml"), "utf8");
    const podinfo = await readFile(join(EXAMPLES, "podinfo/base/deployment.yaml"), "utf8");
    const echo = await readFile(join(EXAMPLES, "echo-chart/values.yaml"), "utf8");
    const echoImage = `${/repository: (\S+)/.exec(echo)?.[1]}:${/tag: "([^"]+)"/.exec(echo)?.[1]}`;
    const wanted = [/image: (\S+)/.exec(guestbook)?.[1], /image: (\S+)/.exec(podinfo)?.[1], echoImage];
    assert.deepEqual(
      STAND_INS.map((s) => s.image),
      wanted,
    );
    // Not :latest (always pulled): IfNotPresent finds them on the node.
    for (const s of STAND_INS) assert.doesNotMatch(s.image, /:latest$|^[^:]+$/);
  });

  const cases: Array<[string, string, string[], string]> = [
    ["guestbook", "gcr.io/heptio-images/ks-guestbook-demo:0.2", ["/guestbook"], "/"],
    // The manifest's command is ./podinfo, relative to the real image's working dir.
    ["podinfo", "ghcr.io/stefanprodan/podinfo:6.7.1", ["./podinfo"], "/home/app"],
    ["http-echo", "docker.io/hashicorp/http-echo:1.0", ["/http-echo"], "/"],
  ];
  for (const [name, reference, entrypoint, workingDir] of cases) {
    it(`${name}: ${reference}, entrypoint ${entrypoint.join(" ")} in ${workingDir}`, () => {
      const s = STAND_INS.find((x) => normalizedReference(x.image) === reference);
      assert.ok(s);
      const config = standInConfig(s, "sha256:abc") as {
        config: { Entrypoint: string[]; WorkingDir: string; Labels: Record<string, string> };
        rootfs: { diff_ids: string[] };
      };
      assert.deepEqual(config.config.Entrypoint, entrypoint);
      assert.equal(config.config.WorkingDir, workingDir);
      assert.equal(config.config.Labels["io.gitgate.stand-in"], "true");
      assert.deepEqual(config.rootfs.diff_ids, ["sha256:abc"]);
    });
  }
});
