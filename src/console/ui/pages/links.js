/** An app's links: each remote object scimflow knows, its sync status and last error, and "sync now". */
import { useState } from 'preact/hooks';
import { api, get, enc, ApiError } from '../api.js';
import { html, useLoad, Loaded, Status, time, Started, TextInput } from '../ui.js';

/** A link's name: the userName or displayName last written (or the directory id). */
const nameOf = (link) => link.lastPushed?.userName ?? link.lastPushed?.displayName ?? link.localId;

function SyncNow({ appId, link }) {
  const [state, setState] = useState({ busy: false, operations: null, note: null });
  const sync = async () => {
    setState({ busy: true, operations: null, note: null });
    try {
      const path = `/api/apps/${enc(appId)}/links/${enc(link.resourceType)}/${enc(link.localId)}/sync`;
      const answer = await api('POST', path);
      setState({ busy: false, operations: answer.operations, note: null });
    } catch (error) {
      const unavailable = error instanceof ApiError && error.status === 404 && /no route/.test(error.message);
      setState({
        busy: false,
        operations: null,
        note: unavailable ? 'not available in this scimflow' : error.message,
      });
    }
  };
  return html`<button type="button" name="sync-now" disabled=${state.busy} onClick=${sync}>Sync now</button>
    ${state.note && html`<div class="small error-text">${state.note}</div>`}
    ${state.operations && html`<${Started} operations=${state.operations} />`}`;
}

export function LinksPage({ appId }) {
  const app = useLoad(() => get(`/api/apps/${enc(appId)}`));
  const state = useLoad(() => get(`/api/apps/${enc(appId)}/links`));
  const [filter, setFilter] = useState('');
  return html`<section>
    <header class="page-head">
      <h1>Links of <a href=${`#/apps/${enc(appId)}`}>${app.data?.name ?? 'the app'}</a></h1>
      <button type="button" onClick=${state.reload}>Refresh</button>
    </header>
    <${TextInput} label="Search" name="search" value=${filter} onInput=${setFilter} />
    <${Loaded} state=${state}>
      ${({ items }) =>
        html`<table class="links">
            <thead>
              <tr>
                <th>Type</th>
                <th>Name</th>
                <th>Remote id</th>
                <th>Status</th>
                <th>Last error</th>
                <th>Kept by the app</th>
                <th>Updated</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${items
                .filter((link) =>
                  `${nameOf(link)} ${link.status}`.toLowerCase().includes(filter.toLowerCase()),
                )
                .map(
                  (link) =>
                    html`<tr data-link=${nameOf(link)}>
                      <td>${link.resourceType}</td>
                      <td>
                        <a
                          href=${`#/${link.resourceType === 'User' ? 'users' : 'groups'}/${enc(link.localId)}`}
                          >${nameOf(link)}</a
                        >
                      </td>
                      <td><code>${link.remoteId ?? '—'}</code></td>
                      <td><${Status} value=${link.status} /></td>
                      <td class="error-text">${link.lastError ?? ''}</td>
                      <td>
                        ${link.appManaged.map((item) => `${item.attribute} (${item.reason})`).join(', ')}
                      </td>
                      <td>${time(link.updatedAt)}</td>
                      <td><${SyncNow} appId=${appId} link=${link} /></td>
                    </tr>`,
                )}
            </tbody>
          </table>
          ${items.length === 0 && html`<p class="muted">No remote object yet.</p>`}`}
    <//>
  </section>`;
}
