/**
 * Connecting an app, in three steps: Basic Details » Assign Permissions » Assign Groups. The app is saved when
 * step 1 is left (or its connection tested), so each later step changes a real app.
 */
import { useState } from 'preact/hooks';
import { api, get, enc, changeWithConfirmation } from '../api.js';
import { html, useLoad, useAction, ErrorNote, Loaded, Started, TextInput, Select, Checkbox } from '../ui.js';

export const PROFILES = [
  ['generic', 'Generic SCIM 2.0'],
  ['entra-compatible', 'Entra-compatible'],
  ['aws-iam-identity-center', 'AWS IAM Identity Center'],
  ['okta-compatible', 'Okta-compatible'],
  ['slack', 'Slack'],
  ['github-emu', 'GitHub EMU'],
  ['put-only', 'PUT only (no PATCH)'],
];

/** The provisioning switches, grouped as the wizard shows them. */
export const SWITCH_GROUPS = [
  [
    'Users',
    [
      ['createUsers', 'Create Users'],
      ['updateUsers', 'Update Users'],
      ['deleteUsers', 'Delete Users'],
    ],
  ],
  [
    'Groups',
    [
      ['createGroups', 'Create Group'],
      ['updateGroups', 'Update Group'],
      ['deleteGroups', 'Delete Group'],
      ['groupMembership', 'Add/Remove Group membership'],
    ],
  ],
  [
    'Entitlements',
    [
      ['roles', 'Add/Remove Roles'],
      ['permissions', 'Add/Remove Permissions'],
    ],
  ],
];

const STEPS = ['Basic Details', 'Assign Permissions', 'Assign Groups'];

const defaults = {
  name: '',
  baseUrl: '',
  allowPrivateNetwork: false,
  authType: 'bearer',
  token: '',
  username: '',
  password: '',
  profile: 'generic',
  provisioning: {
    createUsers: true,
    updateUsers: true,
    deleteUsers: true,
    createGroups: true,
    updateGroups: true,
    deleteGroups: true,
    groupMembership: true,
    roles: false,
    permissions: false,
  },
  deprovisionMode: 'deactivate',
  userMatchAttribute: 'userName',
  intervalMinutes: 60,
};

const fromApp = (app) => ({
  ...defaults,
  name: app.name,
  baseUrl: app.baseUrl,
  allowPrivateNetwork: app.allowPrivateNetwork,
  authType: app.authType,
  profile: app.profile,
  provisioning: { ...defaults.provisioning, ...app.provisioning },
  deprovisionMode: app.deprovisionMode,
  userMatchAttribute: app.userMatchAttribute,
  intervalMinutes: app.reconcile?.intervalMinutes ?? 60,
});

/** The body of a POST (new app) or PATCH (credentials only when typed: they are never shown again). */
function appBody(form, isNew) {
  const auth =
    form.authType === 'bearer'
      ? form.token && { type: 'bearer', token: form.token }
      : (form.username || form.password) && {
          type: 'basic',
          username: form.username,
          password: form.password,
        };
  return {
    name: form.name,
    baseUrl: form.baseUrl,
    allowPrivateNetwork: form.allowPrivateNetwork,
    ...(auth || isNew ? { auth: auth || { type: form.authType } } : {}),
    profile: form.profile,
    provisioning: form.provisioning,
    deprovisionMode: form.deprovisionMode,
    userMatchAttribute: form.userMatchAttribute,
    reconcile: { intervalMinutes: Number(form.intervalMinutes) },
  };
}

