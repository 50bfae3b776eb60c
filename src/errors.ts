/**
 * Classified errors. Where an error happens it is classified once:
 * - terminal: retrying will not help until the input changes (bad YAML, unknown revision): stall.
 * - waiting: a dependency is not ready yet (CRD not established): retry at a steady pace.
 * - transient: network or server trouble: retry with exponential backoff.
 */
export type ErrorClass = "terminal" | "waiting" | "transient";

export class GitgateError extends Error {
  readonly class: ErrorClass;
  /** Short CamelCase reason for status conditions and events, e.g. `RenderFailed`. */
  readonly reason: string;

  constructor(errorClass: ErrorClass, reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GitgateError";
    this.class = errorClass;
    this.reason = reason;
  }
}

export function terminal(reason: string, message: string, cause?: unknown): GitgateError {
  return new GitgateError("terminal", reason, message, { cause });
}

export function transient(reason: string, message: string, cause?: unknown): GitgateError {
  return new GitgateError("transient", reason, message, { cause });
}

export function waiting(reason: string, message: string, cause?: unknown): GitgateError {
  return new GitgateError("waiting", reason, message, { cause });
}

export function classOf(err: unknown): ErrorClass {
  return err instanceof GitgateError ? err.class : "transient";
}

export function reasonOf(err: unknown, fallback: string): string {
  return err instanceof GitgateError ? err.reason : fallback;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
