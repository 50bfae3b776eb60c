/** Out-of-cluster conveniences: the GitApp and GitAppSet CRDs and gitgate's namespace, created when missing. */
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import type { ClusterClient } from "../cluster/client.js";
import type { Logger } from "../log/logger.js";
import { FIELD_MANAGER } from "../manifest/labels.js";
import { isKubeObject, type KubeObject } from "../manifest/object.js";

/** The package root, from src/cli (tsx) or dist/src/cli (built). */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(join("dist", "src")) ? join(here, "..", "..", "..") : join(here, "..", "..");
}

export async function loadCrds(): Promise<KubeObject[]> {
  const dir = join(packageRoot(), "chart", "crds");
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const docs = await Promise.all(files.map(async (f) => yaml.loadAll(await readFile(join(dir, f), "utf8"))));
  return docs.flat().filter(isKubeObject);
}

export async function ensureCrds(client: ClusterClient, logger: Logger): Promise<void> {
  for (const crd of await loadCrds()) {
    const existing = await client.get({
      apiVersion: crd.apiVersion,
      kind: crd.kind,
      name: crd.metadata.name ?? "",
    });
    if (existing) continue;
    await client.apply(crd, { fieldManager: FIELD_MANAGER, force: true });
    logger.info({ crd: crd.metadata.name }, "installed CRD");
  }
  // Wait until the GitApp and GitAppSet kinds are served before the controllers list them.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      client.discovery.invalidate();
      await client.discovery.resource("gitgate.io/v1alpha1", "GitApp");
      await client.discovery.resource("gitgate.io/v1alpha1", "GitAppSet");
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function ensureNamespace(client: ClusterClient, name: string, logger: Logger): Promise<void> {
  if (await client.get({ apiVersion: "v1", kind: "Namespace", name })) return;
  await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } }).catch((err: unknown) => {
    if (!(err instanceof Error && /already exists/.test(err.message))) throw err;
  });
  logger.info({ namespace: name }, "created namespace");
}
