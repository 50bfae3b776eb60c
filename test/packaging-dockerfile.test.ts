/**
 * The Dockerfile and .dockerignore, checked without a container engine: a small parser (line
 * continuations, comments, stages) and the rules the image must keep — multi-stage, `npm ci` and
 * build first, production dependencies only at run time, non-root, pinned and checksummed helm and
 * kustomize (the same versions the tests run), git and ssh for SSH sources, port 9443, the files gitgate reads at run time.
 * When the devDependency `dockerfile-utils` is installed its linter runs too.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { before, describe, it } from "node:test";
import { pinnedTools } from "../src/testenv/tools.js";

const ROOT = new URL("..", import.meta.url).pathname;
const run = promisify(execFile);

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/** Joins `\` continuations, drops comments and blank lines; keeps the first line number. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split("\n").forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith("#") || (!pending && trimmed === "")) return;
    const continues = trimmed.endsWith("\\");
    const body = continues ? trimmed.slice(0, -1).trim() : trimmed;
    pending ??= { parts: [], line: i + 1 };
    if (body) pending.parts.push(body);
    if (continues) return;
    const joined = pending.parts.join(" ");
    const match = /^(\S+)\s*(.*)$/.exec(joined);
    if (match)
      out.push({ keyword: (match[1] ?? "").toUpperCase(), args: match[2] ?? "", line: pending.line });
    pending = undefined;
  });
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const [base = "", as, name] = ins.args.split(/\s+/);
      assert.equal(as?.toUpperCase(), "AS", `FROM on line ${ins.line} names its stage`);
      stages.push({ name: name ?? "", base, instructions: [] });
    } else stages.at(-1)?.instructions.push(ins);
  }
  return stages;
}

/** `ARG NAME=value` lines anywhere in the file. */
function argDefaults(instructions: Instruction[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const ins of instructions.filter((i) => i.keyword === "ARG")) {
    const [name = "", value = ""] = ins.args.split("=", 2);
    args[name] = value.replace(/^"(.*)"$/, "$1");
  }
  return args;
}

const runs = (stage: Stage): string =>
  stage.instructions
    .filter((i) => i.keyword === "RUN")
    .map((i) => i.args)
    .join("\n");
const copies = (stage: Stage): string[][] =>
  stage.instructions.filter((i) => i.keyword === "COPY").map((i) => i.args.split(/\s+/));

/** .dockerignore semantics enough for these patterns: `*`, `**`, `?`, leading `!`, directory prefixes. */
function globRegex(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? "";
    if (pattern.startsWith("**/", i)) {
      re += "(?:.*/)?";
      i += 2;
    } else if (pattern.startsWith("**", i)) {
      re += ".*";
      i += 1;
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  // Excluding a directory excludes everything under it.
  return new RegExp(`^${re}(?:/.*)?$`);
}

function isIgnored(path: string, patterns: string[]): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    if (globRegex((negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, "")).test(path)) ignored = !negate;
  }
  return ignored;
}

