/** Operations (one intent workflow each): filtered by app, user or group, intent and status; one in detail. */
import { useState } from 'preact/hooks';
import { get, enc, query } from '../api.js';
import { html, useLoad, Loaded, Status, time, Select, TextInput, go, useAction, ErrorNote } from '../ui.js';

const INTENTS = [
  'provisionUser',
  'updateUser',
  'deprovisionUser',
  'createGroup',
  'updateGroup',
  'deleteGroup',
  'syncGroupMembership',
  'syncRoleEntitlements',
  'importFromApp',
];
const STATUSES = ['running', 'retrying', 'completed', 'failed', 'canceled', 'terminated', 'timed-out'];

/** A link to an operation's run in the Temporal UI. */
export const TemporalLink = ({ url }) =>
  url ? html`<a href=${url} target="_blank" rel="noopener noreferrer">Temporal UI</a>` : null;

export function OperationsTable({ items, appNames = {} }) {
  if (items.length === 0) return html`<p class="muted">No operation.</p>`;
  return html`<table class="operations">
    <thead>
      <tr>
        <th>Intent</th>
        <th>App</th>
        <th>Resource</th>
        <th>Status</th>
        <th>Started</th>
        <th>Closed</th>
        <th>Run</th>
      </tr>
    </thead>
    <tbody>
      ${items.map(
        (operation) =>
          html`<tr data-workflow-id=${operation.workflowId}>
            <td><a href=${`#/operations/${enc(operation.workflowId)}`}>${operation.intent}</a></td>
            <td>${appNames[operation.appId] ?? operation.appId}</td>
            <td>
              ${
                operation.resourceType === 'User'
                  ? html`<a href=${`#/users/${enc(operation.resourceId)}`}
                      >user ${operation.resourceId.slice(0, 8)}</a
                    >`
                  : operation.resourceType === 'Group'
                    ? html`<a href=${`#/groups/${enc(operation.resourceId)}`}
                        >group ${operation.resourceId.slice(0, 8)}</a
                      >`
                    : operation.resourceType
              }
            </td>
            <td>
              <${Status} value=${operation.status} />
              ${operation.lastError && html`<div class="small error-text">${operation.lastError}</div>`}
            </td>
            <td>${time(operation.startTime)}</td>
            <td>${time(operation.closeTime)}</td>
            <td><${TemporalLink} url=${operation.uiUrl} /></td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function OperationsPage({ filters }) {
  const [form, setForm] = useState({ userName: '', ...filters });
  const lookup = useAction();
  const apps = useLoad(() => get('/api/apps'));
  const state = useLoad(
    () =>
      get(
        `/api/operations${query({
          appId: filters.appId,
          resourceId: filters.resourceId,
          intent: filters.intent,
          status: filters.status,
          limit: filters.limit ?? 100,
        })}`,
      ),
    [],
  );
  const appNames = Object.fromEntries((apps.data?.items ?? []).map((app) => [app.id, app.name]));
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const apply = (event) => {
    event.preventDefault();
    lookup.run(async () => {
      let { resourceId } = form;
      // A userName is looked up: operations are filed by the user's id.
      if (form.userName) {
        const { items } = await get(`/api/users${query({ userName: form.userName })}`);
        if (items.length === 0) throw new Error(`no user ${form.userName}`);
        resourceId = items[0].id;
      }
      go(`#/operations${query({ appId: form.appId, resourceId, intent: form.intent, status: form.status })}`);
    });
  };
  return html`<section>
    <header class="page-head">
      <h1>Operations</h1>
      <button type="button" onClick=${state.reload}>Refresh</button>
    </header>
    <form class="filters" onSubmit=${apply}>
      <${Select}
        label="App"
        name="appId"
        value=${form.appId ?? ''}
        onChange=${set('appId')}
        options=${[['', 'any'], ...(apps.data?.items ?? []).map((app) => [app.id, app.name])]}
      />
      <${TextInput}
        label="User (userName)"
        name="userName"
        value=${form.userName}
        onInput=${set('userName')}
      />
      <${TextInput}
        label="or resource id"
        name="resourceId"
        value=${form.resourceId}
        onInput=${set('resourceId')}
      />
      <${Select}
        label="Intent"
        name="intent"
        value=${form.intent ?? ''}
        onChange=${set('intent')}
        options=${[['', 'any'], ...INTENTS]}
      />
      <${Select}
        label="Status"
        name="status"
        value=${form.status ?? ''}
        onChange=${set('status')}
        options=${[['', 'any'], ...STATUSES]}
      />
      <button type="submit">Filter</button>
    </form>
    <${ErrorNote} error=${lookup.error} />
    <p class="muted small">
      Operations are listed from Temporal's visibility store: a new one may take a moment to show.
    </p>
    <${Loaded} state=${state}
      >${({ items }) => html`<${OperationsTable} items=${items} appNames=${appNames} />`}<//
    >
  </section>`;
}

export function OperationPage({ workflowId }) {
  const state = useLoad(() => get(`/api/operations/${enc(workflowId)}`));
  return html`<section>
    <header class="page-head">
      <h1>Operation</h1>
      <button type="button" onClick=${state.reload}>Refresh</button>
    </header>
    <${Loaded} state=${state}>
      ${(operation) =>
        html`<dl class="record">
          <dt>Workflow</dt>
          <dd><code>${operation.workflowId}</code> <${TemporalLink} url=${operation.uiUrl} /></dd>
          <dt>Intent</dt>
          <dd>${operation.intent}</dd>
          <dt>App</dt>
          <dd><a href=${`#/apps/${enc(operation.appId)}`}>${operation.appId}</a></dd>
          <dt>Resource</dt>
          <dd>${operation.resourceType} ${operation.resourceId}</dd>
          <dt>Status</dt>
          <dd>
            <${Status} value=${operation.status} />
            ${operation.queuedIn && `(queued in the ${operation.queuedIn})`}
          </dd>
          <dt>Started / closed</dt>
          <dd>${time(operation.startTime)} / ${time(operation.closeTime)}</dd>
          ${
            operation.status === 'retrying' &&
            html`<dt>Retrying</dt>
              <dd>
                ${operation.retryingActivity}, attempt ${operation.attempt}: ${operation.lastError}; next
                ${time(operation.nextAttemptAt)}
              </dd>`
          }
          ${
            operation.result &&
            html`<dt>Result</dt>
              <dd><${Status} value=${operation.result.outcome} /> ${operation.result.detail}</dd>`
          }
          ${
            operation.error &&
            html`<dt>Error</dt>
              <dd class="error-text">${operation.error}</dd>`
          }
        </dl>`}
    <//>
  </section>`;
}
