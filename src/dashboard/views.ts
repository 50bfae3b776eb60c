/** The dashboard's views as HTML (the `<main>` content; html.ts frames it). Pure. */
import type { FieldChange } from "../manifest/event.js";
import { describeRef } from "../manifest/object.js";
import type { ActivityEntry } from "./activity.js";
import { html, type Html } from "./html.js";
import type { AppDetail, AppSummary, ClusterRow, ObjectView } from "./model.js";
import type { OwnedView } from "./tree.js";

export function loginView(error?: string): Html {
  return html`<h1>Log in</h1>
    <p>
      Paste a Kubernetes bearer token (a ServiceAccount token, or your OIDC ID token). It is checked with a
      TokenReview and kept on the server only; the browser gets an opaque session cookie.
    </p>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
    <form method="post" action="/login" autocomplete="off">
      <label for="token">Token</label>
      <input id="token" name="token" type="password" required maxlength="8192" />
      <button type="submit">Log in</button>
    </form>`;
}

function badge(value: string): Html {
  return html`<span class="badge ${value.toLowerCase().replace(/[^a-z]/g, "")}">${value}</span>`;
}

function appLink(a: { namespace: string; name: string }): string {
  return `/apps/${encodeURIComponent(a.namespace)}/${encodeURIComponent(a.name)}`;
}

/** "subject — author", or "—" when this replica did not fetch the commit. */
function commitLine(a: AppSummary): Html {
  if (!a.subject && !a.author) return html`—`;
  return html`<span class="subject">${a.subject}</span> <span class="author">— ${a.author}</span>`;
}

/** The registered clusters: whether each answers, and how many of the listed apps go there. */
function clustersTable(clusters: ClusterRow[], apps: AppSummary[]): Html {
  if (clusters.length === 0) return html``;
  const rows = clusters.map(
    (c) =>
      html`<tr data-cluster="${c.name}">
        <td>${c.name}</td>
        <td>${badge(c.reachable ? "Reachable" : "Unreachable")}</td>
        <td><code>${c.serverVersion ?? "—"}</code></td>
        <td>${apps.filter((a) => a.cluster === c.name).length}</td>
      </tr>`,
  );
  return html`<h2>Clusters</h2>
    <table id="clusters">
      <thead>
        <tr>
          <th>Cluster</th>
          <th>Connection</th>
          <th>Version</th>
          <th>Apps</th>
        </tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>`;
}

/** The cluster column: the registered cluster's name, or "in-cluster" for gitgate's own. */
function clusterCell(a: AppSummary): Html {
  return html`<td class="cluster">${a.cluster || "in-cluster"}</td>`;
}

export function appsView(
  apps: AppSummary[],
  namespaces: string[],
  filter?: string,
  clusters: ClusterRow[] = [],
): Html {
  const options = namespaces.map(
    (ns) => html`<option value="${ns}" ${ns === filter ? html`selected` : ""}>${ns}</option>`,
  );
  // With no cluster registered every app is on gitgate's own: no column for that.
  const several = clusters.length > 0 || apps.some((a) => a.cluster);
  const rows = apps.map(
    (a) =>
      html`<tr data-app="${a.namespace}/${a.name}">
        <td><a href="${appLink(a)}">${a.namespace}/${a.name}</a></td>
        ${several ? clusterCell(a) : ""}
        <td>${badge(a.sync)}</td>
        <td>${badge(a.health)}</td>
        <td>${a.drifted > 0 ? badge(`${a.drifted} drifted`) : "—"}</td>
        <td class="rev"><code>${a.revision || "—"}</code></td>
        <td class="commit">${commitLine(a)}</td>
        <td>${a.lastSync ? html`<time datetime="${a.lastSync}">${a.lastSync}</time>` : "—"}</td>
        <td class="msg">${a.message}</td>
      </tr>`,
  );
  return html`<h1>Apps</h1>
    <form method="get" action="/" class="filter">
      <label for="ns">Namespace</label>
      <select id="ns" name="namespace">
        <option value="">all</option>
        ${options}
      </select>
      <button type="submit">Filter</button>
    </form>
    <table id="apps">
      <thead>
        <tr>
          <th>App</th>
          ${several ? html`<th>Cluster</th>` : ""}
          <th>Sync</th>
          <th>Health</th>
          <th>Drift</th>
          <th>Revision</th>
          <th>Commit</th>
          <th>Last sync</th>
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        ${
          rows.length > 0
            ? rows
            : html`<tr>
                <td colspan="${several ? "9" : "8"}">No apps you may see.</td>
              </tr>`
        }
      </tbody>
    </table>
    ${clustersTable(clusters, apps)}`;
}

function value(v: unknown): Html {
  return v === undefined
    ? html`<em>absent</em>`
    : html`<code>${typeof v === "string" ? v : JSON.stringify(v)}</code>`;
}

