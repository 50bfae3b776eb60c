/**
 * `{{param}}` substitution in a template's string values (never in keys): a scanner, no code, no
 * expressions, no regex built from input. A param the generators did not produce is an error for
 * the whole set, never an empty string. Pure.
 */
import { terminal, type GitgateError } from "../errors.js";
import { isPlainObject } from "../manifest/object.js";

export type Params = Readonly<Record<string, string>>;

/** `cluster.name`, `path.basename`, list keys: letters, digits, `.`, `_`, `-`. */
const PARAM_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export class TemplateError extends Error {}

/** One string with each `{{ name }}` replaced; throws TemplateError on an unknown or malformed one. */
export function substitute(text: string, params: Params): string {
  let out = "";
  let at = 0;
  for (;;) {
    const open = text.indexOf("{{", at);
    if (open < 0) return out + text.slice(at);
    const close = text.indexOf("}}", open + 2);
    if (close < 0) throw new TemplateError(`unterminated "{{" in ${JSON.stringify(text.slice(0, 80))}`);
    const name = text.slice(open + 2, close).trim();
    if (!PARAM_NAME.test(name))
      throw new TemplateError(`"{{${text.slice(open + 2, close).slice(0, 64)}}}" is not a param name`);
    if (!Object.hasOwn(params, name))
      throw new TemplateError(
        `unknown param "${name}" (the generators give: ${Object.keys(params).sort().join(", ") || "none"})`,
      );
    out += text.slice(at, open) + params[name];
    at = close + 2;
  }
}

function walk(value: unknown, params: Params, depth: number): unknown {
  if (depth > 32) throw new TemplateError("template nested deeper than 32 levels");
  if (typeof value === "string") return substitute(value, params);
  if (Array.isArray(value)) return value.map((v) => walk(v, params, depth + 1));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, params, depth + 1);
    return out;
  }
  return value;
}

/** The template with every string value substituted, or the set's error. */
export function renderTemplate<T>(
  template: T,
  params: Params,
): { ok: true; value: T } | { ok: false; error: GitgateError } {
  try {
    return { ok: true, value: walk(template, params, 0) as T };
  } catch (err) {
    if (err instanceof TemplateError) return { ok: false, error: terminal("TemplateError", err.message) };
    throw err;
  }
}
