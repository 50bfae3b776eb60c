import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { GitgateError } from "../errors.js";
import { pinnedTools, type Tools } from "../testenv/tools.js";
import { render } from "./render.js";
import type { RenderOptions, RenderRequest } from "./types.js";

const fixtures = fileURLToPath(new URL("../../test/fixtures/render/", import.meta.url));
let tools: Tools;
let scratch = "";

before(async () => {
  tools = await pinnedTools();
  scratch = await mkdtemp(join(tmpdir(), "gitgate-limits-"));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A stand-in for helm: a shell script (run with the sandbox env, so only absolute commands). */
async function fakeHelm(name: string, body: string): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

async function rejectsWith(
  req: Partial<RenderRequest> & { path: string },
  opts: RenderOptions,
  reason: string,
  message: RegExp,
): Promise<GitgateError> {
  let caught: GitgateError | undefined;
  await assert.rejects(render({ repoDir: fixtures, namespace: "app", ...req }, opts), (err: unknown) => {
    assert.ok(err instanceof GitgateError, String(err));
    assert.equal(err.class, "terminal");
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    caught = err;
    return true;
  });
  return caught as GitgateError;
}

void describe("render limits and failures", () => {
  void it("names file:line of broken YAML", async () => {
    // Made here rather than committed: prettier --check would choke on a broken fixture.
    const repoDir = join(scratch, "broken-repo");
    await mkdir(join(repoDir, "apps", "broken"), { recursive: true });
    const fine = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  a: "1"\n';
    const broken =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  key: value\n   bad: indentation\n";
    await writeFile(join(repoDir, "apps", "broken", "configmap.yaml"), `${fine}---\n${broken}`);
    await rejectsWith(
      { repoDir, path: "apps/broken" },
      { tools },
      "InvalidManifest",
      /^apps\/broken\/configmap\.yaml:14: bad indentation of a mapping entry \(column 7\)$/,
    );
  });

  void it("refuses a manifest larger than maxFileBytes", async () => {
    await rejectsWith(
      { path: "plain" },
      { tools, maxFileBytes: 200 },
      "ManifestTooLarge",
      /^plain\/deployment\.yaml is \d+ bytes/,
    );
  });

  void it("caps the total size of a directory", async () => {
    await rejectsWith(
      { path: "plain" },
      { tools, maxOutputBytes: 1000 },
      "RenderOutputTooLarge",
      /exceed 1000 bytes/,
    );
  });

  void it("caps the number of objects", async () => {
    await rejectsWith({ path: "plain" }, { tools, maxObjects: 3 }, "TooManyObjects", /more than 3 objects/);
    await rejectsWith(
      { path: "helm/guestbook" },
      { tools, maxObjects: 1 },
      "TooManyObjects",
      /renders 2 objects/,
    );
  });

  void it("caps tool output", async () => {
    await rejectsWith(
      { path: "kustomize/overlays/prod" },
      { tools, maxOutputBytes: 100 },
      "RenderOutputTooLarge",
      /more than 100 bytes/,
    );
  });

  void it("kills a tool that runs past the timeout", async () => {
    const pidFile = join(scratch, "slow.pid");
    const helm = await fakeHelm("slow-helm", `echo $$ > ${pidFile}\nexec /bin/sleep 30`);
    const started = Date.now();
    await rejectsWith(
      { path: "helm/guestbook" },
      { tools: { helm }, timeoutMs: 300 },
      "RenderTimeout",
      /within 300 ms/,
    );
    assert.ok(Date.now() - started < 5000);
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    // The killed child is reaped asynchronously; give it a moment before declaring it still alive.
    const isAlive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 40 && isAlive(); i++) await sleep(50);
    assert.equal(isAlive(), false, "the tool process is gone");
  });

  void it("reports a failing tool's stderr, repo-relative and redacted", async () => {
    const helm = await fakeHelm(
      "failing-helm",
      `echo "Error: cannot read $(pwd)/values.yaml: password=hunter2 at https://bot:tok3n@git.example.com" >&2\nexit 1`,
    );
    const err = await rejectsWith(
      { path: "helm/guestbook" },
      { tools: { helm } },
      "RenderFailed",
      /helm template failed \(exit code 1\)/,
    );
    assert.match(err.message, /cannot read helm\/guestbook\/values\.yaml/);
    assert.doesNotMatch(err.message, /hunter2|tok3n/);
  });

  void it("reports a real helm template error", async () => {
    await rejectsWith(
      { path: "helm/guestbook", helm: { values: { image: "not-a-map" } } },
      { tools },
      "RenderFailed",
      /helm template failed .*guestbook\/templates\/deployment\.yaml/s,
    );
  });

  void it("runs tools in a sandbox: own HOME, no PATH, no proxy escape, scratch removed afterwards", async () => {
    const helm = await fakeHelm(
      "env-helm",
      [
        "echo 'apiVersion: v1'",
        "echo 'kind: ConfigMap'",
        "echo 'metadata: {name: env}'",
        "echo 'data:'",
        `echo "  home: '$HOME'"`,
        `echo "  path: '$PATH'"`,
        `echo "  proxy: '$HTTPS_PROXY'"`,
        `echo "  args: '$*'"`,
      ].join("\n"),
    );
    const result = await render(
      {
        repoDir: fixtures,
        path: "helm/guestbook",
        namespace: "app",
        helm: { releaseName: "gb", values: { a: 1 } },
      },
      { tools: { helm }, tmpDir: scratch },
    );
    const data = result.objects[0]?.object.data as Record<string, string>;
    const home = data.home ?? "";
    assert.ok(home.startsWith(join(scratch, "gitgate-render-")), home);
    assert.equal(data.path, join(home, "bin"));
    assert.equal(data.proxy, "http://127.0.0.1:9");
    assert.match(
      data.args ?? "",
      /^template gb \/.*\/helm\/guestbook --namespace=app --include-crds --skip-tests --values=\/.*inline-values\.json$/,
    );
    await assert.rejects(stat(home), /ENOENT/);
  });

  void it("refuses to render Helm or Kustomize without the binary", async () => {
    await rejectsWith({ path: "helm/guestbook" }, { tools: {} }, "ToolNotFound", /no helm binary/);
    await rejectsWith({ path: "kustomize/base" }, { tools: {} }, "ToolNotFound", /no kubectl or kustomize/);
  });
});

void describe("render cancellation", () => {
  void it("aborts a running tool as a transient error", async () => {
    const helm = await fakeHelm("abort-helm", "exec /bin/sleep 30");
    const controller = new AbortController();
    const pending = render(
      { repoDir: fixtures, path: "helm/guestbook", namespace: "app" },
      { tools: { helm }, signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(
      pending,
      (err: unknown) =>
        err instanceof GitgateError && err.class === "transient" && err.reason === "RenderAborted",
    );
  });
});
