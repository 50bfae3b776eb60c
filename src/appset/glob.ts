/**
 * Globs over directory paths, matched segment by segment: `*` is any run of characters and `?` one
 * character, both within one path segment (as Go's path.Match, which Argo CD's git generator uses);
 * no `**`, no character classes. No regex is built from the pattern: a segment is split at its
 * stars into literal pieces found left to right, so the work is bounded by the capped lengths.
 */

export const MAX_PATTERN_LENGTH = 256;
export const MAX_SEGMENTS = 16;

/** Why a pattern is refused, or undefined when it is usable. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH)
    return `directory pattern must be 1 to ${MAX_PATTERN_LENGTH} characters`;
  if (pattern.startsWith("/"))
    return `directory pattern "${pattern}" must be relative to the repository root`;
  const segments = pattern.split("/");
  if (segments.length > MAX_SEGMENTS)
    return `directory pattern "${pattern}" has more than ${MAX_SEGMENTS} segments`;
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..")
      return `directory pattern "${pattern}" has an empty, "." or ".." segment`;
    if (segment.includes("**"))
      return `directory pattern "${pattern}": "**" is not supported (one "*" per segment level)`;
    if (/[[\]\\]/.test(segment))
      return `directory pattern "${pattern}": character classes and escapes are not supported`;
  }
  return undefined;
}

/** One piece of a segment between stars: `?` matches any one character. */
function pieceAt(text: string, at: number, piece: string): boolean {
  if (at + piece.length > text.length) return false;
  for (let i = 0; i < piece.length; i++) if (piece[i] !== "?" && piece[i] !== text[at + i]) return false;
  return true;
}

/** The first index ≥ from where `piece` matches, or -1. */
function findPiece(text: string, from: number, piece: string): number {
  for (let at = from; at + piece.length <= text.length; at++) if (pieceAt(text, at, piece)) return at;
  return -1;
}

/** One path segment against one pattern segment. */
export function matchSegment(pattern: string, text: string): boolean {
  const pieces = pattern.split("*");
  if (pieces.length === 1) return pattern.length === text.length && pieceAt(text, 0, pattern);
  const first = pieces[0] ?? "";
  const last = pieces[pieces.length - 1] ?? "";
  if (first.length + last.length > text.length) return false;
  if (!pieceAt(text, 0, first) || !pieceAt(text, text.length - last.length, last)) return false;
  // The middle pieces, leftmost first: a match found further left never loses (stars absorb the rest).
  let at = first.length;
  const end = text.length - last.length;
  for (const piece of pieces.slice(1, -1)) {
    const found = findPiece(text.slice(0, end), at, piece);
    if (found < 0) return false;
    at = found + piece.length;
  }
  return true;
}

/** A directory path (`a/b/c`) against a checked pattern: same number of segments, each matching. */
export function matchGlob(pattern: string, path: string): boolean {
  const want = pattern.split("/");
  const have = path.split("/");
  return want.length === have.length && want.every((p, i) => matchSegment(p, have[i] ?? ""));
}
