/**
 * One HTTP POST to a chat/webhook endpoint, classified for the retry loop. Nothing here logs: the
 * caller logs with the channel name, because the URL of a Slack/Teams webhook is itself a secret.
 */

export type PostOutcome =
  | { kind: "ok"; status: number }
  /** Network error, timeout, 5xx, 408 or 429: try again (after `retryAfterMs` when the server said so). */
  | { kind: "retry"; status?: number; retryAfterMs?: number; error?: string }
  /** Other 4xx: the request itself is wrong (bad payload, revoked webhook); retrying cannot help. */
  | { kind: "fatal"; status: number; reason?: string };

export interface PostRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Aborted when the dispatcher closes. */
  signal?: AbortSignal;
}

/**
 * `Retry-After` as delay-seconds (integer, tolerating decimals) or an HTTP date; undefined when absent
 * or unparseable. Negative or past values mean "now".
 */
export function parseRetryAfter(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** A short, non-secret name for a network failure: an errno code or the error class, never a message. */
export function errorCode(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === "TimeoutError") return "timeout";
    if (err.name === "AbortError") return "aborted";
    const cause = (err as { cause?: unknown }).cause;
    if (cause && typeof cause === "object" && "code" in cause && typeof cause.code === "string")
      return cause.code;
    return err.name;
  }
  return "error";
}

/**
 * Slack answers errors with a short code ("invalid_blocks", "no_service"): worth logging. Anything else
 * might echo the payload, so only bodies of that exact shape are kept.
 */
function reasonOf(text: string): string | undefined {
  const trimmed = text.trim();
  return /^[a-z_]{1,64}$/.test(trimmed) ? trimmed : undefined;
}

async function readSmall(res: Response): Promise<string> {
  try {
    const text = await res.text();
    return text.slice(0, 200);
  } catch {
    return "";
  }
}

export async function postOnce(req: PostRequest): Promise<PostOutcome> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", ...req.headers },
      body: req.body,
      signal,
      redirect: "error", // a redirect would resend a signed body somewhere the config did not name
    });
  } catch (err) {
    return { kind: "retry", error: errorCode(err) };
  }
  // Always consume the body so the keep-alive connection is released.
  const text = await readSmall(res);
  if (res.ok) return { kind: "ok", status: res.status };
  if (res.status === 429 || res.status === 408 || res.status >= 500) {
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    return { kind: "retry", status: res.status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  const reason = reasonOf(text);
  return { kind: "fatal", status: res.status, ...(reason ? { reason } : {}) };
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries of many alerts spread out. */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
