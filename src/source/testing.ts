/** Helpers shared by the GitSource tests (kept out of *.test.ts so both test files can import them). */
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { GitgateError } from "../errors.js";

/** An assert.rejects validator: a GitgateError of this class and reason, plus optional message checks. */
export function isGitError(
  cls: string,
  reason: string,
  check?: (message: string) => void,
): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof GitgateError, `not a GitgateError: ${String(err)}`);
    assert.equal(`${err.class}/${err.reason}`, `${cls}/${reason}`, err.message);
    check?.(err.message);
    return true;
  };
}

/** A port nothing listens on: bind one, then close it. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
