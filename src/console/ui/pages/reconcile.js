/* global setTimeout */
/**
 * An app's reconciliation: run it, or dry-run it and read the diff before confirming; a run stopped by the
 * deletion safeguard shows its count and a confirm button; the reports; the schedule.
 */
import { api, get, enc, ApiError } from '../api.js';
import { html, useLoad, useAction, Loaded, ErrorNote, Status, time, go } from '../ui.js';
import { TemporalLink } from './operations.js';

const CATEGORIES = [
  'created',
  'updated',
  'deprovisioned',
  'membershipsFixed',
  'unmanaged',
  'errors',
  'deferred',
  'skipped',
  'imported',
];

const reportPath = (appId, workflowId) => `#/apps/${enc(appId)}/reconciliation/${enc(workflowId)}`;

function Counts({ counts }) {
  return html`<ul class="counts">
    ${[...CATEGORIES, 'unchanged'].map((key) => html`<li><strong>${counts?.[key] ?? 0}</strong> ${key}</li>`)}
  </ul>`;
}

/** What a run did or (dry run, needs confirmation) would do, object by object. */
function Diff({ report }) {
  return html`<div class="diff" data-testid="diff">
    ${CATEGORIES.filter((key) => report.objects?.[key]?.length > 0).map(
      (key) =>
        html`<h3>${key} (${report.counts?.[key]})</h3>
          <ul>
            ${report.objects[key].map(
              (object) =>
                html`<li>
                  ${`${object.resourceType} `}<strong>${object.name}</strong>${object.detail && ` — ${object.detail}`}
                  ${object.error && html`<span class="error-text"> ${object.error}</span>`}
                </li>`,
            )}
            ${report.truncated?.includes(key) && html`<li class="muted">… (cut at 1000)</li>`}
          </ul>`,
    )}
  </div>`;
}

function Report({ appId, workflowId, onSettled }) {
  const state = useLoad(async () => {
    // A run just started has no report for a moment (404): read again, as while it runs.
    const report = await get(`/api/apps/${enc(appId)}/reconciliations/${enc(workflowId)}`).catch((error) => {
      if (error instanceof ApiError && error.status === 404) return { status: 'starting' };
      throw error;
    });
    if (report.status === 'running' || report.status === 'starting') setTimeout(() => state.reload(), 1000);
    else onSettled();
    return report;
  }, [workflowId]);
  const action = useAction();
  const start = (body) =>
    action.run(async () => {
      const answer = await api('POST', `/api/apps/${enc(appId)}/reconcile`, body);
      go(reportPath(appId, answer.workflowId));
    });
  return html`<${Loaded} state=${state}>
    ${(report) =>
      html`<article class="report" data-status=${report.status}>
        <h2>
          ${report.dryRun ? 'Dry run' : 'Run'} <${Status} value=${report.status} />
          <span class="muted small">${time(report.startedAt)} → ${time(report.finishedAt)}</span>
          <${TemporalLink} url=${report.uiUrl} />
        </h2>
        ${report.error && html`<p class="error-text">${report.error}</p>`}
        <${Counts} counts=${report.counts} />
        ${
          report.deletionSafeguard &&
          html`<p class=${report.deletionSafeguard.exceeded ? 'warn-text' : 'muted'}>
            ${`Deletions: ${report.deletionSafeguard.total} (limit ${report.deletionSafeguard.limit} for ${report.deletionSafeguard.appUsers} users)`}
          </p>`
        }
        ${
          report.status === 'needs-confirmation' &&
          html`<div class="confirm">
            <p>
              ${`This run stopped before writing anything: it would make ${report.deletionSafeguard?.total} deletion(s), more than the app's threshold (${report.deletionSafeguard?.limit}) allows.`}
            </p>
            <button
              type="button"
              name="confirm-deletions"
              class="danger"
              disabled=${action.busy}
              onClick=${() => start({ confirmDeletions: true })}
            >
              Confirm ${report.deletionSafeguard?.total} deletion(s) and run
            </button>
          </div>`
        }
        ${
          report.dryRun &&
          report.status === 'completed' &&
          html`<div class="confirm">
            <p>Nothing was written. Apply what this dry run found?</p>
            <button
              type="button"
              name="apply"
              disabled=${action.busy}
              onClick=${() => start({ confirmDeletions: Boolean(report.deletionSafeguard?.exceeded) })}
            >
              Run for real${report.deletionSafeguard?.exceeded ? ', with the deletions' : ''}
            </button>
          </div>`
        }
        <${ErrorNote} error=${action.error} />
        <${Diff} report=${report} />
      </article>`}
  <//>`;
}

