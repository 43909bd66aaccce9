import fs from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { type Browser, chromium, type Page } from 'playwright-core';
import { API_TOKEN, Harness } from './support/harness';

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH names another. As in temporalUi.test.ts. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Each page of the console, as the run saw it (not committed: .gitignore). */
const SCREENSHOTS = path.resolve(__dirname, '..', 'test-results', 'console');
const WAIT_MS = 30_000;

/**
 * The admin console in a real browser: an operator signs in, connects an app through the three-step wizard against
 * a local SCIM server, assigns a permission and a group, and watches the users appear in the app and the operations
 * in the console. Every page is screenshotted on the way.
 */
describe('the admin console', () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  /** What the browser reported that a page should never cause: script errors, CSP refusals, failed requests. */
  const problems: string[] = [];
  const suffix = Date.now().toString(36);
  const groupName = `Console Eng ${suffix}`;
  const appName = `Console target ${suffix}`;
  const alice = `alice.${suffix}@console.example`;
  const bob = `bob.${suffix}@console.example`;

  const shot = (name: string) =>
    page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const open = async (hash: string) => {
    await page.goto(`${h.apiUrl}/console/${hash}`);
    await waitFor(page.locator('main h1').first());
  };
  /** Waits for a locator; on timeout the error shows what the page says. */
  const waitFor = (locator: ReturnType<Page['locator']>) =>
    locator.waitFor({ timeout: WAIT_MS }).catch(async (error: Error) => {
      throw new Error(
        `${error.message}\npage:\n${(await page.locator('body').innerText()).slice(0, 3000)}\nproblems: ${problems.join('\n')}`,
      );
    });
  /** Polls `check` (clicking the page's Refresh between tries) until it holds. */
  const eventually = async (check: () => Promise<boolean>, refresh?: () => Promise<void>) => {
    const deadline = Date.now() + WAIT_MS;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the console');
      await new Promise((resolve) => setTimeout(resolve, 500));
      await refresh?.();
    }
  };

  const firstOperation = async (appId: string) =>
    (await h.ok<{ items: { workflowId: string }[] }>('GET', `/api/operations?appId=${appId}&limit=1`))
      .items[0].workflowId;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    }
    // This run's screenshots only.
    fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    h = await Harness.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root (CI) Chromium refuses to start with its sandbox.
      args: ['--no-sandbox'],
      timeout: 30_000,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A 4xx answer is logged by the browser too; the response listener names it.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        problems.push(`console: ${message.text()}`);
      }
    });
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    page.on('response', (response) => {
      // A run just started has no report for a moment: the console asks again.
      const starting = response.status() === 404 && response.url().includes('/reconciliations/');
      if (response.status() >= 400 && !starting)
        problems.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('serves its files without the token, with their types, caching and a strict CSP; the API still needs it', async () => {
    const get = (url: string, headers: Record<string, string> = {}) =>
      axios.get(`${h.apiUrl}${url}`, { headers, validateStatus: () => true, maxRedirects: 0 });

    const index = await get('/console/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).not.toContain('unsafe-inline');

    for (const file of [
      '/console/vendor/preact.mjs',
      '/console/vendor/hooks.mjs',
      '/console/vendor/htm.mjs',
    ]) {
      const vendor = await get(file);
      expect(vendor.status).toBe(200);
      expect(vendor.headers['content-type']).toMatch(/^text\/javascript/);
      expect(vendor.headers['cache-control']).toMatch(/max-age=/);
    }
    const main = await get('/console/main.js');
    expect(main.headers['content-type']).toMatch(/^text\/javascript/);
    expect((await get('/console/main.js', { 'if-none-match': String(main.headers.etag) })).status).toBe(304);
    expect((await get('/console/console.css')).headers['content-type']).toMatch(/^text\/css/);
    expect((await get('/console/nothing-here.js')).status).toBe(404);
    expect((await get('/console/../package.json')).status).not.toBe(200);
    const root = await get('/');
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe('/console/');

    expect((await get('/api/apps')).status).toBe(401);
    expect((await get('/no-such-route')).status).toBe(401);
  });

  it('connects an app with the wizard, and the assigned group’s users appear in the app and as operations', async () => {
    // Given a user in a group, and a permission (the directory as the API makes it)
    const aliceUser = await h.createUser(alice);
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: groupName,
      memberIds: [aliceUser.id],
    });
    await h.ok('POST', '/api/permissions', { key: `console.read.${suffix}` });

    // When the operator signs in (a wrong token is refused first)
    await page.goto(`${h.apiUrl}/console/`);
    await page.locator('input[name=token]').fill('not-the-token');
    await page.locator('button[type=submit]').click();
    await waitFor(page.getByText('That token is not accepted.'));
    // (the refused sign-in's 401 is expected in the browser's console)
    problems.length = 0;
    await shot('01-login');
    await page.locator('input[name=token]').fill(API_TOKEN);
    await page.locator('button[type=submit]').click();
    await waitFor(page.getByRole('heading', { name: 'Apps' }));
    await shot('02-apps-empty');

    // … creates a second user and adds him to the group, in the console
    await open('#/users');
    await page.locator('summary', { hasText: 'New user' }).click();
    await page.locator('form[name=new-user] input[name=userName]').fill(bob);
    await page.locator('form[name=new-user] input[name=email]').fill(bob);
    await page.locator('form[name=new-user] input[name=givenName]').fill('Bob');
    await page.locator('form[name=new-user] button[type=submit]').click();
    await waitFor(page.locator(`tr[data-user="${bob}"]`));
    await shot('03-users');
    await open('#/groups');
    await page.locator(`tr[data-group="${groupName}"] a`).click();
    await page.locator('form[name=add-member] input[name=userName]').fill(bob);
    await page.locator('form[name=add-member] button[type=submit]').click();
    await waitFor(page.locator('ul.members', { hasText: bob }));
    await shot('04-group');

    // … and connects the app: Basic Details, with the connection tested inline
    await open('#/apps/new');
    await page.locator('input[name=name]').fill(appName);
    await page.locator('input[name=baseUrl]').fill(h.proxy.url);
    await page.locator('input[name=token]').fill(h.scim.token);
    await page.locator('select[name=profile]').selectOption('generic');
    await page.locator('input[name=permissions]').check();
    await page.locator('select[name=deprovisionMode]').selectOption('delete');
    await page.locator('button[name=test-connection]').click();
    const connection = page.locator('[data-testid=connection-result]');
    await waitFor(connection);
    expect(await connection.innerText()).toContain('Connection OK');
    await shot('05-wizard-basic-details');
    await page.locator('button[name=next]').click();

    // … Assign Permissions
    await page.locator(`input[name="permission:console.read.${suffix}"]`).check();
    await shot('06-wizard-assign-permissions');
    await page.locator('button[name=next]').click();

    // … Assign Groups
    await page.locator(`input[name="group:${groupName}"]`).check();
    await shot('07-wizard-assign-groups');
    await page.locator('button[name=finish]').click();
    await waitFor(page.locator('.started'));
    await shot('08-wizard-done');

    // Then the app holds its settings, the permission and the group
    const { items } = await h.ok<{ items: Record<string, unknown>[] }>('GET', '/api/apps');
    const app = items.find((candidate) => candidate.name === appName) as {
      id: string;
      provisioning: { permissions: boolean };
      deprovisionMode: string;
      permissionKeys: string[];
      assignedGroupIds: string[];
    };
    expect(app).toMatchObject({
      provisioning: { permissions: true },
      deprovisionMode: 'delete',
      permissionKeys: [`console.read.${suffix}`],
      assignedGroupIds: [group.id],
    });

    // … both users appear in the target
    await eventually(async () =>
      Boolean(h.remoteUser(alice) && h.remoteUser(bob) && h.remoteGroup(groupName)),
    );

    // … and the console shows the app, its operations (each linked to its run in the Temporal UI) and its links
    await page.locator('a', { hasText: 'Done: open the app' }).click();
    await waitFor(page.getByRole('heading', { name: appName }));
    await shot('09-app');
    await open('#/apps');
    await waitFor(page.locator(`tr[data-app="${appName}"]`));
    await shot('10-apps');

    await open(`#/operations?appId=${app.id}`);
    const createGroupRow = page.locator('tr[data-workflow-id^="createGroup:"]');
    await eventually(
      async () => (await createGroupRow.count()) > 0,
      () => page.getByRole('button', { name: 'Refresh' }).click(),
    );
    expect(
      await createGroupRow.first().locator('a', { hasText: 'Temporal UI' }).getAttribute('href'),
    ).toMatch(/\/namespaces\/default\/workflows\/createGroup%3A/);
    await eventually(
      async () => (await createGroupRow.first().innerText()).includes('completed'),
      () => page.getByRole('button', { name: 'Refresh' }).click(),
    );
    await shot('11-operations');

    await open(`#/apps/${app.id}/links`);
    await waitFor(page.locator(`tr[data-link="${alice}"]`));
    await page.locator(`tr[data-link="${alice}"] button[name=sync-now]`).click();
    await waitFor(
      page
        .locator(`tr[data-link="${alice}"]`)
        .locator('.started, .error-text', { hasText: /operation|not available/ })
        .first(),
    );
    await shot('12-links');

    expect(problems).toEqual([]);
  });

  it('shows a dry run’s diff before confirming, the import’s progress, and roles', async () => {
    const { items } = await h.ok<{ items: { id: string; name: string }[] }>('GET', '/api/apps');
    const app = items.find((candidate) => candidate.name === appName)!;
    // A user the app holds but scimflow does not manage: the dry run reports it, the import adopts it.
    const stranger = `stranger.${suffix}@console.example`;
    h.scim.seedUser({ userName: stranger });

    await open(`#/apps/${app.id}/reconciliation`);
    await page.locator('button[name=dry-run]').click();
    const report = page.locator('article.report');
    await waitFor(report);
    await waitFor(page.locator('article.report[data-status=completed]'));
    expect(await report.innerText()).toContain('Dry run');
    // The diff, before anything is written: the app's user that scimflow does not manage.
    expect(await page.locator('[data-testid=diff]').innerText()).toContain(stranger);
    await waitFor(page.locator('button[name=apply]'));
    await shot('13-reconciliation-dry-run');
    await page.locator('button[name=apply]').click();
    await waitFor(page.locator('article.report[data-status=completed]', { hasNotText: 'Dry run' }));
    await shot('14-reconciliation-run');

    // A run that would delete more than the app's threshold stops, shows the count, and runs once confirmed:
    // Bob leaves the group while the app may not delete users, then it may again (and its threshold is 0).
    await h.ok('PATCH', `/api/apps/${app.id}`, {
      provisioning: { deleteUsers: false },
      reconcile: { deletionThreshold: { percent: 0, minimum: 0 } },
    });
    const [bobUser] = (await h.ok<{ items: { id: string }[] }>('GET', `/api/users?userName=${bob}`)).items;
    const [group] = (
      await h.ok<{ items: { id: string }[] }>(
        'GET',
        `/api/groups?displayName=${encodeURIComponent(groupName)}`,
      )
    ).items;
    await h.change('DELETE', `/api/groups/${group.id}/members/${bobUser.id}?confirmDeletions=true`);
    await h.ok('PATCH', `/api/apps/${app.id}`, { provisioning: { deleteUsers: true } });
    await open(`#/apps/${app.id}/reconciliation`);
    await page.locator('button[name=run]').click();
    await waitFor(page.locator('article.report[data-status=needs-confirmation]'));
    expect(await page.locator('.confirm').innerText()).toContain('it would make 1 deletion(s)');
    expect(h.remoteUser(bob)).toBeDefined();
    await shot('15-reconciliation-needs-confirmation');
    await page.locator('button[name=confirm-deletions]').click();
    await waitFor(page.locator('article.report[data-status=completed]'));
    expect(h.remoteUser(bob)).toBeUndefined();

    await open(`#/apps/${app.id}/import`);
    await page.locator('button[name=import]').click();
    await waitFor(page.locator('.import-progress[data-status=completed]'));
    await shot('16-import');

    await open('#/roles');
    await page.locator('form[name=new-role] input[name=name]').fill(`Console role ${suffix}`);
    await page.locator('form[name=new-role] button[type=submit]').click();
    await waitFor(page.getByRole('heading', { name: `Role Console role ${suffix}` }));
    await page.locator(`input[name="permission:console.read.${suffix}"]`).check();
    await waitFor(page.locator('.note', { hasText: 'No operation started' }));
    // Given to the group, the role reaches the app's users (its permissions switch is on).
    await page.locator(`input[name="group:${groupName}"]`).check();
    await waitFor(page.locator('.started', { hasText: 'syncRoleEntitlements' }));
    await shot('17-role');

    // The other pages, as an operator finds them: each renders without an error.
    const [aliceUser] = (await h.ok<{ items: { id: string }[] }>('GET', `/api/users?userName=${alice}`))
      .items;
    const pages: [string, string][] = [
      ['18-roles', '#/roles'],
      ['19-groups', '#/groups'],
      ['20-user', `#/users/${aliceUser.id}`],
      ['21-operation', `#/operations/${encodeURIComponent(await firstOperation(app.id))}`],
      ['22-wizard-change', `#/apps/${app.id}/edit`],
    ];
    for (const [name, hash] of pages) {
      await open(hash);
      await eventually(async () => (await page.locator('.loading').count()) === 0);
      expect(await page.locator('.error').allInnerTexts()).toEqual([]);
      await shot(name);
    }
    // The wizard shows the app as saved.
    expect(await page.locator('select[name=deprovisionMode]').inputValue()).toBe('delete');
    expect(await page.locator('input[name=permissions]').isChecked()).toBe(true);

    expect(problems).toEqual([]);
  });
});
