/**
 * The structure docs/architecture.md promises, checked on every non-test .ts file under src/ with
 * the TypeScript compiler's parser (issue #11, "Must show"):
 *   - no function, method or arrow function has a body over 100 lines (src/testenv aside);
 *   - diff/, admission/, sync/ and manifest/ import nothing from alerts/;
 *   - production code imports nothing from testenv/, except the demo (cli/cmd-dev.ts);
 *   - process.env is read only in config/ (and cli/style.ts for the colour check, and testenv/).
 * Each rule is first run on small sources that break it, so a checker that finds nothing cannot pass.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import ts from "typescript";

const SRC = fileURLToPath(new URL(".", import.meta.url));
const MAX_BODY_LINES = 100;

interface Source {
  /** Path relative to src/, with forward slashes. */
  path: string;
  file: ts.SourceFile;
}

function parse(path: string, text: string): Source {
  return { path, file: ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS) };
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) out.push(full);
  }
  return out.sort();
}

const under = (path: string, ...folders: string[]): boolean => folders.some((f) => path.startsWith(`${f}/`));

function walk(node: ts.Node, visit: (node: ts.Node) => void): void {
  visit(node);
  node.forEachChild((child) => walk(child, visit));
}

/** Where `node` starts, as `path:line`. */
function at(src: Source, node: ts.Node): string {
  return `src/${src.path}:${src.file.getLineAndCharacterOfPosition(node.getStart(src.file)).line + 1}`;
}

/** Every function-like body over the limit, as `path:line (N lines)`; nested functions count in their parent too. */
function longFunctions(src: Source, max = MAX_BODY_LINES): string[] {
  const out: string[] = [];
  walk(src.file, (node) => {
    if (!ts.isFunctionLike(node)) return;
    const body = (node as ts.FunctionLikeDeclarationBase).body;
    if (!body) return;
    const first = src.file.getLineAndCharacterOfPosition(body.getStart(src.file)).line;
    const last = src.file.getLineAndCharacterOfPosition(body.getEnd()).line;
    const lines = last - first + 1;
    if (lines > max) out.push(`${at(src, node)} (${lines} lines)`);
  });
  return out;
}

/** Every module specifier the file imports or re-exports from, with where: static, dynamic and `import x = require()`. */
function imports(src: Source): Array<{ specifier: string; where: string }> {
  const out: Array<{ specifier: string; where: string }> = [];
  walk(src.file, (node) => {
    let spec: ts.Node | undefined;
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) spec = node.moduleSpecifier;
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      spec = node.moduleReference.expression;
    else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require"))
    )
      spec = node.arguments[0];
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) spec = node.argument.literal;
    if (spec && ts.isStringLiteralLike(spec)) out.push({ specifier: spec.text, where: at(src, node) });
  });
  return out;
}

/** The src/-relative path a relative specifier points at (`../alerts/index.js` → `alerts/index.js`). */
function target(src: Source, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const full = resolve(SRC, dirname(src.path), specifier);
  return relative(SRC, full).split(sep).join("/");
}

function importsFrom(src: Source, folder: string): string[] {
  return imports(src)
    .filter(({ specifier }) => {
      const to = target(src, specifier);
      return to !== undefined && (to === folder || to.startsWith(`${folder}/`));
    })
    .map(({ specifier, where }) => `${where} imports ${specifier}`);
}

/** Every read of process.env: `process.env`, `process["env"]`, `{ env } = process`, `env` from node:process. */
function envReads(src: Source): string[] {
  const out: string[] = [];
  const isProcess = (n: ts.Node): boolean => ts.isIdentifier(n) && n.text === "process";
  walk(src.file, (node) => {
    if (ts.isPropertyAccessExpression(node) && isProcess(node.expression) && node.name.text === "env")
      out.push(at(src, node));
    else if (
      ts.isElementAccessExpression(node) &&
      isProcess(node.expression) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      node.argumentExpression.text === "env"
    )
      out.push(at(src, node));
    else if (
      ts.isVariableDeclaration(node) &&
      node.initializer &&
      isProcess(node.initializer) &&
      ts.isObjectBindingPattern(node.name) &&
      node.name.elements.some((e) => ((e.propertyName ?? e.name) as ts.Identifier).text === "env")
    )
      out.push(at(src, node));
    else if (
      ts.isImportDeclaration(node) &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      ["process", "node:process"].includes(node.moduleSpecifier.text)
    ) {
      const bindings = node.importClause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings))
        for (const e of bindings.elements)
          if ((e.propertyName ?? e.name).text === "env") out.push(`${at(src, node)} (import env)`);
    }
  });
  return out.map((where) => `${where} reads process.env`);
}