function ConnectionResult({ result, onUseProfile, profile }) {
  if (!result) return null;
  const proposed = result.proposedProfile;
  return html`<div class=${`connection ${result.ok ? 'ok' : 'bad'}`} data-testid="connection-result">
    <strong>${result.ok ? 'Connection OK' : 'Connection failed'}</strong>
    <ul>
      <li>Reachable: ${result.reachable ? 'yes' : 'no'}</li>
      <li>Authenticated: ${result.authenticated ? 'yes' : 'no'}</li>
      ${result.usersEndpoint && html`<li>/Users answered (${result.usersEndpoint.totalResults} users)</li>`}
      ${
        result.filters &&
        html`<li>Filters: externalId ${result.filters.externalId}, e-mail ${result.filters.email}</li>`
      }
      ${
        result.capabilities &&
        html`<li>
          ${`PATCH ${result.capabilities.patch ? 'supported' : 'not supported'}, bulk ${result.capabilities.bulk ? 'supported' : 'not supported'}`}
        </li>`
      }
      ${result.error && html`<li class="error-text">${result.error.step}: ${result.error.message}</li>`}
    </ul>
    ${
      proposed &&
      html`<p>
        Proposed profile: <strong>${proposed.profile}</strong>
        ${proposed.reasons?.length > 0 && html` — ${proposed.reasons.join('; ')}`}
        ${
          proposed.profile !== profile &&
          html` <button type="button" onClick=${() => onUseProfile(proposed.profile)}>
            Use ${proposed.profile}
          </button>`
        }
      </p>`
    }
  </div>`;
}

function BasicDetails({ form, setForm, isNew, saved, onNext, onTest, action, connection }) {
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const setSwitch = (key) => (value) =>
    setForm({ ...form, provisioning: { ...form.provisioning, [key]: value } });
  return html`<form
    class="wizard-step"
    onSubmit=${(event) => {
      event.preventDefault();
      onNext();
    }}
  >
    <fieldset>
      <legend>Target</legend>
      <${TextInput} label="Name" name="name" value=${form.name} onInput=${set('name')} required />
      <${TextInput}
        label="SCIM base URL"
        name="baseUrl"
        value=${form.baseUrl}
        onInput=${set('baseUrl')}
        placeholder="https://app.example.com/scim/v2"
        required
      />
      <${Checkbox}
        label="The app is on a private network"
        name="allowPrivateNetwork"
        checked=${form.allowPrivateNetwork}
        onChange=${set('allowPrivateNetwork')}
      />
      <${Select}
        label="Authentication"
        name="authType"
        value=${form.authType}
        onChange=${set('authType')}
        options=${[
          ['bearer', 'Bearer token'],
          ['basic', 'Basic (username and password)'],
        ]}
      />
      ${
        form.authType === 'bearer'
          ? html`<${TextInput}
              label=${isNew ? 'Token' : 'Token (leave empty to keep the saved one)'}
              name="token"
              type="password"
              value=${form.token}
              onInput=${set('token')}
              autocomplete="new-password"
            />`
          : html`<${TextInput}
                label="Username"
                name="username"
                value=${form.username}
                onInput=${set('username')}
              />
              <${TextInput}
                label=${isNew ? 'Password' : 'Password (leave empty to keep the saved one)'}
                name="password"
                type="password"
                value=${form.password}
                onInput=${set('password')}
                autocomplete="new-password"
              />`
      }
      <${Select}
        label="Profile"
        name="profile"
        value=${form.profile}
        onChange=${set('profile')}
        options=${PROFILES}
      />
      <div class="inline">
        <button type="button" name="test-connection" disabled=${action.busy} onClick=${onTest}>
          ${saved ? 'Test connection' : 'Save and test connection'}
        </button>
      </div>
      <${ConnectionResult} result=${connection} profile=${form.profile} onUseProfile=${set('profile')} />
    </fieldset>
    <fieldset class="switches">
      <legend>What scimflow may do in the app</legend>
      ${SWITCH_GROUPS.map(
        ([group, switches]) =>
          html`<div class="switch-group">
            <h3>${group}</h3>
            ${switches.map(
              ([key, label]) =>
                html`<${Checkbox}
                  label=${label}
                  name=${key}
                  checked=${form.provisioning[key]}
                  onChange=${setSwitch(key)}
                />`,
            )}
          </div>`,
      )}
    </fieldset>
    <fieldset>
      <legend>Behaviour</legend>
      <${Select}
        label="When a user leaves the app's scope"
        name="deprovisionMode"
        value=${form.deprovisionMode}
        onChange=${set('deprovisionMode')}
        options=${[
          ['deactivate', 'Deactivate the remote user (active: false)'],
          ['delete', 'Delete the remote user'],
        ]}
      />
      <${Select}
        label="Match existing remote users by"
        name="userMatchAttribute"
        value=${form.userMatchAttribute}
        onChange=${set('userMatchAttribute')}
        options=${[
          ['userName', 'userName'],
          ['externalId', 'externalId (the directory id)'],
          ['email', 'e-mail'],
        ]}
      />
      <${TextInput}
        label="Reconcile every (minutes)"
        name="intervalMinutes"
        type="number"
        value=${form.intervalMinutes}
        onInput=${set('intervalMinutes')}
      />
    </fieldset>
    <${ErrorNote} error=${action.error} />
    <div class="actions">
      <button type="submit" name="next" disabled=${action.busy}>Next: Assign Permissions »</button>
    </div>
  </form>`;
}

