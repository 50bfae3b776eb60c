/**
 * The browser side, typed here and served as its own compiled source (`/static/live.js`): on each
 * server-sent `changed` event it fetches the current view's `<main>` again (the server renders and
 * filters it for this session) and swaps it in. No framework, no build step beyond tsc, ~1 KB.
 * It must not reference anything outside the function (it runs alone in the browser).
 */

/** The few browser APIs the script uses (the project's tsconfig has no DOM library). */
export interface ClientWindow {
  document: {
    getElementById(id: string): ClientElement | null;
    body: ClientElement;
  };
  location: { pathname: string; search: string; assign(url: string): void };
  fetch(
    url: string,
    init: { headers: Record<string, string>; credentials: "same-origin" },
  ): Promise<{ status: number; ok: boolean; text(): Promise<string> }>;
  EventSource: new (url: string) => {
    addEventListener(type: string, listener: () => void): void;
    close(): void;
  };
}

export interface ClientElement {
  innerHTML: string;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
}

export function liveClient(w: ClientWindow): void {
  const main = w.document.getElementById("main");
  if (!main || main.getAttribute("data-live") !== "on") return;
  let running = false;
  let again = false;
  const refresh = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const res = await w.fetch(w.location.pathname + w.location.search, {
        headers: { "x-gitgate-fragment": "1" },
        credentials: "same-origin",
      });
      if (res.status === 401) w.location.assign("/login");
      // Same origin, rendered and escaped by the server for this session.
      else if (res.ok) main.innerHTML = await res.text();
      w.document.body.setAttribute("data-refreshed", String(Date.now()));
    } catch {
      // A failed refresh waits for the next event.
    } finally {
      running = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  };
  const events = new w.EventSource("/events");
  events.addEventListener("changed", () => void refresh());
  events.addEventListener("open", () => w.document.body.setAttribute("data-live", "connected"));
}

/**
 * The script as served. tsx (tests) compiles with esbuild's keepNames, whose `__name` helper the
 * function text may then call: a no-op stand-in keeps it working in the browser.
 */
export function clientScript(): string {
  return `"use strict";\nvar __name = function (f) { return f; };\n(${liveClient.toString()})(window);\n`;
}

export const STYLESHEET = `:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#59636e;--line:#d1d9e0;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#3d444d;--ok:#3fb950;--warn:#d29922;--bad:#f85149}}
body{font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
nav{display:flex;gap:1rem;align-items:center;flex:1}nav form{margin-left:auto}
nav a[aria-current]{font-weight:600}a{color:inherit}
main{padding:1rem}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
.msg,.note,.user,.author{color:var(--muted)}
tr.owned td:nth-child(2){padding-left:1.5em}tr.owned.depth-2 td:nth-child(2){padding-left:3em}tr.owned.depth-3 td:nth-child(2){padding-left:4.5em}.branch{color:var(--muted)}.error{color:var(--bad)}
.badge{border:1px solid currentColor;border-radius:1em;padding:0 .5em;font-size:12px;white-space:nowrap}
.synced,.healthy{color:var(--ok)}.outofsync,.drifted,.progressing,.warned,.driftfound,.breakglass{color:var(--warn)}
.degraded,.missing,.denied,.driftreverted{color:var(--bad)}
table.diff{width:auto;font-size:12px}code{font-size:12px;word-break:break-all}
`;
