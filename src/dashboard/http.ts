/** Request and response helpers of the dashboard: security headers, capped bodies, same-origin checks. */
import type { IncomingMessage, ServerResponse } from "node:http";

/** Everything from this origin only; no inline script or style; no framing. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

export const MAX_FORM_BYTES = 16 * 1024;

export function securityHeaders(res: ServerResponse): void {
  res.setHeader("content-security-policy", CSP);
  res.setHeader("x-content-type-options", "nosniff");
  res.setHeader("x-frame-options", "DENY");
  // Not no-referrer: under it Chromium posts forms with `Origin: null`, which sameOrigin refuses.
  res.setHeader("referrer-policy", "same-origin");
  res.setHeader("cache-control", "no-store");
}

export function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) }).end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json", JSON.stringify(body));
}

export function redirect(res: ServerResponse, to: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { location: to, ...headers }).end();
}

/**
 * A state-changing request must come from a page of this dashboard: its Origin (browsers send one
 * on every POST) names the host the request was sent to, or the browser's own Sec-Fetch-Site says
 * same-origin (a header pages cannot set). With SameSite=Strict cookies, this is the CSRF defence;
 * a request with neither is refused.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if ((!origin || origin === "null") && req.headers["sec-fetch-site"] === "same-origin") return true;
  if (!origin || !host || origin === "null") return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** The body of a small form, or undefined when it is too large or not a form. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded"))
    return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