function AssignPermissions({ app, onBack, onNext }) {
  const state = useLoad(() => get('/api/permissions'));
  const [keys, setKeys] = useState(new Set(app.permissionKeys));
  const [newKey, setNewKey] = useState('');
  const action = useAction();
  const [started, setStarted] = useState(null);
  const toggle = (key) => (on) => {
    const next = new Set(keys);
    if (on) next.add(key);
    else next.delete(key);
    setKeys(next);
  };
  const addPermission = () =>
    action.run(async () => {
      await api('POST', '/api/permissions', { key: newKey.trim() });
      setKeys(new Set([...keys, newKey.trim()]));
      setNewKey('');
      state.reload();
    });
  const save = () =>
    action.run(async () => {
      const answer = await api('PUT', `/api/apps/${enc(app.id)}/permissions`, { keys: [...keys].sort() });
      setStarted(answer.operations);
      onNext(answer);
    });
  return html`<div class="wizard-step">
    <p>
      Only the permissions assigned here are ever sent to <strong>${app.name}</strong>, as SCIM
      <code>entitlements</code> (with <em>Add/Remove Permissions</em> on).
      ${!app.provisioning.permissions && html` <em>Add/Remove Permissions is off for this app.</em>`}
    </p>
    <${Loaded} state=${state}>
      ${({ items }) =>
        items.length === 0
          ? html`<p class="muted">No permission defined yet.</p>`
          : html`<div class="checklist" data-testid="permissions">
              ${items.map(
                (permission) =>
                  html`<${Checkbox}
                    name=${`permission:${permission.key}`}
                    label=${html`<code>${permission.key}</code> ${permission.description ?? ''}`}
                    checked=${keys.has(permission.key)}
                    onChange=${toggle(permission.key)}
                  />`,
              )}
            </div>`}
    <//>
    <div class="inline">
      <${TextInput} label="New permission" name="newPermission" value=${newKey} onInput=${setNewKey} />
      <button
        type="button"
        name="add-permission"
        disabled=${!newKey.trim() || action.busy}
        onClick=${addPermission}
      >
        Add
      </button>
    </div>
    <${ErrorNote} error=${action.error} />
    <${Started} operations=${started} />
    <div class="actions">
      <button type="button" class="secondary" onClick=${onBack}>« Basic Details</button>
      <button type="button" name="next" disabled=${action.busy} onClick=${save}>Next: Assign Groups »</button>
    </div>
  </div>`;
}

