/**
 * The chart source against real servers: a Helm repository (`helm package` + `helm repo index`,
 * served over HTTP and over HTTPS with a test CA and basic auth) and an OCI registry (Debian's
 * docker-registry, charts published with `helm push`). No cluster: what is fetched, resolved,
 * verified and refused.
 */
import { strict as assert } from "node:assert";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createCA, type PemPair } from "../src/certs/certs.js";
import { GitgateError } from "../src/errors.js";
import { createChartSource, type ChartSource } from "../src/source/chart/chart-source.js";
import {
  startChartRepo,
  startOciRegistry,
  type ChartRepo,
  type ChartSpec,
  type OciRegistry,
} from "../src/testenv/chart-repo.js";
import { pinnedTools } from "../src/testenv/tools.js";

const chart = (version: string): ChartSpec => ({
  name: "hello",
  version,
  files: {
    "values.yaml": "greeting: hi\n",
    "templates/cm.yaml":
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  version: {{ .Chart.Version | quote }}\n",
  },
});

async function refusal(work: Promise<unknown>): Promise<GitgateError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof GitgateError, `expected a GitgateError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a refusal");
}

void describe("chart source against a real Helm repository and a real OCI registry", () => {
  let helm: string;
  let ca: PemPair;
  let plain: ChartRepo;
  let secure: ChartRepo;
  let registry: OciRegistry;
  let cache: string;
  let n = 0;
  const source = (): ChartSource => createChartSource({ cacheRoot: join(cache, String(++n)) });
  const auth = { username: "reader", password: "s3cret-pass" };

  before(async () => {
    helm = (await pinnedTools()).helm ?? "";
    assert.ok(helm, "pinned helm");
    ca = createCA("gitgate test chart CA", 1);
    cache = await mkdtemp(join(tmpdir(), "gitgate-chart-cache-"));
    [plain, secure, registry] = await Promise.all([
      startChartRepo({ helm }),
      startChartRepo({ helm, auth, tlsCA: ca }),
      startOciRegistry({ helm }),
    ]);
    for (const v of ["1.0.0", "1.1.0", "2.0.0-rc.1"]) {
      await plain.publish(chart(v));
      await secure.publish(chart(v));
      await registry.publish(chart(v));
    }
  });
  after(async () => {
    await Promise.all([plain?.stop(), secure?.stop(), registry?.stop()]);
    await rm(cache, { recursive: true, force: true });
  });

  void it("resolves exact versions and ranges from index.yaml, unpacks the chart", async () => {
    const src = source();
    const exact = await src.resolve({ repoURL: plain.url, chart: "hello", revision: "1.0.0" });
    assert.equal(exact.commit, "1.0.0");
    assert.match(await readFile(join(exact.dir, "Chart.yaml"), "utf8"), /version: 1\.0\.0/);
    assert.match(await readFile(join(exact.dir, "templates", "cm.yaml"), "utf8"), /kind: ConfigMap/);
    assert.equal(
      (await src.resolve({ repoURL: plain.url, chart: "hello", revision: "1.x" })).commit,
      "1.1.0",
    );
    assert.equal(
      (await src.resolve({ repoURL: `${plain.url}/index.yaml`, chart: "hello", revision: "" })).commit,
      "1.1.0",
    );
    // Pre-releases only for a range that asks for them.
    assert.equal(
      (await src.resolve({ repoURL: plain.url, chart: "hello", revision: ">=2.0.0-0" })).commit,
      "2.0.0-rc.1",
    );
    const none = await refusal(src.resolve({ repoURL: plain.url, chart: "hello", revision: "^3" }));
    assert.equal(none.reason, "ChartVersionNotFound");
    assert.equal(none.class, "terminal");
    const missing = await refusal(src.resolve({ repoURL: plain.url, chart: "nope", revision: "1.0.0" }));
    assert.equal(missing.reason, "ChartNotFound");
  });

  void it("polling an unchanged index.yaml costs a 304; a republished index is read again", async () => {
    const repo = await startChartRepo({ helm });
    try {
      await repo.publish(chart("1.0.0"));
      const src = source();
      const resolve = (): Promise<{ commit: string }> =>
        src.resolve({ repoURL: repo.url, chart: "hello", revision: "^1" });
      assert.equal((await resolve()).commit, "1.0.0");
      assert.equal((await resolve()).commit, "1.0.0");
      const indexAnswers = (): number[] =>
        repo.requests.filter((r) => r.path === "/charts/index.yaml").map((r) => r.status);
      assert.deepEqual(indexAnswers(), [200, 304]);
      await repo.publish(chart("1.1.0"));
      assert.equal((await resolve()).commit, "1.1.0");
      assert.deepEqual(indexAnswers(), [200, 304, 200]);
    } finally {
      await repo.stop();
    }
  });

  void it("an exact version in the cache is served without asking the repository again", async () => {
    const src = source();
    await src.resolve({ repoURL: plain.url, chart: "hello", revision: "1.0.0" });
    const before = plain.requests.length;
    const again = await src.resolve({ repoURL: plain.url, chart: "hello", revision: "1.0.0" });
    assert.equal(again.commit, "1.0.0");
    assert.equal(plain.requests.length, before);
  });

  void it("the cache is bounded: the least recently used chart no request pins is deleted", async () => {
    const root = join(cache, `bounded-${++n}`);
    // Pins lapse at once here, so only the entry limit decides (pinning has its table test).
    const src = createChartSource({ cacheRoot: root, maxCacheEntries: 2, cachePinTtlMs: 0 });
    const get = (revision: string): Promise<{ dir: string }> =>
      src.resolve({ repoURL: plain.url, chart: "hello", revision });
    const first = await get("1.0.0");
    await get("1.1.0");
    assert.equal((await readdir(root)).length, 2);
    await get("2.0.0-rc.1");
    assert.equal((await readdir(root)).length, 2, "bounded at 2 entries");
    await assert.rejects(readFile(join(first.dir, "Chart.yaml")), "1.0.0, the least recently used, evicted");
    const archives = (): number => plain.requests.filter((r) => r.path === "/charts/hello-1.0.0.tgz").length;
    const before = archives();
    assert.match(await readFile(join((await get("1.0.0")).dir, "Chart.yaml"), "utf8"), /1\.0\.0/);
    assert.equal(archives(), before + 1, "an evicted chart is downloaded again");
    // A fresh source over the same directory counts what is on disk against its bound.
    const again = createChartSource({ cacheRoot: root, maxCacheEntries: 1, cachePinTtlMs: 0 });
    await again.resolve({ repoURL: plain.url, chart: "hello", revision: "1.1.0" });
    assert.equal((await readdir(root)).length, 1);
  });

  void it("HTTPS with a custom CA and basic auth: refused without them, fetched with them", async () => {
    const src = source();
    const noCa = await refusal(src.resolve({ repoURL: secure.url, chart: "hello", revision: "1.0.0" }));
    assert.equal(noCa.reason, "CertificateUntrusted");
    const noAuth = await refusal(
      src.resolve({
        repoURL: secure.url,
        chart: "hello",
        revision: "1.0.0",
        credentials: { caCert: ca.cert },
      }),
    );
    assert.equal(noAuth.reason, "AuthenticationFailed");
    assert.match(noAuth.message, /HTTP 401: authentication failed: it needs credentials/);
    const wrong = await refusal(
      src.resolve({
        repoURL: secure.url,
        chart: "hello",
        revision: "1.0.0",
        credentials: { ...auth, password: "wrong-password", caCert: ca.cert },
      }),
    );
    assert.equal(wrong.reason, "AuthenticationFailed");
    assert.doesNotMatch(wrong.message, /wrong-password/);
    const ok = await src.resolve({
      repoURL: secure.url,
      chart: "hello",
      revision: "~1.0",
      credentials: { ...auth, caCert: ca.cert },
    });
    assert.equal(ok.commit, "1.0.0");
    // index.yaml and the archive were both fetched with the credentials (200 after the 401s).
    assert.ok(secure.requests.some((r) => r.path.endsWith("hello-1.0.0.tgz") && r.status === 200));
    // The cached chart is not served to a request without those credentials (another GitApp's).
    const cachedForOthers = await refusal(
      src.resolve({
        repoURL: secure.url,
        chart: "hello",
        revision: "1.0.0",
        credentials: { caCert: ca.cert },
      }),
    );
    assert.equal(cachedForOthers.reason, "AuthenticationFailed");
  });

  void it("OCI: a range resolves over the registry's tags, the layer is digest-checked and unpacked", async () => {
    const src = source();
    const creds = undefined;
    const latest = await src.resolve({
      repoURL: registry.url,
      chart: "hello",
      revision: "^1",
      credentials: creds,
    });
    assert.equal(latest.commit, "1.1.0");
    assert.match(await readFile(join(latest.dir, "Chart.yaml"), "utf8"), /version: 1\.1\.0/);
    const exact = await src.resolve({
      repoURL: registry.url,
      chart: "hello",
      revision: "1.0.0",
      credentials: creds,
    });
    assert.equal(exact.commit, "1.0.0");
    const none = await refusal(
      src.resolve({ repoURL: registry.url, chart: "absent", revision: "1.0.0", credentials: creds }),
    );
    assert.equal(none.class, "terminal");
    assert.match(none.reason, /ChartNotFound/);
  });

  void it("credentials go to the repository's origin only, not to the host index.yaml points at", async () => {
    const [guarded, elsewhere] = await Promise.all([
      startChartRepo({ helm, auth }),
      startChartRepo({ helm }),
    ]);
    try {
      await elsewhere.publish(chart("1.0.0"));
      // The guarded repository's index names archives on another origin (absolute URLs).
      await writeFile(join(guarded.dir, "index.yaml"), await readFile(join(elsewhere.dir, "index.yaml")));
      const got = await source().resolve({
        repoURL: guarded.url,
        chart: "hello",
        revision: "1.0.0",
        credentials: auth,
      });
      assert.equal(got.commit, "1.0.0");
      assert.ok(
        guarded.requests.some(
          (r) => r.path === "/charts/index.yaml" && r.status === 200 && r.withAuthorization,
        ),
      );
      const archive = elsewhere.requests.filter((r) => r.path === "/charts/hello-1.0.0.tgz");
      assert.equal(archive.length, 1);
      assert.equal(archive[0]?.withAuthorization, false);
    } finally {
      await Promise.all([guarded.stop(), elsewhere.stop()]);
    }
  });

  void it("a chart archive that does not match index.yaml's digest is refused", async () => {
    const repo = await startChartRepo({ helm });
    try {
      await repo.publish(chart("1.0.0"));
      // Swap the archive for another build of the chart after indexing: same name, other bytes.
      const other = await startChartRepo({ helm });
      try {
        await other.publish({
          ...chart("1.0.0"),
          files: { ...chart("1.0.0").files, "values.yaml": "greeting: evil\n" },
        });
        const res = await fetch(`${other.url}/hello-1.0.0.tgz`);
        await writeFile(join(repoDir(repo), "hello-1.0.0.tgz"), Buffer.from(await res.arrayBuffer()));
      } finally {
        await other.stop();
      }
      const err = await refusal(source().resolve({ repoURL: repo.url, chart: "hello", revision: "1.0.0" }));
      assert.equal(err.reason, "ChartDigestMismatch");
    } finally {
      await repo.stop();
    }
  });
});

function repoDir(repo: ChartRepo): string {
  return repo.dir;
}
