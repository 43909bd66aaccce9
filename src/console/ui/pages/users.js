/** Users: list, search, create; one user: edit, groups, roles and permissions, delete. */
import { useState } from 'preact/hooks';
import { api, get, enc, query, changeWithConfirmation } from '../api.js';
import { html, useLoad, useAction, Loaded, ErrorNote, Started, TextInput, Checkbox, go } from '../ui.js';

const PAGE = 100;

const emptyUser = {
  userName: '',
  givenName: '',
  familyName: '',
  email: '',
  displayName: '',
  title: '',
  department: '',
};

const formOf = (user) => ({
  userName: user.userName,
  givenName: user.name?.givenName ?? '',
  familyName: user.name?.familyName ?? '',
  email: user.emails?.find((email) => email.primary)?.value ?? user.emails?.[0]?.value ?? '',
  displayName: user.displayName ?? '',
  title: user.title ?? '',
  department: user.department ?? '',
  active: user.active,
});

/** The API's user fields from the form (empty fields left out; a PATCH keeps what is left out). */
function userBody(form) {
  const body = { userName: form.userName.trim() };
  if (form.givenName || form.familyName) {
    body.name = {
      ...(form.givenName && { givenName: form.givenName }),
      ...(form.familyName && { familyName: form.familyName }),
    };
  }
  if (form.email) body.emails = [{ value: form.email.trim(), type: 'work', primary: true }];
  for (const key of ['displayName', 'title', 'department']) if (form[key]) body[key] = form[key];
  if (form.active !== undefined) body.active = form.active;
  return body;
}

function UserFields({ form, setForm }) {
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  return html`<div class="grid">
    <${TextInput}
      label="userName"
      name="userName"
      value=${form.userName}
      onInput=${set('userName')}
      required
    />
    <${TextInput} label="Given name" name="givenName" value=${form.givenName} onInput=${set('givenName')} />
    <${TextInput}
      label="Family name"
      name="familyName"
      value=${form.familyName}
      onInput=${set('familyName')}
    />
    <${TextInput} label="E-mail" name="email" type="email" value=${form.email} onInput=${set('email')} />
    <${TextInput}
      label="Display name"
      name="displayName"
      value=${form.displayName}
      onInput=${set('displayName')}
    />
    <${TextInput} label="Title" name="title" value=${form.title} onInput=${set('title')} />
    <${TextInput}
      label="Department"
      name="department"
      value=${form.department}
      onInput=${set('department')}
    />
  </div>`;
}

function NewUser({ onCreated }) {
  const [form, setForm] = useState(emptyUser);
  const action = useAction();
  const submit = (event) => {
    event.preventDefault();
    action.run(async () => {
      const user = await api('POST', '/api/users', userBody(form));
      setForm(emptyUser);
      onCreated(user);
    });
  };
  return html`<details class="create">
    <summary>New user</summary>
    <form onSubmit=${submit} name="new-user">
      <${UserFields} form=${form} setForm=${setForm} />
      <button type="submit" disabled=${action.busy}>Create user</button>
      <${ErrorNote} error=${action.error} />
    </form>
  </details>`;
}

