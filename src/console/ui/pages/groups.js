/** Groups: list, search, create; one group: rename, members, the apps and roles it has, delete. */
import { useState } from 'preact/hooks';
import { api, get, enc, query, changeWithConfirmation } from '../api.js';
import { html, useLoad, useAction, Loaded, ErrorNote, Started, TextInput, go } from '../ui.js';

export function GroupsPage() {
  const state = useLoad(() => get('/api/groups?limit=500'));
  const [filter, setFilter] = useState('');
  const [name, setName] = useState('');
  const action = useAction();
  const create = (event) => {
    event.preventDefault();
    action.run(async () => {
      await api('POST', '/api/groups', { displayName: name.trim() });
      setName('');
      state.reload();
    });
  };
  return html`<section>
    <header class="page-head"><h1>Groups</h1></header>
    <form class="inline" name="new-group" onSubmit=${create}>
      <${TextInput} label="New group" name="displayName" value=${name} onInput=${setName} required />
      <button type="submit" disabled=${action.busy}>Create group</button>
    </form>
    <${ErrorNote} error=${action.error} />
    <${TextInput} label="Search" name="search" value=${filter} onInput=${setFilter} />
    <${Loaded} state=${state}>
      ${({ items, total }) =>
        html`<table class="groups">
            <thead>
              <tr>
                <th>Name</th>
                <th>Members</th>
                <th>Assigned to apps</th>
              </tr>
            </thead>
            <tbody>
              ${items
                .filter((group) => group.displayName.toLowerCase().includes(filter.toLowerCase()))
                .map(
                  (group) =>
                    html`<tr data-group=${group.displayName}>
                      <td><a href=${`#/groups/${enc(group.id)}`}>${group.displayName}</a></td>
                      <td>${group.memberIds.length}</td>
                      <td>${group.appIds.length}</td>
                    </tr>`,
                )}
            </tbody>
          </table>
          ${total > items.length && html`<p class="muted">The first ${items.length} of ${total} groups.</p>`}`}
    <//>
  </section>`;
}

function Members({ group, onChanged }) {
  const members = useLoad(
    () =>
      Promise.all(
        group.memberIds
          .slice(0, 200)
          .map((id) => get(`/api/users/${enc(id)}`).catch(() => ({ id, userName: id }))),
      ),
    [group.memberIds.join(',')],
  );
  const [userName, setUserName] = useState('');
  const action = useAction();
  const [started, setStarted] = useState(null);
  const add = (event) => {
    event.preventDefault();
    action.run(async () => {
      const { items } = await get(`/api/users${query({ userName: userName.trim() })}`);
      if (items.length === 0) throw new Error(`no user ${userName}`);
      const answer = await api('PUT', `/api/groups/${enc(group.id)}/members/${enc(items[0].id)}`);
      setStarted(answer.operations);
      setUserName('');
      onChanged();
    });
  };
  const remove = (user) =>
    action.run(async () => {
      const answer = await changeWithConfirmation(
        'DELETE',
        `/api/groups/${enc(group.id)}/members/${enc(user.id)}`,
      );
      if (answer) {
        setStarted(answer.operations);
        onChanged();
      }
    });
  return html`<fieldset>
    <legend>Members (${group.memberIds.length})</legend>
    <form class="inline" name="add-member" onSubmit=${add}>
      <${TextInput}
        label="Add member (userName)"
        name="userName"
        value=${userName}
        onInput=${setUserName}
        required
      />
      <button type="submit" disabled=${action.busy}>Add</button>
    </form>
    <${ErrorNote} error=${action.error} />
    <${Started} operations=${started} />
    <${Loaded} state=${members}>
      ${(users) =>
        html`<ul class="members">
          ${users.map(
            (user) =>
              html`<li>
                <a href=${`#/users/${enc(user.id)}`}>${user.userName}</a>
                <button type="button" class="link" onClick=${() => remove(user)}>remove</button>
              </li>`,
          )}
          ${group.memberIds.length > users.length && html`<li class="muted">… and ${group.memberIds.length - users.length} more</li>`}
        </ul>`}
    <//>
  </fieldset>`;
}

export function GroupPage({ groupId }) {
  const state = useLoad(() => get(`/api/groups/${enc(groupId)}`));
  const apps = useLoad(() => get('/api/apps'));
  const [name, setName] = useState(null);
  const action = useAction();
  const [started, setStarted] = useState(null);
  const group = state.data;
  const rename = (event) => {
    event.preventDefault();
    action.run(async () => {
      const answer = await api('PATCH', `/api/groups/${enc(groupId)}`, { displayName: name.trim() });
      setStarted(answer.operations);
      setName(null);
      state.reload();
    });
  };
  const remove = () =>
    action.run(async () => {
      const answer = await changeWithConfirmation('DELETE', `/api/groups/${enc(groupId)}`);
      if (answer) go('#/groups');
    });
  const appName = (id) => apps.data?.items.find((app) => app.id === id)?.name ?? id;
  return html`<section>
    <header class="page-head"><h1>Group ${group?.displayName ?? ''}</h1></header>
    <${Loaded} state=${state}>
      ${() =>
        html`<form class="inline" onSubmit=${rename}>
            <${TextInput}
              label="Name"
              name="displayName"
              value=${name ?? group.displayName}
              onInput=${setName}
              required
            />
            <button type="submit" disabled=${action.busy || name === null}>Rename</button>
            <button type="button" class="danger" disabled=${action.busy} onClick=${remove}>
              Delete group
            </button>
          </form>
          <${ErrorNote} error=${action.error} />
          <${Started} operations=${started} />
          <p>
            Assigned to:
            ${
              group.appIds.length === 0
                ? ' no app'
                : group.appIds.map((id) => html` <a href=${`#/apps/${enc(id)}`}>${appName(id)}</a>`)
            }
          </p>
          <${Members} group=${group} onChanged=${state.reload} />`}
    <//>
  </section>`;
}
