/** Permissions and roles: create and delete permissions; create roles, edit their permissions and groups. */
import { useState } from 'preact/hooks';
import { api, get, enc } from '../api.js';
import { html, useLoad, useAction, Loaded, ErrorNote, Started, TextInput, Checkbox, go } from '../ui.js';

function Permissions({ state }) {
  const [key, setKey] = useState('');
  const [description, setDescription] = useState('');
  const action = useAction();
  const [started, setStarted] = useState(null);
  const create = (event) => {
    event.preventDefault();
    action.run(async () => {
      await api('POST', '/api/permissions', { key: key.trim(), ...(description && { description }) });
      setKey('');
      setDescription('');
      state.reload();
    });
  };
  const remove = (permission) =>
    action.run(async () => {
      setStarted((await api('DELETE', `/api/permissions/${enc(permission.key)}`)).operations);
      state.reload();
    });
  return html`<fieldset>
    <legend>Permissions</legend>
    <form class="inline" name="new-permission" onSubmit=${create}>
      <${TextInput}
        label="Key"
        name="key"
        value=${key}
        onInput=${setKey}
        required
        placeholder="billing.read"
      />
      <${TextInput} label="Description" name="description" value=${description} onInput=${setDescription} />
      <button type="submit" disabled=${action.busy}>Create permission</button>
    </form>
    <${ErrorNote} error=${action.error} />
    <${Started} operations=${started} />
    <${Loaded} state=${state}>
      ${({ items }) =>
        html`<ul class="permissions">
          ${items.map(
            (permission) =>
              html`<li>
                <code>${permission.key}</code> ${permission.description ?? ''}
                <button type="button" class="link" onClick=${() => remove(permission)}>delete</button>
              </li>`,
          )}
        </ul>`}
    <//>
  </fieldset>`;
}

export function RolesPage() {
  const roles = useLoad(() => get('/api/roles'));
  const permissions = useLoad(() => get('/api/permissions'));
  const [name, setName] = useState('');
  const action = useAction();
  const create = (event) => {
    event.preventDefault();
    action.run(async () => {
      const role = await api('POST', '/api/roles', { name: name.trim() });
      go(`#/roles/${enc(role.id)}`);
    });
  };
  return html`<section>
    <header class="page-head"><h1>Roles & permissions</h1></header>
    <${Permissions} state=${permissions} />
    <fieldset>
      <legend>Roles</legend>
      <form class="inline" name="new-role" onSubmit=${create}>
        <${TextInput} label="New role" name="name" value=${name} onInput=${setName} required />
        <button type="submit" disabled=${action.busy}>Create role</button>
      </form>
      <${ErrorNote} error=${action.error} />
      <${Loaded} state=${roles}>
        ${({ items }) =>
          html`<table class="roles">
            <thead>
              <tr>
                <th>Role</th>
                <th>Permissions</th>
                <th>Groups</th>
              </tr>
            </thead>
            <tbody>
              ${items.map(
                (role) =>
                  html`<tr>
                    <td><a href=${`#/roles/${enc(role.id)}`}>${role.name}</a></td>
                    <td>${role.permissionKeys.join(', ')}</td>
                    <td>${role.groupIds.length}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`}
      <//>
    </fieldset>
  </section>`;
}

export function RolePage({ roleId }) {
  const state = useLoad(async () => {
    const [role, permissions, groups] = await Promise.all([
      get(`/api/roles/${enc(roleId)}`),
      get('/api/permissions'),
      get('/api/groups?limit=500'),
    ]);
    return { role, permissions: permissions.items, groups: groups.items };
  });
  const action = useAction();
  const [started, setStarted] = useState(null);
  const change = (method, path, body) =>
    action.run(async () => {
      const answer = await api(method, path, body);
      setStarted(answer.operations);
      if (method === 'DELETE' && !path.includes('/groups/')) go('#/roles');
      else state.reload();
    });
  return html`<${Loaded} state=${state}>
    ${({ role, permissions, groups }) =>
      html`<section>
        <header class="page-head"><h1>Role ${role.name}</h1></header>
        <fieldset>
          <legend>Permissions</legend>
          ${permissions.map(
            (permission) =>
              html`<${Checkbox}
                name=${`permission:${permission.key}`}
                label=${permission.key}
                checked=${role.permissionKeys.includes(permission.key)}
                onChange=${(on) =>
                  change('PATCH', `/api/roles/${enc(roleId)}`, {
                    permissionKeys: on
                      ? [...role.permissionKeys, permission.key]
                      : role.permissionKeys.filter((key) => key !== permission.key),
                  })}
              />`,
          )}
        </fieldset>
        <fieldset>
          <legend>Given to groups</legend>
          ${groups.map(
            (group) =>
              html`<${Checkbox}
                name=${`group:${group.displayName}`}
                label=${group.displayName}
                checked=${role.groupIds.includes(group.id)}
                onChange=${(on) => change(on ? 'PUT' : 'DELETE', `/api/roles/${enc(roleId)}/groups/${enc(group.id)}`)}
              />`,
          )}
        </fieldset>
        <${ErrorNote} error=${action.error} />
        <${Started} operations=${started} />
        <button
          type="button"
          class="danger"
          disabled=${action.busy}
          onClick=${() => change('DELETE', `/api/roles/${enc(roleId)}`)}
        >
          Delete role
        </button>
      </section>`}
  <//>`;
}
