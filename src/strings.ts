/**
 * Linear string helpers for what regexes would do in quadratic time: `/\/+$/` retries its run of
 * `/` from every `/` in a string like `a////…//b` (issue 13: every regex on user input is linear).
 */

/** `text` without the run of `char` at its end. */
export function trimTrailing(text: string, char: string): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === char) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** `text` without the run of `char` at its start. */
export function trimLeading(text: string, char: string): string {
  let start = 0;
  while (start < text.length && text[start] === char) start++;
  return start === 0 ? text : text.slice(start);
}
