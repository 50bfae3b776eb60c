/** HTML escaping and the page frame. Every value that reaches a page passes through `esc`. */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function esc(value: unknown): string {
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  return (text ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** A tagged template whose interpolations are escaped unless they are `Html` already. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += interpolate(v) + (strings[i + 1] ?? "");
  });
  return new Html(out);
}

function interpolate(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(interpolate).join("");
  return esc(v);
}

export interface Frame {
  title: string;
  user?: string;
  /** Which nav item is current. */
  section: "apps" | "activity" | "login";
  main: Html;
}

export function page(frame: Frame): string {
  const nav = frame.user
    ? html`<nav>
        <a href="/" ${frame.section === "apps" ? new Html('aria-current="page"') : ""}>Apps</a>
        <a href="/activity" ${frame.section === "activity" ? new Html('aria-current="page"') : ""}
          >Gate activity</a
        >
        <span class="user">${frame.user}</span>
        <form method="post" action="/logout"><button type="submit">Log out</button></form>
      </nav>`
    : html``;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${frame.title} · gitgate</title>
        <link rel="stylesheet" href="/static/dashboard.css" />
        <script src="/static/live.js" defer></script>
      </head>
      <body>
        <header><strong>gitgate</strong> ${nav}</header>
        <main id="main" data-live="${frame.user ? "on" : "off"}">${frame.main}</main>
      </body>
    </html> `.text;
}