interface Rule {
  name: string;
  /** The files the rule is about (src/-relative paths). */
  applies: (path: string) => boolean;
  offences: (src: Source) => string[];
  /** Sources that break the rule (each must give at least one offence) and one that keeps it. */
  broken: Array<[path: string, text: string]>;
  kept: [path: string, text: string];
}

const longBody = (arrow: boolean): string => {
  const lines = Array.from({ length: MAX_BODY_LINES }, (_, i) => `  const v${i} = ${i};`).join("\n");
  return arrow
    ? `export const f = (): void => {\n${lines}\n};\n`
    : `export function f(): void {\n${lines}\n}\n`;
};

const RULES: Rule[] = [
  {
    name: `no function, method or arrow function body is over ${MAX_BODY_LINES} lines (testenv/ aside)`,
    applies: (path) => !under(path, "testenv"),
    offences: (src) => longFunctions(src),
    broken: [
      ["x/fn.ts", longBody(false)],
      ["x/arrow.ts", longBody(true)],
      [
        "x/method.ts",
        `export class C {\n  m(): void ${longBody(false).slice(longBody(false).indexOf("{"))}}\n`,
      ],
    ],
    kept: ["x/short.ts", `export function f(): number {\n  return 1;\n}\n`],
  },
  {
    name: "diff/, admission/, sync/ and manifest/ import nothing from alerts/",
    applies: (path) => under(path, "diff", "admission", "sync", "manifest"),
    offences: (src) => importsFrom(src, "alerts"),
    broken: [
      ["sync/a.ts", `import { dispatch } from "../alerts/dispatcher.js";\n`],
      ["diff/b.ts", `import type { X } from "../alerts/index.js";\n`],
      ["admission/c.ts", `export { y } from "../alerts/channel.js";\n`],
      [
        "manifest/d.ts",
        `export async function f(): Promise<unknown> { return import("../alerts/slack.js"); }\n`,
      ],
    ],
    kept: ["sync/e.ts", `import type { AlertEvent } from "../manifest/event.js";\n`],
  },
  {
    name: "production code imports nothing from testenv/, except the demo (cli/cmd-dev.ts)",
    applies: (path) => !under(path, "testenv") && path !== "cli/cmd-dev.ts",
    offences: (src) => importsFrom(src, "testenv"),
    broken: [
      ["runtime/a.ts", `import { startControlPlane } from "../testenv/controlplane.js";\n`],
      ["cli/cmd-run.ts", `import { kubectl } from "../testenv/kubectl.js";\n`],
    ],
    kept: ["cli/b.ts", `import { paint } from "./style.js";\n`],
  },
  {
    name: "process.env is read only in config/, cli/style.ts and testenv/",
    applies: (path) => !under(path, "config", "testenv") && path !== "cli/style.ts",
    offences: (src) => envReads(src),
    broken: [
      ["server/a.ts", `export const port = process.env.PORT;\n`],
      ["server/b.ts", `export const all = process["env"];\n`],
      ["server/c.ts", `const { env } = process;\nexport const e = env;\n`],
      ["server/d.ts", `import { env } from "node:process";\nexport const e = env;\n`],
    ],
    kept: ["server/e.ts", `export const argv = process.argv;\n`],
  },
];

const TREE: Source[] = sourceFiles(SRC).map((full) =>
  parse(relative(SRC, full).split(sep).join("/"), readFileSync(full, "utf8")),
);

void describe("the structure of src/ (docs/architecture.md)", () => {
  void it("reads the tree", () => {
    assert.ok(TREE.length > 100, `only ${TREE.length} files read from ${SRC}`);
    assert.ok(TREE.some((s) => s.path === "cli/cmd-dev.ts"));
  });

  for (const rule of RULES)
    void describe(rule.name, () => {
      void it("finds every offence in sources that break it, and none in one that keeps it", () => {
        for (const [path, text] of rule.broken)
          assert.notDeepEqual(rule.offences(parse(path, text)), [], `no offence found in ${path}:\n${text}`);
        const [path, text] = rule.kept;
        assert.deepEqual(rule.offences(parse(path, text)), []);
      });

      void it("holds for every non-test file under src/", () => {
        const offences = TREE.filter((s) => rule.applies(s.path)).flatMap((s) => rule.offences(s));
        assert.deepEqual(offences, [], `${offences.length} offence(s):\n  ${offences.join("\n  ")}`);
      });
    });
});
