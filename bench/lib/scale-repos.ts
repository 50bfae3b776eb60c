/**
 * The scale benchmark's repositories: 500 GitApps over 5 repositories, 10,000 ConfigMaps in all,
 * one object per file (monorepo style: each app is a directory). One repository is the monorepo
 * (200 apps, 4,000 files); the other four hold 75 apps each (1,500 files each).
 */

export const OBJECTS_PER_APP = 20;

export interface ScaleRepo {
  name: string;
  /** Apps in this repo: each one directory `apps/<app>` of OBJECTS_PER_APP files. */
  apps: string[];
}

/** The repositories; `fraction` < 1 scales every repo's app count down (quick runs). */
export function scaleRepos(fraction = 1): ScaleRepo[] {
  const n = (count: number): number => Math.max(1, Math.round(count * fraction));
  return [
    { name: "monorepo", apps: names("mono", n(200)) },
    { name: "payments", apps: names("pay", n(75)) },
    { name: "search", apps: names("search", n(75)) },
    { name: "identity", apps: names("id", n(75)) },
    { name: "shipping", apps: names("ship", n(75)) },
  ];
}

function names(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, "0")}`);
}

/** One ConfigMap file (~1.2 KiB) as people write them; `revision` changes one value. */
export function configMapFile(app: string, i: number, revision = 0): string {
  const name = `${app}-cfg-${String(i).padStart(2, "0")}`;
  return `# Settings for ${app}, part ${i}; mounted as a file and read at start-up.
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  labels:
    app.kubernetes.io/name: ${app}
    app.kubernetes.io/component: config
  annotations:
    owner: "${app}@example.com"
data:
  LOG_LEVEL: info
  REVISION: "${revision}"
  MAX_CONNECTIONS: "${100 + i}"
  UPSTREAM_URL: "http://${app}-gateway.${app}.svc.cluster.local:8080"
  application.yaml: |
    server:
      port: 8080
      shutdownGracePeriod: 20s
    cache:
      ttl: ${60 + i}s
      size: ${1000 + i * 7}
    database:
      host: postgres-${app}.db.svc.cluster.local
      pool:
        min: 2
        max: ${10 + (i % 10)}
    features:
      - checkout-v2
      - search-suggest
      - cart-merge
`;
}

export function configMapName(app: string, i: number): string {
  return `${app}-cfg-${String(i).padStart(2, "0")}`;
}

export function appPath(app: string): string {
  return `apps/${app}`;
}

/** The repository's files: `apps/<app>/cm-NN.yaml`. */
export function repoFiles(repo: ScaleRepo): Record<string, string> {
  const files: Record<string, string> = { "README.md": `# ${repo.name}\n` };
  for (const app of repo.apps)
    for (let i = 0; i < OBJECTS_PER_APP; i++)
      files[`${appPath(app)}/cm-${String(i).padStart(2, "0")}.yaml`] = configMapFile(app, i);
  return files;
}

/** Where a repo's objects go (one namespace per repository; kubectl's baseline uses its own). */
export function namespaceOf(repo: ScaleRepo, prefix = "scale"): string {
  return `${prefix}-${repo.name}`;
}