describe("Dockerfile", () => {
  let instructions: Instruction[];
  let stages: Stage[];
  let args: Record<string, string>;
  let ignore: string[];

  before(async () => {
    instructions = parseDockerfile(await readFile(join(ROOT, "Dockerfile"), "utf8"));
    stages = stagesOf(instructions);
    args = argDefaults(instructions);
    ignore = (await readFile(join(ROOT, ".dockerignore"), "utf8"))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
  });

  /** A stage with the build args' defaults, followed through stage-named bases and COPY --from. */
  function stagesBehind(name: string, seen = new Set<string>()): Stage[] {
    const stage = stages.find((s) => s.name === name);
    if (!stage || seen.has(name)) return [];
    seen.add(name);
    const base = stage.base.replace(/\$\{(\w+)\}/g, (_m, arg: string) => args[arg] ?? "");
    const froms = copies(stage)
      .map((c) => /^--from=(\S+)$/.exec(c[0] ?? "")?.[1])
      .filter((f): f is string => Boolean(f));
    return [stage, ...[base, ...froms].flatMap((n) => stagesBehind(n, seen))];
  }

  /** The image a stage is built on, following stage names (build args' defaults). */
  function imageBase(stage: Stage, depth = 0): string {
    const base = stage.base.replace(/\$\{(\w+)\}/g, (_m, arg: string) => args[arg] ?? "");
    const next = stages.find((s) => s.name === base);
    return next && depth < stages.length ? imageBase(next, depth + 1) : base;
  }

  it("is multi-stage: npm ci and the TypeScript build in the first stage", () => {
    assert.ok(stages.length >= 3, `${stages.length} stages`);
    const first = stages[0];
    assert.ok(first);
    assert.match(runs(first), /\bnpm ci\b(?![^\n]*--omit=dev)/, "full npm ci (dev dependencies: tsc)");
    assert.match(runs(first), /\bnpm run build\b/);
    assert.deepEqual(
      copies(first)[0],
      ["package.json", "package-lock.json", "./"],
      "lockfile first, for layer caching",
    );
  });

  it("runs on a slim image with production dependencies only", () => {
    const runtime = stages.at(-1);
    assert.ok(runtime);
    // Through the stages it is built on (base-ssh → ${SSH_STAGE} → ${NODE_IMAGE}).
    const base = imageBase(runtime);
    assert.match(base, /^node:20(\.\d+){0,2}-\w+-slim$/, `runtime base ${base}`);
    const modules = copies(runtime).find((c) => c.some((p) => p.endsWith("/node_modules")));
    assert.ok(modules, "node_modules copied from another stage");
    const from = /^--from=(\S+)$/.exec(modules[0] ?? "")?.[1] ?? "";
    // By default (no build args) the stage it names leads, through `FROM ${APP_STAGE}`, to stages
    // that build from source.
    const sources = stagesBehind(from);
    assert.ok(sources.length > 0, `node_modules come from stage ${from}`);
    assert.match(
      sources.map(runs).join("\n") + runs(runtime),
      /npm ci --omit=dev|npm prune --omit=dev|npm prune --production/,
    );
    assert.ok(!/\bnpm (ci|install)\b(?![^\n]*--omit=dev)/.test(runs(runtime)), "no dev install at run time");
  });

  it("ships exactly what gitgate reads at run time", async () => {
    const runtime = stages.at(-1);
    assert.ok(runtime);
    const destinations = copies(runtime).map((c) => c.at(-1) ?? "");
    for (const needed of ["./dist", "./node_modules", "./", "./chart/crds"])
      assert.ok(destinations.includes(needed), `COPY to ${needed}`);
    const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
      bin: { gitgate: string };
      scripts: { build: string };
    };
    const entrypoint = instructions.find((i) => i.keyword === "ENTRYPOINT");
    assert.deepEqual(JSON.parse(entrypoint?.args ?? "null"), ["node", pkg.bin.gitgate]);
    assert.match(pkg.scripts.build, /tsconfig\.build\.json/);
    // Everything copied from the build context exists and is not excluded by .dockerignore — except
    // prebuilt/, which only `npm run image` writes into its own context, for the *-prebuilt stages
    // that the defaults never use.
    assert.equal(args.APP_STAGE, "app-from-source");
    assert.equal(args.TOOLS_STAGE, "tools-download");
    for (const stage of stages) {
      for (const copy of copies(stage).filter((c) => !c[0]?.startsWith("--"))) {
        for (const src of copy.slice(0, -1)) {
          if (src.startsWith("prebuilt/")) {
            assert.match(stage.name, /-prebuilt$/, `COPY ${src} only in a *-prebuilt stage`);
            continue;
          }
          assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists`);
          assert.ok(!isIgnored(src, ignore), `COPY source ${src} is not excluded by .dockerignore`);
        }
      }
    }
  });

  it("runs as a numeric non-root user and exposes 9443", () => {
    const runtime = stages.at(-1);
    assert.ok(runtime);
    const user = runtime.instructions.filter((i) => i.keyword === "USER").at(-1)?.args ?? "";
    assert.match(
      user,
      /^[1-9]\d*(:\d+)?$/,
      `USER ${user} is numeric (runAsNonRoot can check it) and not root`,
    );
    const exposed = runtime.instructions
      .filter((i) => i.keyword === "EXPOSE")
      .flatMap((i) => i.args.split(/\s+/));
    assert.deepEqual(exposed, ["9443"]);
    const healthcheck = instructions.find((i) => i.keyword === "HEALTHCHECK");
    if (healthcheck) assert.match(healthcheck.args, /^(NONE|.*\/healthz)/);
  });

  it("pins helm and kustomize (the versions the tests use) with SHA-256 checksums", async () => {
    assert.match(args.HELM_VERSION ?? "", /^\d+\.\d+\.\d+$/);
    assert.match(args.KUSTOMIZE_VERSION ?? "", /^\d+\.\d+\.\d+$/);
    assert.match(args.HELM_SHA256_AMD64 ?? "", /^[0-9a-f]{64}$/);
    assert.match(args.KUSTOMIZE_SHA256_AMD64 ?? "", /^[0-9a-f]{64}$/);
    const download = instructions
      .filter((i) => i.keyword === "RUN")
      .map((i) => i.args)
      .join("\n");
    assert.ok(download.includes("https://get.helm.sh/helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz"));
    assert.ok(
      download.includes(
        "https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv${KUSTOMIZE_VERSION}/kustomize_v${KUSTOMIZE_VERSION}_linux_${TARGETARCH}.tar.gz",
      ),
    );
    assert.equal((download.match(/sha256sum -c -/g) ?? []).length, 2, "both archives verified");
    const tools = await pinnedTools();
    const helmVersion = (await run(tools.helm, ["version", "--short"])).stdout;
    assert.ok(helmVersion.startsWith(`v${args.HELM_VERSION}+`), `tests run helm ${helmVersion.trim()}`);
    const kubectlVersion = (await run(tools.kubectl, ["version", "--client"])).stdout;
    assert.match(
      kubectlVersion,
      new RegExp(`Kustomize Version: v${(args.KUSTOMIZE_VERSION ?? "").replace(/\./g, "\\.")}\\b`),
    );
    const runtime = stages.at(-1);
    const env =
      runtime?.instructions
        .filter((i) => i.keyword === "ENV")
        .map((i) => i.args)
        .join(" ") ?? "";
    assert.match(env, /GITGATE_HELM=\/usr\/local\/bin\/helm/);
    assert.match(env, /GITGATE_KUSTOMIZE=\/usr\/local\/bin\/kustomize/);
    // node on jemalloc, from the path both the Debian stage and the offline build put it at.
    assert.match(env, /LD_PRELOAD=\/usr\/local\/lib\/libjemalloc\.so\.2/);
  });

  it("installs git and the OpenSSH client, pinned, no recommends (ssh:// and scp-like sources run them)", () => {
    // SSH sources are fetched with the git and ssh binaries (src/source/ssh.ts), which git runs
    // through /bin/sh, and HTTPS ones with git (src/source/http-git.ts). Client side only: no server, no daemon.
    const runtime = stages.at(-1);
    assert.ok(runtime);
    const installs = stagesBehind(runtime.name)
      .flatMap((s) => s.instructions.filter((i) => i.keyword === "RUN"))
      .map((i) => i.args)
      .filter((r) => /\bapt-get install\b[^&;|]*\bgit=/.test(r));
    assert.equal(installs.length, 1, "git installed in a stage the runtime is built on");
    const install = installs[0] ?? "";
    assert.match(install, /--no-install-recommends/);
    const pkgs = [...install.matchAll(/"([a-z0-9.+-]+)=\$\{(\w+)\}"/g)].map((m) => [m[1], args[m[2] ?? ""]]);
    assert.deepEqual(
      pkgs.map(([name]) => name),
      ["git", "openssh-client", "libjemalloc2"],
    );
    for (const [name, version] of pkgs) assert.match(version ?? "", /^(\d+:)?[\w.+~-]+$/, `${name} pinned`);
    assert.match(install, /cp "\$\(dpkg -L libjemalloc2 [^)]*\)" \/usr\/local\/lib\/libjemalloc\.so\.2/);
    assert.ok(!/openssh-server|git-daemon/.test(install), "client side only");
    // The offline build (src/testenv/image.ts) takes the same binaries from prebuilt/ssh/.
    const prebuilt = stages.find((s) => s.name === "ssh-prebuilt");
    assert.deepEqual(prebuilt && copies(prebuilt), [["prebuilt/ssh/", "/"]]);
    assert.equal(args.SSH_STAGE, "ssh-debian");
  });

  it(".dockerignore keeps node_modules, .git, tests and build output out of the context", () => {
    for (const path of [
      "node_modules",
      "node_modules/ajv/package.json",
      "src/foo/node_modules/x",
      ".git",
      ".git/HEAD",
      "test",
      "test/packaging-chart.test.ts",
      "dist",
      "src/config/load.test.ts",
      "certs/ca.key",
      "bench",
    ]) {
      assert.ok(isIgnored(path, ignore), `${path} is excluded`);
    }
    for (const path of [
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "src/cli/main.ts",
      "chart/crds/gitapps.gitgate.io.yaml",
    ]) {
      assert.ok(!isIgnored(path, ignore), `${path} is in the context`);
    }
  });

  it("passes the dockerfile-utils linter", async (t) => {
    let validate:
      ((text: string) => Array<{ message: string; range: { start: { line: number } } }>) | undefined;
    // A devDependency (package.json); imported by name so that a checkout without it still
    // type-checks. Without it the test is skipped, which scripts/run-tests.mjs lists after the run
    // and turns into a failure under CI.
    const linter: string = "dockerfile-utils";
    try {
      ({ validate } = (await import(linter)) as { validate: typeof validate });
    } catch {
      return t.skip("dockerfile-utils is not installed: npm ci (it is a devDependency)");
    }
    const problems = validate?.(await readFile(join(ROOT, "Dockerfile"), "utf8")) ?? [];
    assert.deepEqual(
      problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`),
      [],
    );
  });
});
