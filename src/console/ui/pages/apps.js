/** The apps: each with its health and its last reconciliation. */
import { get, enc } from '../api.js';
import { html, useLoad, Loaded, Status, time } from '../ui.js';

/**
 * An app's health at a glance: `attention` while an operation is retrying (the app is down or refusing) or when
 * the last reconciliation failed, made errors or waits for confirmation; `healthy` otherwise.
 */
export async function appHealth(app) {
  const [reconciliations, retrying] = await Promise.all([
    get(`/api/apps/${enc(app.id)}/reconciliations?limit=1`).catch(() => ({ items: [] })),
    get(`/api/operations?appId=${enc(app.id)}&status=retrying&limit=5`).catch(() => ({ items: [] })),
  ]);
  const last = reconciliations.items[0] ?? null;
  const reasons = [];
  if (retrying.items.length > 0) reasons.push(`${retrying.items.length} operation(s) retrying`);
  if (last?.status === 'failed') reasons.push(`last reconciliation failed: ${last.error ?? ''}`);
  if (last?.status === 'needs-confirmation') reasons.push('last reconciliation needs confirmation');
  if (last?.counts?.errors > 0) reasons.push(`${last.counts.errors} error(s) in the last reconciliation`);
  const health = reasons.length > 0 ? 'attention' : 'healthy';
  return { health, reasons, last };
}

function LastReconciliation({ app, last }) {
  if (!last) return html`<span class="muted">none yet</span>`;
  const { counts } = last;
  return html`<a href=${`#/apps/${enc(app.id)}/reconciliation/${enc(last.workflowId)}`}>
    <${Status} value=${last.status} />${last.dryRun ? ' (dry run)' : ''}
    ${time(last.finishedAt ?? last.startedAt)}
    ${
      counts &&
      html`<span class="muted"
        >${` · ${counts.created} created, ${counts.updated} updated, ${counts.deprovisioned} deprovisioned, ${counts.errors} errors`}</span
      >`
    }
  </a>`;
}

export function AppsPage() {
  const state = useLoad(async () => {
    const { items } = await get('/api/apps');
    return Promise.all(items.map(async (app) => ({ app, ...(await appHealth(app)) })));
  });
  return html`<section>
    <header class="page-head">
      <h1>Apps</h1>
      <a class="button" href="#/apps/new">New app</a>
    </header>
    <${Loaded} state=${state}>
      ${(rows) =>
        rows.length === 0
          ? html`<p>No app yet. <a href="#/apps/new">Connect the first one</a>.</p>`
          : html`<table class="apps">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>SCIM base URL</th>
                  <th>Profile</th>
                  <th>Groups</th>
                  <th>Health</th>
                  <th>Last reconciliation</th>
                </tr>
              </thead>
              <tbody>
                ${rows.map(
                  ({ app, health, reasons, last }) =>
                    html`<tr data-app=${app.name}>
                      <td><a href=${`#/apps/${enc(app.id)}`}>${app.name}</a></td>
                      <td><code>${app.baseUrl}</code></td>
                      <td>${app.profile}</td>
                      <td>${app.assignedGroupIds.length}</td>
                      <td title=${reasons.join('; ')}>
                        <${Status} value=${health} />
                        ${reasons.length > 0 && html`<div class="muted small">${reasons.join('; ')}</div>`}
                      </td>
                      <td><${LastReconciliation} app=${app} last=${last} /></td>
                    </tr>`,
                )}
              </tbody>
            </table>`}
    <//>
  </section>`;
}
