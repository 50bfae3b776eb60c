import { strict as assert } from "node:assert";

/**
 * Asserts a refusal says who refused and why: kubectl fails with kube-apiserver's
 * `admission webhook "<name>" denied the request: <reason>`.
 */
export function assertDenied(
  r: { code: number; stdout: string; stderr: string },
  webhook: string,
  reason: RegExp,
): void {
  assert.notEqual(r.code, 0, r.stdout);
  const prefix = `admission webhook "${webhook}" denied the request: `;
  const at = r.stderr.indexOf(prefix);
  assert.ok(at >= 0, `expected a denial by ${webhook}, got: ${r.stderr}`);
  assert.match(r.stderr.slice(at + prefix.length), reason);
}