function Schedule({ appId }) {
  const state = useLoad(() => get(`/api/apps/${enc(appId)}/schedule`));
  const action = useAction();
  const toggle = (paused) =>
    action.run(async () => {
      await api('POST', `/api/apps/${enc(appId)}/schedule/${paused ? 'resume' : 'pause'}`);
      state.reload();
    });
  return html`<${Loaded} state=${state}>
    ${(schedule) =>
      html`<p>
        ${`Schedule: every ${schedule.intervalMinutes} minutes, ${schedule.paused ? 'paused' : `next ${time(schedule.nextRunAt)}`} `}
        <button
          type="button"
          class="secondary"
          disabled=${action.busy}
          onClick=${() => toggle(schedule.paused)}
        >
          ${schedule.paused ? 'Resume' : 'Pause'}
        </button>
        <${ErrorNote} error=${action.error} />
      </p>`}
  <//>`;
}

export function ReconcilePage({ appId, reportId }) {
  const app = useLoad(() => get(`/api/apps/${enc(appId)}`));
  const reports = useLoad(() => get(`/api/apps/${enc(appId)}/reconciliations?limit=20`));
  const action = useAction();
  const start = (body) =>
    action.run(async () => {
      const answer = await api('POST', `/api/apps/${enc(appId)}/reconcile`, body);
      go(reportPath(appId, answer.workflowId));
    });
  return html`<section>
    <header class="page-head">
      <h1>Reconciliation of <a href=${`#/apps/${enc(appId)}`}>${app.data?.name ?? 'the app'}</a></h1>
    </header>
    <${Schedule} appId=${appId} />
    <div class="actions">
      <button type="button" name="dry-run" disabled=${action.busy} onClick=${() => start({ dryRun: true })}>
        Dry run
      </button>
      <button type="button" name="run" disabled=${action.busy} onClick=${() => start({})}>Run now</button>
    </div>
    <${ErrorNote} error=${action.error} />
    ${reportId && html`<${Report} appId=${appId} workflowId=${reportId} onSettled=${reports.reload} />`}
    <h2>Reports</h2>
    <${Loaded} state=${reports}>
      ${({ items }) =>
        items.length === 0
          ? html`<p class="muted">No run yet.</p>`
          : html`<table class="reports">
              <thead>
                <tr>
                  <th>Started</th>
                  <th>Kind</th>
                  <th>Status</th>
                  <th>Created</th>
                  <th>Updated</th>
                  <th>Deprovisioned</th>
                  <th>Errors</th>
                </tr>
              </thead>
              <tbody>
                ${items.map(
                  (report) =>
                    html`<tr>
                      <td><a href=${reportPath(appId, report.workflowId)}>${time(report.startedAt)}</a></td>
                      <td>${report.dryRun ? 'dry run' : 'run'}</td>
                      <td><${Status} value=${report.status} /></td>
                      <td>${report.counts?.created ?? '—'}</td>
                      <td>${report.counts?.updated ?? '—'}</td>
                      <td>${report.counts?.deprovisioned ?? '—'}</td>
                      <td>${report.counts?.errors ?? '—'}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`}
    <//>
  </section>`;
}