function changesTable(changes: FieldChange[]): Html {
  if (changes.length === 0) return html``;
  return html`<table class="diff">
    <thead>
      <tr>
        <th>Field</th>
        <th>Git</th>
        <th>Live / requested</th>
      </tr>
    </thead>
    <tbody>
      ${changes.map(
        (c) =>
          html`<tr>
            <td><code>${c.path}</code>${c.undeclared ? " (not in Git)" : ""}</td>
            <td>${value(c.gitValue)}</td>
            <td>${value(c.liveValue)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** An owned object under its Git object: indented by depth (a class: the CSP forbids inline style). */
function ownedRow(o: OwnedView): Html {
  return html`<tr
    class="owned depth-${String(Math.min(o.depth, 3))}"
    data-object="${o.key}"
    data-owner="${o.owner}"
  >
    <td>${o.kind}</td>
    <td><span class="branch">└</span> ${o.namespace ? `${o.namespace}/` : ""}${o.name}</td>
    <td>${badge(o.health)} <span class="msg">${o.healthMessage}</span></td>
    <td>${badge("Owned")}</td>
    <td>— (created by its owner)</td>
  </tr>`;
}

function objectRow(o: ObjectView): Html {
  return html`<tr data-object="${o.key}">
      <td>${o.kind}</td>
      <td>${o.namespace ? `${o.namespace}/` : ""}${o.name}</td>
      <td>${badge(o.health)} <span class="msg">${o.healthMessage}</span></td>
      <td>${badge(o.sync)}</td>
      <td>
        ${o.source ? html`<code>${o.source.file}</code> @ <code>${o.source.commit.slice(0, 7)}</code>` : "—"}
      </td>
    </tr>
    ${
      o.changes.length > 0
        ? html`<tr class="diffrow">
            <td colspan="5">${changesTable(o.changes)}</td>
          </tr>`
        : ""
    }
    ${o.owned.map(ownedRow)}`;
}

export function appView(d: AppDetail): Html {
  const s = d.summary;
  return html`<h1>${s.namespace}/${s.name}</h1>
    <p>
      ${badge(s.sync)} ${badge(s.health)}
      ${s.cluster ? html`on cluster <strong class="cluster">${s.cluster}</strong>, ` : ""}revision
      <code>${s.revision || "—"}</code> <span class="commit">${commitLine(s)}</span> of
      <code>${d.repoURL}</code> path <code>${d.path || "."}</code>; last sync ${s.lastSync || "—"}
    </p>
    <p class="msg">${s.message}</p>
    <table id="objects">
      <thead>
        <tr>
          <th>Kind</th>
          <th>Name</th>
          <th>Health</th>
          <th>Sync</th>
          <th>Git file @ commit</th>
        </tr>
      </thead>
      <tbody>
        ${d.objects.map(objectRow)}
      </tbody>
    </table>
    ${
      d.ownedHidden > 0 || d.ownedNotes.length > 0
        ? html`<p class="note" id="owned-note">
            ${d.ownedHidden > 0 ? `${String(d.ownedHidden)} more owned objects not shown. ` : ""}${d.ownedNotes.join("; ")}
          </p>`
        : ""
    }`;
}

const LABELS: Record<string, string> = {
  "change-denied": "Denied",
  "change-warned": "Warned",
  "change-audited": "Audited",
  "drift-reverted": "Drift reverted",
  "drift-found": "Drift found",
  "break-glass-used": "Break-glass",
  "break-glass-expired": "Break-glass expired",
};

function activityRow(entry: ActivityEntry): Html {
  const e = entry.event;
  return html`<tr data-seq="${String(entry.seq)}" class="${e.type}">
    <td><time datetime="${e.time}">${e.time}</time></td>
    <td>
      ${badge(LABELS[e.type] ?? e.type)}${entry.count ? html` <span class="count">×${String(entry.count)}</span>` : ""}
    </td>
    <td>${e.actor?.username ?? "—"}</td>
    <td>${e.object ? describeRef(e.object) : "—"}</td>
    <td><a href="${appLink(e.app)}">${e.app.namespace}/${e.app.name}</a></td>
    <td>
      ${changesTable(e.changes ?? [])}${e.action}${e.detail ? html` <span class="msg">${e.detail}</span>` : ""}
    </td>
  </tr>`;
}

export function activityView(entries: ActivityEntry[]): Html {
  return html`<h1>Gate activity</h1>
    <p class="note">
      Denials, warnings, drift and break-glass seen by this replica (newest first; kept in memory and as
      Events on the GitApp, read back at startup; the last ${String(entries.length)} shown).
    </p>
    <table id="activity">
      <thead>
        <tr>
          <th>When</th>
          <th>What</th>
          <th>Who</th>
          <th>Object</th>
          <th>App</th>
          <th>Fields: Git vs requested</th>
        </tr>
      </thead>
      <tbody>
        ${
          entries.length > 0
            ? entries.map(activityRow)
            : html`<tr>
                <td colspan="6">Nothing yet.</td>
              </tr>`
        }
      </tbody>
    </table>`;
}
