/**
 * JSON.parse of an AdmissionReview body that skips `metadata.managedFields` of `object` and
 * `oldObject`. kube-apiserver includes them (field-manager bookkeeping, typically a third of a
 * review's bytes and more of its values); the decision never reads them, and building them cost
 * ~40 % of the parse on the bench's Deployments. The result equals JSON.parse of the whole text with
 * those two fields removed; whenever that cannot be guaranteed, the whole text is parsed. One
 * difference remains: inside the skipped arrays only strings and brackets are checked (closed,
 * paired), so a body whose sole syntax error lies there is answered rather than refused with 400.
 * kube-apiserver never sends one; a forged review earns nothing it could not get with valid JSON.
 */
import { randomBytes } from "node:crypto";
import { isPlainObject } from "../manifest/object.js";

/** kube-apiserver writes compact JSON: the key follows `{` or `,` directly, its value `:` directly. */
const NEEDLE = '"managedFields":[';
/**
 * Each skipped value is replaced by a string no request can contain: this process's random token
 * and the span's number. Each must come back exactly at object/oldObject.metadata.managedFields.
 */
const PLACEHOLDER = `gitgate-skipped-${randomBytes(12).toString("hex")}-`;

export function parseReviewJson(text: string): unknown {
  const spans = managedFieldSpans(text);
  if (spans.length === 0 || spans.length > 2) return JSON.parse(text);
  let stripped = "";
  let from = 0;
  spans.forEach(([start, end], i) => {
    stripped += `${text.slice(from, start)}"${PLACEHOLDER}${i}"`;
    from = end;
  });
  stripped += text.slice(from);
  let body: unknown;
  try {
    body = JSON.parse(stripped);
  } catch {
    return JSON.parse(text); // throws the error of the text as sent
  }
  // Each replaced span must have been the managedFields of object or oldObject, nothing else (a
  // custom resource's own `managedFields` field, a key that only ends in the needle).
  const pending = new Set(spans.map((_, i) => `${PLACEHOLDER}${i}`));
  const request = isPlainObject(body) ? body.request : undefined;
  if (isPlainObject(request)) {
    for (const obj of [request.object, request.oldObject]) {
      if (!isPlainObject(obj) || !isPlainObject(obj.metadata)) continue;
      const value = obj.metadata.managedFields;
      if (typeof value === "string" && pending.delete(value)) obj.metadata.managedFields = undefined;
    }
  }
  return pending.size === 0 ? body : JSON.parse(text);
}

/**
 * [start, end) of each managedFields array value, start just after the needle's `:`; empty when
 * the text has none or one cannot be delimited (then the caller parses the whole text).
 */
export function managedFieldSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let at = text.indexOf(NEEDLE);
  while (at !== -1) {
    const before = text.charCodeAt(at - 1);
    // Not after `{` or `,`: an escaped quote inside a key, or a spacing this fast path does not expect.
    if (before !== 0x7b && before !== 0x2c) return [];
    const start = at + NEEDLE.length - 1;
    const end = endOfValue(text, start);
    if (end === -1) return [];
    spans.push([start, end]);
    at = text.indexOf(NEEDLE, end);
  }
  return spans;
}

/** Index just past the array or object that opens at `start`; -1 when it is not closed or pairs brackets wrongly. */
function endOfValue(text: string, start: number): number {
  const closers: number[] = [];
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = endOfString(text, i);
      if (i === -1) return -1;
      continue;
    }
    if (c === 0x5b) closers.push(0x5d);
    else if (c === 0x7b) closers.push(0x7d);
    else if (c === 0x5d || c === 0x7d) {
      if (closers.pop() !== c) return -1;
      if (closers.length === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

/** Index just past the string whose opening quote is at `open`; -1 when it is not closed. */
function endOfString(text: string, open: number): number {
  let quote = text.indexOf('"', open + 1);
  while (quote !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    quote = text.indexOf('"', quote + 1);
  }
  return -1;
}
