/* global document, window */
/** The console's shell: the login page, the navigation, and which page the location's hash names. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, session, ApiError } from './api.js';
import { html, parseHash, ErrorNote } from './ui.js';
import { AppsPage } from './pages/apps.js';
import { AppPage } from './pages/app.js';
import { AppWizard } from './pages/wizard.js';
import { LinksPage } from './pages/links.js';
import { ReconcilePage } from './pages/reconcile.js';
import { ImportPage } from './pages/import.js';
import { OperationsPage, OperationPage } from './pages/operations.js';
import { UsersPage, UserPage } from './pages/users.js';
import { GroupsPage, GroupPage } from './pages/groups.js';
import { RolesPage, RolePage } from './pages/roles.js';

function Login({ onSignedIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // A cheap call that needs the token: a wrong one answers 401.
      await api('GET', '/api/permissions', undefined, { token: token.trim() });
      session.signIn(token.trim());
      onSignedIn();
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? new Error('That token is not accepted.')
          : caught,
      );
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login">
    <h1>scimflow</h1>
    <form onSubmit=${submit}>
      <label class="field"
        >API token
        <input
          type="password"
          name="token"
          autocomplete="current-password"
          value=${token}
          onInput=${(event) => setToken(event.currentTarget.value)}
          required
      /></label>
      <p class="hint">
        <code>SCIMFLOW_API_TOKEN</code>, or the contents of <code>.data/api-token</code>. It is kept in this
        tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.
      </p>
      <button type="submit" disabled=${busy}>Sign in</button>
      <${ErrorNote} error=${error} />
    </form>
  </main>`;
}

const sections = [
  ['apps', 'Apps'],
  ['users', 'Users'],
  ['groups', 'Groups'],
  ['roles', 'Roles & permissions'],
  ['operations', 'Operations'],
];

/** The page for a location: `#/apps/<id>/links` → the links page of that app. */
function route({ parts, params }) {
  const [section, id, sub] = parts;
  switch (section) {
    case 'apps':
      if (!id) return html`<${AppsPage} />`;
      if (id === 'new') return html`<${AppWizard} />`;
      if (sub === 'edit') return html`<${AppWizard} appId=${id} step=${Number(params.step ?? 1)} />`;
      if (sub === 'links') return html`<${LinksPage} appId=${id} />`;
      if (sub === 'reconciliation') return html`<${ReconcilePage} appId=${id} reportId=${parts[3]} />`;
      if (sub === 'import') return html`<${ImportPage} appId=${id} />`;
      return html`<${AppPage} appId=${id} />`;
    case 'users':
      return id ? html`<${UserPage} userId=${id} />` : html`<${UsersPage} />`;
    case 'groups':
      return id ? html`<${GroupPage} groupId=${id} />` : html`<${GroupsPage} />`;
    case 'roles':
      return id ? html`<${RolePage} roleId=${id} />` : html`<${RolesPage} />`;
    case 'operations':
      return id ? html`<${OperationPage} workflowId=${id} />` : html`<${OperationsPage} filters=${params} />`;
    default:
      return html`<${AppsPage} />`;
  }
}

function Console() {
  const [signedIn, setSignedIn] = useState(Boolean(session.token()));
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const onHash = () => setHash(window.location.hash);
    const onSignedOut = () => setSignedIn(false);
    window.addEventListener('hashchange', onHash);
    window.addEventListener('scimflow:signed-out', onSignedOut);
    return () => {
      window.removeEventListener('hashchange', onHash);
      window.removeEventListener('scimflow:signed-out', onSignedOut);
    };
  }, []);
  if (!signedIn) return html`<${Login} onSignedIn=${() => setSignedIn(true)} />`;
  const location = parseHash(hash);
  const current = location.parts[0] ?? 'apps';
  return html`<div class="shell">
    <nav>
      <span class="brand">scimflow</span>
      ${sections.map(
        ([section, label]) =>
          html`<a href=${`#/${section}`} class=${section === current ? 'current' : ''}>${label}</a>`,
      )}
      <button class="link signout" onClick=${() => session.signOut()}>Sign out</button>
    </nav>
    <main key=${hash}>${route(location)}</main>
  </div>`;
}

const root = document.getElementById('app');
// The "Loading…" placeholder goes: Preact renders into an empty element.
root.replaceChildren();
render(html`<${Console} />`, root);
