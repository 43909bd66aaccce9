/* global window */
/** One app: its settings, what it is doing, and the ways into its links, reconciliation, import and operations. */
import { useState } from 'preact/hooks';
import { api, get, enc } from '../api.js';
import { html, useLoad, useAction, Loaded, ErrorNote, Status, go } from '../ui.js';
import { SWITCH_GROUPS } from './wizard.js';
import { appHealth } from './apps.js';

export function AppPage({ appId }) {
  const state = useLoad(async () => {
    const app = await get(`/api/apps/${enc(appId)}`);
    // The assigned groups by name (one read each: an app has a few).
    const groups = await Promise.all(
      app.assignedGroupIds.map((id) => get(`/api/groups/${enc(id)}`).catch(() => ({ id, displayName: id }))),
    );
    return { app, groups, ...(await appHealth(app)) };
  });
  const action = useAction();
  const [connection, setConnection] = useState(null);
  const test = () =>
    action.run(async () => setConnection(await api('POST', `/api/apps/${enc(appId)}/test-connection`)));
  const remove = (app) =>
    action.run(async () => {
      if (!window.confirm(`Remove ${app.name} from scimflow? Nothing is written to the app.`)) return;
      await api('DELETE', `/api/apps/${enc(appId)}`);
      go('#/apps');
    });
  return html`<${Loaded} state=${state}>
    ${({ app, groups, health, reasons }) =>
      html`<section>
        <header class="page-head">
          <h1>${app.name}</h1>
          <${Status} value=${health} />
        </header>
        ${reasons.length > 0 && html`<p class="muted">${reasons.join('; ')}</p>`}
        <nav class="tabs">
          <a href=${`#/apps/${enc(appId)}/edit`}>Change (wizard)</a>
          <a href=${`#/apps/${enc(appId)}/links`}>Links</a>
          <a href=${`#/apps/${enc(appId)}/reconciliation`}>Reconciliation</a>
          <a href=${`#/apps/${enc(appId)}/import`}>Import</a>
          <a href=${`#/operations?appId=${enc(appId)}`}>Operations</a>
        </nav>
        <dl class="record">
          <dt>SCIM base URL</dt>
          <dd><code>${app.baseUrl}</code> (${app.authType})</dd>
          <dt>Profile</dt>
          <dd>${app.profile}</dd>
          <dt>Switches</dt>
          <dd>
            ${SWITCH_GROUPS.map(
              ([group, switches]) =>
                html`<div>
                  ${group}:
                  ${switches.map(([key, label]) => html` <span class=${app.provisioning[key] ? 'on' : 'off'}>${label}</span>`)}
                </div>`,
            )}
          </dd>
          <dt>Deprovision mode</dt>
          <dd>${app.deprovisionMode}</dd>
          <dt>Match users by</dt>
          <dd>${app.userMatchAttribute}</dd>
          <dt>Reconciled every</dt>
          <dd>${app.reconcile.intervalMinutes} minutes</dd>
          <dt>Assigned groups</dt>
          <dd>
            ${groups.length === 0 ? 'none' : groups.map((group) => html`<a class="on" href=${`#/groups/${enc(group.id)}`}>${group.displayName}</a>`)}
          </dd>
          <dt>Assigned permissions</dt>
          <dd>${app.permissionKeys.join(', ') || 'none'}</dd>
          <dt>Effective</dt>
          <dd>
            ${[
              `users by ${app.effective.userUpdates}`,
              `groups by ${app.effective.groupUpdates}`,
              `${app.effective.membershipBatchSize} members per PATCH`,
              app.effective.rateLimit
                ? `${app.effective.rateLimit.requestsPerMinute} requests/min`
                : 'no rate limit',
            ].join(', ')}
          </dd>
          <dt>Kept by the app</dt>
          <dd>
            ${
              app.appManagedAttributes.length === 0
                ? 'nothing'
                : app.appManagedAttributes.map(
                    (item) =>
                      html`<div>
                        ${item.resourceType}.${item.attribute} (${item.reason}, ${item.objects})
                      </div>`,
                  )
            }
          </dd>
        </dl>
        <div class="actions">
          <button type="button" name="test-connection" disabled=${action.busy} onClick=${test}>
            Test connection
          </button>
          <button type="button" class="danger" disabled=${action.busy} onClick=${() => remove(app)}>
            Remove app
          </button>
        </div>
        ${
          connection &&
          html`<p class=${connection.ok ? 'ok-text' : 'error-text'}>
            ${connection.ok ? 'Connection OK' : `Connection failed: ${connection.error?.message ?? ''}`}
            ${connection.proposedProfile && ` — proposed profile ${connection.proposedProfile.profile}`}
          </p>`
        }
        <${ErrorNote} error=${action.error} />
      </section>`}
  <//>`;
}
