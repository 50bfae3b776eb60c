/**
 * Field paths. A path is a list of segments; it renders two ways:
 * - dotted, for people: `spec.template.spec.containers[name=web].image`, `metadata.labels[app.kubernetes.io/name]`
 * - RFC 6901 JSON pointer into the desired (Git) object: `/spec/template/spec/containers/0/image`
 */

/** An item of an associative list, found by its merge key(s); `index` is its position in the desired list. */
export interface KeyedItem {
  keys: Array<[field: string, value: string | number]>;
  index: number;
}

export type PathSegment = string | number | KeyedItem;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const seg of segments) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string") {
      // Map keys such as `app.kubernetes.io/name` would be ambiguous after a dot: bracket them, as
      // Kubernetes field errors do (`metadata.labels[app.kubernetes.io/name]`).
      if (PLAIN_KEY.test(seg)) out += out === "" ? seg : `.${seg}`;
      else out += `[${seg}]`;
    } else out += `[${seg.keys.map(([k, v]) => `${k}=${String(v)}`).join(",")}]`;
  }
  return out;
}

export function escapePointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

export function toPointer(segments: readonly PathSegment[]): string {
  return segments
    .map((seg) => {
      if (typeof seg === "number") return `/${seg}`;
      if (typeof seg === "string") return `/${escapePointerToken(seg)}`;
      return `/${seg.index}`;
    })
    .join("");
}

/** Splits an RFC 6901 pointer into unescaped tokens; undefined when it is not a pointer. */
export function parsePointer(pointer: string): string[] | undefined {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) return undefined;
  // `~1` first, then `~0`: the order RFC 6901 section 4 prescribes (so `~01` becomes `~1`, not `/`).
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}
