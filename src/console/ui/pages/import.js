/* global setTimeout */
/** Import from an app: adopt what it already holds, and follow the import (an operation) until it ends. */
import { useEffect, useState } from 'preact/hooks';
import { api, get, enc } from '../api.js';
import { html, useLoad, useAction, ErrorNote, Status, Checkbox, time } from '../ui.js';
import { TemporalLink } from './operations.js';

const CLOSED = ['completed', 'failed', 'canceled', 'terminated', 'timed-out'];

function Progress({ workflowId }) {
  const [operation, setOperation] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let current = true;
    const poll = async () => {
      try {
        const seen = await get(`/api/operations/${enc(workflowId)}`);
        if (!current) return;
        setOperation(seen);
        if (!CLOSED.includes(seen.status)) setTimeout(poll, 1000);
      } catch (caught) {
        if (current) setError(caught);
      }
    };
    poll();
    return () => {
      current = false;
    };
  }, [workflowId]);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!operation) return html`<p class="loading">Starting…</p>`;
  const report = operation.result;
  return html`<div class="import-progress" data-status=${operation.status}>
    <p>
      Import <${Status} value=${operation.status} /> since ${time(operation.startTime)}
      ${operation.status === 'retrying' && html` — attempt ${operation.attempt}: ${operation.lastError}`}
      <${TemporalLink} url=${operation.uiUrl} />
    </p>
    ${operation.error && html`<p class="error-text">${operation.error}</p>`}
    ${
      report &&
      html`<div>
        <p><${Status} value=${report.outcome} /> ${report.detail}</p>
        ${
          report.counts &&
          html`<ul class="counts">
            ${Object.entries(report.counts).map(([key, value]) => html`<li><strong>${value}</strong> ${key}</li>`)}
          </ul>`
        }
        ${report.importGroup && html`<p>Users imported into <a href=${`#/groups/${enc(report.importGroup.id)}`}>${report.importGroup.displayName}</a></p>`}
        ${
          report.errors?.length > 0 &&
          html`<ul>
            ${report.errors.map((item) => html`<li class="error-text">${item.resourceType} ${item.name}: ${item.error}</li>`)}
          </ul>`
        }
      </div>`
    }
  </div>`;
}

export function ImportPage({ appId }) {
  const app = useLoad(() => get(`/api/apps/${enc(appId)}`));
  const [options, setOptions] = useState({ users: true, groups: false, memberships: true });
  const [workflowId, setWorkflowId] = useState(null);
  const action = useAction();
  const set = (key) => (value) => setOptions({ ...options, [key]: value });
  const start = () =>
    action.run(async () =>
      setWorkflowId((await api('POST', `/api/apps/${enc(appId)}/import`, options)).workflowId),
    );
  return html`<section>
    <header class="page-head">
      <h1>Import from <a href=${`#/apps/${enc(appId)}`}>${app.data?.name ?? 'the app'}</a></h1>
    </header>
    <p>
      Adopts the users (and groups) the app already holds into the directory. Nothing is written to the app.
    </p>
    <${Checkbox} label="Users" name="users" checked=${options.users} onChange=${set('users')} />
    <${Checkbox} label="Groups" name="groups" checked=${options.groups} onChange=${set('groups')} />
    <${Checkbox}
      label="Memberships"
      name="memberships"
      checked=${options.memberships}
      onChange=${set('memberships')}
    />
    <div class="actions">
      <button type="button" name="import" disabled=${action.busy} onClick=${start}>Import</button>
    </div>
    <${ErrorNote} error=${action.error} />
    ${workflowId && html`<${Progress} workflowId=${workflowId} />`}
  </section>`;
}