function AssignGroups({ app, onBack }) {
  const state = useLoad(() => get('/api/groups?limit=500'));
  const [chosen, setChosen] = useState(new Set(app.assignedGroupIds));
  const [filter, setFilter] = useState('');
  const action = useAction();
  const [started, setStarted] = useState(null);
  const toggle = (id) => (on) => {
    const next = new Set(chosen);
    if (on) next.add(id);
    else next.delete(id);
    setChosen(next);
  };
  const finish = () =>
    action.run(async () => {
      const before = new Set(app.assignedGroupIds);
      const operations = [];
      for (const id of chosen) {
        if (!before.has(id))
          operations.push(...(await api('PUT', `/api/apps/${enc(app.id)}/groups/${enc(id)}`)).operations);
      }
      for (const id of before) {
        if (chosen.has(id)) continue;
        const answer = await changeWithConfirmation('DELETE', `/api/apps/${enc(app.id)}/groups/${enc(id)}`);
        if (answer) operations.push(...answer.operations);
      }
      setStarted(operations);
    });
  return html`<div class="wizard-step">
    <p>Members of the groups assigned here are provisioned to <strong>${app.name}</strong>.</p>
    <${TextInput} label="Search groups" name="groupFilter" value=${filter} onInput=${setFilter} />
    <${Loaded} state=${state}>
      ${({ items, total }) =>
        html`<div class="checklist" data-testid="groups">
          ${items
            .filter((group) => group.displayName.toLowerCase().includes(filter.toLowerCase()))
            .map(
              (group) =>
                html`<${Checkbox}
                  name=${`group:${group.displayName}`}
                  label=${`${group.displayName} (${group.memberIds.length} members)`}
                  checked=${chosen.has(group.id)}
                  onChange=${toggle(group.id)}
                />`,
            )}
          ${total > items.length && html`<p class="muted">Showing the first ${items.length} of ${total} groups.</p>`}
        </div>`}
    <//>
    <${ErrorNote} error=${action.error} />
    <${Started} operations=${started} />
    <div class="actions">
      <button type="button" class="secondary" onClick=${onBack}>« Assign Permissions</button>
      ${
        started
          ? html`<a class="button" href=${`#/apps/${enc(app.id)}`}>Done: open the app</a>`
          : html`<button type="button" name="finish" disabled=${action.busy} onClick=${finish}>
              Assign and finish
            </button>`
      }
    </div>
  </div>`;
}

/** The wizard, for a new app or (with `appId`) to change one. */
export function AppWizard({ appId, step: firstStep = 1 }) {
  const [step, setStep] = useState(firstStep);
  const [app, setApp] = useState(null);
  const [form, setForm] = useState(defaults);
  const [connection, setConnection] = useState(null);
  const action = useAction();
  const loaded = useLoad(async () => {
    if (!appId) return null;
    const existing = await get(`/api/apps/${enc(appId)}`);
    setApp(existing);
    setForm(fromApp(existing));
    return existing;
  }, [appId]);

  /** Creates the app, or saves the form into it; the saved app. */
  const save = async () => {
    const saved = app
      ? await api('PATCH', `/api/apps/${enc(app.id)}`, appBody(form, false))
      : await api('POST', '/api/apps', appBody(form, true));
    setApp(saved);
    setForm({ ...form, token: '', password: '' });
    return saved;
  };
  const test = () =>
    action.run(async () => {
      const saved = await save();
      setConnection(await api('POST', `/api/apps/${enc(saved.id)}/test-connection`));
    });
  const next = () =>
    action.run(async () => {
      await save();
      setStep(2);
    });

  return html`<section>
    <header class="page-head">
      <h1>${appId ? `Change ${app?.name ?? 'app'}` : app ? `New app: ${app.name}` : 'New app'}</h1>
    </header>
    <ol class="steps">
      ${STEPS.map(
        (label, index) =>
          html`<li class=${index + 1 === step ? 'current' : index + 1 < step ? 'done' : ''}>
            ${index > 0 && html`<span class="sep">»</span>`} ${label}
          </li>`,
      )}
    </ol>
    <${Loaded} state=${appId ? loaded : { data: null }}>
      ${() =>
        step === 1
          ? html`<${BasicDetails}
              form=${form}
              setForm=${setForm}
              isNew=${!app}
              saved=${Boolean(app)}
              onNext=${next}
              onTest=${test}
              action=${action}
              connection=${connection}
            />`
          : step === 2
            ? html`<${AssignPermissions}
                app=${app}
                onBack=${() => setStep(1)}
                onNext=${(saved) => {
                  setApp(saved);
                  setStep(3);
                }}
              />`
            : html`<${AssignGroups} app=${app} onBack=${() => setStep(2)} />`}
    <//>
    ${app && html`<p class="muted"><a href=${`#/apps/${enc(app.id)}`}>Leave the wizard</a></p>`}
  </section>`;
}