export function UsersPage() {
  const [offset, setOffset] = useState(0);
  const [filter, setFilter] = useState('');
  const [exact, setExact] = useState('');
  const state = useLoad(
    () => get(`/api/users${exact ? query({ userName: exact }) : query({ offset, limit: PAGE })}`),
    [offset, exact],
  );
  const matches = (user) =>
    [
      user.userName,
      user.displayName,
      user.name?.givenName,
      user.name?.familyName,
      ...(user.emails ?? []).map((e) => e.value),
    ]
      .filter(Boolean)
      .some((text) => text.toLowerCase().includes(filter.toLowerCase()));
  return html`<section>
    <header class="page-head"><h1>Users</h1></header>
    <${NewUser} onCreated=${() => state.reload()} />
    <form
      class="filters"
      onSubmit=${(event) => {
        event.preventDefault();
        setExact(filter.trim());
      }}
    >
      <${TextInput}
        label="Search"
        name="search"
        value=${filter}
        onInput=${setFilter}
        placeholder="filters this page; Enter looks up a userName"
      />
      ${
        exact &&
        html`<button
          type="button"
          class="secondary"
          onClick=${() => {
            setExact('');
            setFilter('');
          }}
        >
          Show all
        </button>`
      }
    </form>
    <${Loaded} state=${state}>
      ${({ items, total }) =>
        html`<table class="users">
            <thead>
              <tr>
                <th>userName</th>
                <th>Name</th>
                <th>E-mail</th>
                <th>Active</th>
                <th>Groups</th>
              </tr>
            </thead>
            <tbody>
              ${items.filter(matches).map(
                (user) =>
                  html`<tr data-user=${user.userName}>
                    <td><a href=${`#/users/${enc(user.id)}`}>${user.userName}</a></td>
                    <td>
                      ${user.displayName || [user.name?.givenName, user.name?.familyName].filter(Boolean).join(' ')}
                    </td>
                    <td>${user.emails?.[0]?.value ?? ''}</td>
                    <td>${user.active ? 'yes' : 'no'}</td>
                    <td>${user.groupIds.length}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
          <p class="pager">
            ${total} user(s).
            ${offset > 0 && html`<button type="button" class="secondary" onClick=${() => setOffset(Math.max(0, offset - PAGE))}>« Previous</button>`}
            ${!exact && offset + PAGE < total && html`<button type="button" class="secondary" onClick=${() => setOffset(offset + PAGE)}>Next »</button>`}
          </p>`}
    <//>
  </section>`;
}

function Membership({ user, onChanged }) {
  const groups = useLoad(() => get('/api/groups?limit=500'));
  const action = useAction();
  const [started, setStarted] = useState(null);
  const toggle = (group) => (join) =>
    action.run(async () => {
      const path = `/api/groups/${enc(group.id)}/members/${enc(user.id)}`;
      const answer = join ? await api('PUT', path) : await changeWithConfirmation('DELETE', path);
      if (answer) setStarted(answer.operations);
      onChanged();
    });
  return html`<fieldset>
    <legend>Groups</legend>
    <${Loaded} state=${groups}>
      ${({ items }) =>
        html`<div class="checklist">
          ${items.map(
            (group) =>
              html`<${Checkbox}
                name=${`group:${group.displayName}`}
                label=${group.displayName}
                checked=${user.groupIds.includes(group.id)}
                onChange=${toggle(group)}
              />`,
          )}
        </div>`}
    <//>
    <${ErrorNote} error=${action.error} />
    <${Started} operations=${started} />
  </fieldset>`;
}

export function UserPage({ userId }) {
  const state = useLoad(() => get(`/api/users/${enc(userId)}`));
  const [form, setForm] = useState(null);
  const action = useAction();
  const [started, setStarted] = useState(null);
  const user = state.data;
  const current = form ?? (user && formOf(user));
  const save = (event) => {
    event.preventDefault();
    action.run(async () => {
      const answer = await changeWithConfirmation('PATCH', `/api/users/${enc(userId)}`, userBody(current));
      if (answer) {
        setStarted(answer.operations);
        setForm(null);
        state.reload();
      }
    });
  };
  const remove = () =>
    action.run(async () => {
      const answer = await changeWithConfirmation('DELETE', `/api/users/${enc(userId)}`);
      if (answer) go('#/users');
    });
  return html`<section>
    <header class="page-head"><h1>User ${user?.userName ?? ''}</h1></header>
    <${Loaded} state=${state}>
      ${() =>
        html`<form onSubmit=${save}>
            <${UserFields} form=${current} setForm=${setForm} />
            <${Checkbox}
              label="Active"
              name="active"
              checked=${current.active}
              onChange=${(active) => setForm({ ...current, active })}
            />
            <div class="actions">
              <button type="submit" disabled=${action.busy}>Save</button>
              <button type="button" class="danger" disabled=${action.busy} onClick=${remove}>
                Delete user
              </button>
              <a href=${`#/operations?resourceId=${enc(userId)}`}>Operations of this user</a>
            </div>
            <${ErrorNote} error=${action.error} />
            <${Started} operations=${started} />
          </form>
          <p>Roles: ${user.roles.join(', ') || '—'} · Permissions: ${user.permissions.join(', ') || '—'}</p>
          <${Membership} user=${user} onChanged=${state.reload} />`}
    <//>
  </section>`;
}
