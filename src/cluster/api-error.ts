/** Kubernetes API errors, classified by HTTP status (Status.reason kept for messages). */
import { GitgateError, type ErrorClass } from "../errors.js";
import { isPlainObject } from "../manifest/object.js";
import type { ApiResponse } from "./transport.js";

export class ApiError extends GitgateError {
  readonly status: number;
  /** Status.reason from the API server, e.g. `NotFound`, `Invalid`, `Conflict`. */
  readonly apiReason: string;

  constructor(status: number, apiReason: string, message: string) {
    super(classify(status), reasonFor(status, apiReason), message);
    this.name = "ApiError";
    this.status = status;
    this.apiReason = apiReason;
  }
}

function classify(status: number): ErrorClass {
  if (status === 429 || status >= 500 || status === 0) return "transient";
  if (status === 404 || status === 409) return "waiting";
  return "terminal";
}

function reasonFor(status: number, apiReason: string): string {
  if (status === 403) return "Forbidden";
  if (status === 422) return "Invalid";
  if (status >= 500) return "APIServerError";
  return apiReason || `HTTP${status}`;
}

export function apiErrorFrom(what: string, res: ApiResponse): ApiError {
  const status = isPlainObject(res.body) ? res.body : {};
  const message = typeof status.message === "string" ? status.message : res.text.slice(0, 500);
  const reason = typeof status.reason === "string" ? status.reason : "";
  return new ApiError(res.status, reason, `${what}: ${message}`);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}
