/**
 * The app emulators (test/support/emulators/) enforce what each app documents: a raw request breaking a rule
 * gets the app's answer and is logged as a violation; a well-formed one passes, and the emulator is otherwise a
 * working SCIM server. Plain HTTP, no Temporal.
 */
import axios, { type AxiosInstance } from 'axios';
import { startEmulator, type Emulator, type EmulatorKind, type EmulatorOptions } from './support/emulators';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const running: Emulator[] = [];

afterAll(async () => {
  await Promise.all(running.map((emulator) => emulator.close()));
});

async function emulator(
  kind: EmulatorKind,
  options: EmulatorOptions = {},
): Promise<{ app: Emulator; http: AxiosInstance }> {
  const app = await startEmulator(kind, options);
  running.push(app);
  const http = axios.create({
    baseURL: app.url,
    headers: { Authorization: `Bearer ${app.token}`, 'Content-Type': 'application/scim+json' },
    validateStatus: () => true,
  });
  return { app, http };
}

function user(userName: string, extra: Record<string, unknown> = {}) {
  return {
    schemas: [USER_SCHEMA],
    userName,
    externalId: `ext-${userName}`,
    displayName: `Display ${userName}`,
    name: { givenName: 'Given', familyName: 'Family' },
    emails: [{ value: `${userName}@example.com`, type: 'work', primary: true }],
    active: true,
    ...extra,
  };
}

function patch(...Operations: Record<string, unknown>[]) {
  return { schemas: [PATCH_OP], Operations };
}

const filterOf = (expression: string) => ({ params: { filter: expression } });

describe('generic', () => {
  it('is scimmy as it is: create, filter, patch, page, with no rules', async () => {
    const { app, http } = await emulator('generic');
    const created = await http.post('/Users', user('ann'));
    expect(created.status).toBe(201);
    expect(created.data.meta.location).toBe(`${app.url}/Users/${created.data.id}`);
    const found = await http.get('/Users', filterOf('emails.value eq "ann@example.com"'));
    expect(found.data.totalResults).toBe(1);
    const patched = await http.patch(
      `/Users/${created.data.id}`,
      patch({ op: 'replace', path: 'active', value: false }),
    );
    expect(patched.status).toBe(200);
    expect(app.users()[0].active).toBe(false);
    expect((await http.get('/Users')).status).toBe(200);
    expect((await axios.get(`${app.url}/Users`, { validateStatus: () => true })).status).toBe(401);
    expect(app.violations()).toEqual([]);
  });
});

describe('aws-iam-identity-center', () => {
  it('requires displayName and both name parts on create, one e-mail, no roles or entitlements', async () => {
    const { app, http } = await emulator('aws-iam-identity-center');
    const noNames = await http.post('/Users', { schemas: [USER_SCHEMA], userName: 'bob' });
    expect(noNames.status).toBe(400);
    expect(noNames.data.detail).toMatch(/displayName, name.givenName, name.familyName/);
    const twoEmails = user('bob', {
      emails: [
        { value: 'bob@example.com', primary: true },
        { value: 'bob@home.example', type: 'home' },
      ],
    });
    expect((await http.post('/Users', twoEmails)).status).toBe(400);
    expect((await http.post('/Users', user('bob', { roles: [{ value: 'admin' }] }))).status).toBe(400);
    expect((await http.post('/Users', user('bob', { entitlements: [{ value: 'x' }] }))).status).toBe(400);

    const created = await http.post('/Users', user('bob'));
    expect(created.status).toBe(201);
    const extraEmail = await http.patch(
      `/Users/${created.data.id}`,
      patch({ op: 'add', path: 'emails', value: [{ value: 'a@x.example' }, { value: 'b@x.example' }] }),
    );
    expect(extraEmail.status).toBe(400);
    expect(app.violations()).toHaveLength(5);
    expect(app.users()).toHaveLength(1);
  });

  it('filters with eq on userName, externalId, displayName and id only', async () => {
    const { app, http } = await emulator('aws-iam-identity-center');
    await http.post('/Users', user('cy'));
    expect((await http.get('/Users', filterOf('userName eq "cy"'))).data.totalResults).toBe(1);
    expect(
      (await http.get('/Users', filterOf('externalId eq "ext-cy" and userName eq "cy"'))).data.totalResults,
    ).toBe(1);
    for (const refused of ['emails.value eq "cy@example.com"', 'userName co "c"', 'userName sw "c"']) {
      const reply = await http.get('/Users', filterOf(refused));
      expect(reply.status).toBe(400);
      expect(reply.data.scimType).toBe('invalidFilter');
    }
    expect((await http.get('/Groups', filterOf('displayName eq "none"'))).status).toBe(200);
    expect(app.violations()).toHaveLength(3);
  });

  it('takes at most 100 membership changes per group PATCH, never replace-all, and hides members', async () => {
    const { app, http } = await emulator('aws-iam-identity-center');
    const ids: string[] = [];
    for (let index = 0; index < 101; index += 1) {
      const created = await http.post('/Users', user(`member${index}`));
      ids.push(created.data.id);
    }
    const group = await http.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'eng' });
    expect(group.status).toBe(201);
    const members = ids.map((value) => ({ value }));
    // 101 in total across two operations.
    const tooMany = await http.patch(
      `/Groups/${group.data.id}`,
      patch(
        { op: 'add', path: 'members', value: members.slice(0, 50) },
        { op: 'add', path: 'members', value: members.slice(50) },
      ),
    );
    expect(tooMany.status).toBe(400);
    expect(app.violations()).toEqual([
      `PATCH /Groups/${group.data.id}: AWS IAM Identity Center allows at most 100 membership changes in one PATCH /Groups (got 101)`,
    ]);
    const hundred = await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'add', path: 'members', value: members.slice(0, 100) }),
    );
    expect(hundred.status).toBe(204);
    const replaceAll = await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'replace', path: 'members', value: members.slice(0, 1) }),
    );
    expect(replaceAll.status).toBe(400);
    const removeOne = await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'remove', path: `members[value eq "${ids[0]}"]` }),
    );
    expect(removeOne.status).toBe(204);

    const read = await http.get(`/Groups/${group.data.id}`);
    expect(read.status).toBe(200);
    expect(read.data.members).toBeUndefined();
    const listed = await http.get('/Groups');
    expect(listed.data.Resources[0].members).toBeUndefined();
    // What the app holds: the 99 members, even though its API never shows them.
    expect(app.groups()[0].members).toHaveLength(99);
    expect(app.violations()).toHaveLength(2);
  });

  it('ignores startIndex: a client paging by index gets the first page again and again', async () => {
    const { app, http } = await emulator('aws-iam-identity-center');
    for (let index = 0; index < 60; index += 1) await http.post('/Users', user(`index${index}`));
    const first = await http.get('/Users', { params: { startIndex: 1, count: 25 } });
    expect(first.status).toBe(200);
    expect(first.data).toMatchObject({ totalResults: 60, startIndex: 1, itemsPerPage: 25 });
    expect(first.data.nextCursor).toBeUndefined();
    const firstIds = first.data.Resources.map((resource: { id: string }) => resource.id);
    expect(firstIds).toHaveLength(25);
    for (const startIndex of [26, 51]) {
      const page = await http.get('/Users', { params: { startIndex, count: 25 } });
      expect(page.data.startIndex).toBe(1);
      expect(page.data.Resources.map((resource: { id: string }) => resource.id)).toEqual(firstIds);
    }
    // count is cut to 100, and without count a page holds 100.
    for (let index = 60; index < 110; index += 1) await http.post('/Users', user(`index${index}`));
    const big = await http.get('/Users', { params: { count: 500 } });
    expect(big.data).toMatchObject({ totalResults: 110, startIndex: 1, itemsPerPage: 100 });
    expect(big.data.Resources).toHaveLength(100);
    expect((await http.get('/Users')).data.Resources).toHaveLength(100);
    expect(app.violations()).toEqual([]);
  });

  it('pages by cursor: an empty cursor starts, nextCursor goes on, the last page has none', async () => {
    const { app, http } = await emulator('aws-iam-identity-center');
    const created: string[] = [];
    for (let index = 0; index < 60; index += 1) {
      created.push((await http.post('/Users', user(`cursor${index}`))).data.id);
    }
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor = '';
    for (let pages = 0; pages < 10; pages += 1) {
      const page = await http.get('/Users', { params: { cursor, count: 25 } });
      expect(page.status).toBe(200);
      expect(page.data.startIndex).toBeUndefined();
      expect(page.data.itemsPerPage).toBe(page.data.Resources.length);
      sizes.push(page.data.Resources.length);
      seen.push(...page.data.Resources.map((resource: { id: string }) => resource.id));
      if (page.data.nextCursor === undefined) break;
      expect(page.data.nextCursor).toMatch(/^[-a-zA-Z0-9+=/:_]+$/);
      cursor = page.data.nextCursor;
    }
    expect(sizes).toEqual([25, 25, 10]);
    expect(seen).toHaveLength(60);
    expect(new Set(seen)).toEqual(new Set(created));
    // `?cursor` with no value is the first page too.
    const bare = await http.get('/Users?cursor&count=5');
    expect(bare.data.Resources).toHaveLength(5);
    expect(bare.data.nextCursor).toEqual(expect.any(String));

    // With a filter, and on groups (still without members).
    const filtered = await http.get('/Users', { params: { cursor: '', filter: 'userName eq "cursor7"' } });
    expect(filtered.data.Resources).toHaveLength(1);
    expect(filtered.data.nextCursor).toBeUndefined();
    for (let index = 0; index < 3; index += 1) {
      await http.post('/Groups', {
        schemas: [GROUP_SCHEMA],
        displayName: `g${index}`,
        members: [{ value: created[index] }],
      });
    }
    const groups: unknown[] = [];
    cursor = '';
    for (let pages = 0; pages < 5; pages += 1) {
      const page = await http.get('/Groups', { params: { cursor, count: 2 } });
      groups.push(...page.data.Resources);
      if (!page.data.nextCursor) break;
      cursor = page.data.nextCursor;
    }
    expect(groups).toHaveLength(3);
    expect(groups.every((group) => (group as { members?: unknown }).members === undefined)).toBe(true);
    expect(app.violations()).toEqual([]);
  });

  it('answers a cursor it never gave out with 400 invalidCursor', async () => {
    const { app, http } = await emulator('aws-iam-identity-center');
    await http.post('/Users', user('kim'));
    for (const cursor of ['garbage', 'not a cursor!', '12', Buffer.from('offset:-1').toString('base64url')]) {
      const reply = await http.get('/Users', { params: { cursor } });
      expect(reply.status).toBe(400);
      expect(reply.data.scimType).toBe('invalidCursor');
    }
    expect((await http.get('/Groups', { params: { cursor: 'garbage' } })).status).toBe(400);
    expect(app.violations()).toHaveLength(5);
  });

  it('takes a smaller page maximum for tests (maxPageSize)', async () => {
    const { http } = await emulator('aws-iam-identity-center', { maxPageSize: 2 });
    for (let index = 0; index < 3; index += 1) await http.post('/Users', user(`small${index}`));
    expect((await http.get('/Users', { params: { count: 25 } })).data).toMatchObject({
      totalResults: 3,
      itemsPerPage: 2,
    });
    const first = await http.get('/Users', { params: { cursor: '' } });
    expect(first.data.Resources).toHaveLength(2);
    const last = await http.get('/Users', { params: { cursor: first.data.nextCursor } });
    expect(last.data.Resources).toHaveLength(1);
    expect(last.data.nextCursor).toBeUndefined();
  });
});

describe('entra-compatible', () => {
  it('removes members only by value list, takes any op case and string booleans, filters on eq', async () => {
    const { app, http } = await emulator('entra-compatible');
    const created = await http.post('/Users', user('dee'));
    const group = await http.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'ops' });
    const add = await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'Add', path: 'members', value: [{ value: created.data.id }] }),
    );
    expect(add.status).toBeLessThan(300);
    const byFilter = await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'remove', path: `members[value eq "${created.data.id}"]` }),
    );
    expect(byFilter.status).toBe(400);
    expect(app.groups()[0].members).toHaveLength(1);
    const byList = await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'Remove', path: 'members', value: [{ value: created.data.id }] }),
    );
    expect(byList.status).toBeLessThan(300);
    expect(app.groups()[0].members ?? []).toHaveLength(0);

    const deactivate = await http.patch(
      `/Users/${created.data.id}`,
      patch({ op: 'Replace', path: 'active', value: 'False' }),
    );
    expect(deactivate.status).toBe(200);
    expect(app.users()[0].active).toBe(false);

    expect((await http.get('/Users', filterOf('externalId eq "ext-dee"'))).data.totalResults).toBe(1);
    expect((await http.get('/Groups', filterOf('displayName eq "ops"'))).data.totalResults).toBe(1);
    expect((await http.get('/Users', filterOf('emails.value eq "dee@example.com"'))).status).toBe(400);
    expect((await http.get('/Groups', filterOf('externalId eq "x"'))).status).toBe(400);
    expect(app.violations()).toHaveLength(3);
  });
});

describe('okta-compatible', () => {
  it('PATCHes users only to (de)activate, never deletes them, and filters on userName/displayName', async () => {
    const { app, http } = await emulator('okta-compatible');
    const created = await http.post('/Users', user('eve'));
    const id = created.data.id as string;
    const rename = await http.patch(
      `/Users/${id}`,
      patch({ op: 'replace', path: 'name.givenName', value: 'Evelyn' }),
    );
    expect(rename.status).toBe(400);
    const withPath = await http.patch(`/Users/${id}`, patch({ op: 'replace', path: 'active', value: false }));
    expect(withPath.status).toBe(400);
    const deactivate = await http.patch(`/Users/${id}`, patch({ op: 'replace', value: { active: false } }));
    expect(deactivate.status).toBe(200);
    expect(app.users()[0].active).toBe(false);
    const put = await http.put(
      `/Users/${id}`,
      user('eve', { name: { givenName: 'Evelyn', familyName: 'F' } }),
    );
    expect(put.status).toBe(200);
    expect(app.users()[0].name).toMatchObject({ givenName: 'Evelyn' });
    const deleted = await http.delete(`/Users/${id}`);
    expect(deleted.status).toBe(405);
    expect(app.users()).toHaveLength(1);

    const group = await http.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'pushed', members: [] });
    await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'add', path: 'members', value: [{ value: id }] }),
    );
    const remove = await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'remove', path: `members[value eq "${id}"]` }),
    );
    expect(remove.status).toBeLessThan(300);
    expect((await http.get('/Users', filterOf('userName eq "eve"'))).data.totalResults).toBe(1);
    expect((await http.get('/Users', filterOf('externalId eq "ext-eve"'))).status).toBe(400);
    expect((await http.get('/Groups', filterOf('displayName eq "pushed"'))).data.totalResults).toBe(1);
    expect(app.violations()).toHaveLength(4);
  });
});

describe('slack', () => {
  it('answers writes above its rate with 429 and Retry-After, counted apart from violations', async () => {
    const { app, http } = await emulator('slack', { writesPerMinute: 1, burst: 3 });
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let index = 0; index < 4; index += 1) {
      const reply = await http.post('/Users', user(`rate${index}`));
      statuses.push(reply.status);
      if (reply.status === 429) retryAfter = reply.headers['retry-after'];
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Reads are not metered.
    expect((await http.get('/Users')).status).toBe(200);
    expect(app.rateLimited()).toBe(1);
    expect(app.violations()).toEqual([]);
  });

  it('lower-cases userName, needs an e-mail, drops roles, deactivates on DELETE, filters on userName/emails', async () => {
    const { app, http } = await emulator('slack');
    const noEmail = await http.post('/Users', user('Frank', { emails: undefined }));
    expect(noEmail.status).toBe(400);
    const created = await http.post('/Users', user('Frank.Mixed', { roles: [{ value: 'admin' }] }));
    expect(created.status).toBe(201);
    expect(created.data.userName).toBe('frank.mixed');
    expect(created.data.roles).toBeUndefined();
    const renamed = await http.patch(
      `/Users/${created.data.id}`,
      patch({ op: 'replace', path: 'userName', value: 'Frank.Renamed' }),
    );
    expect(renamed.status).toBe(200);
    expect(renamed.data.userName).toBe('frank.renamed');
    expect(app.users()[0].userName).toBe('frank.renamed');

    const deleted = await http.delete(`/Users/${created.data.id}`);
    expect(deleted.status).toBe(204);
    const after = await http.get(`/Users/${created.data.id}`);
    expect(after.status).toBe(200);
    expect(after.data.active).toBe(false);

    expect((await http.get('/Users', filterOf('userName eq "frank.renamed"'))).data.totalResults).toBe(1);
    expect((await http.get('/Users', filterOf('emails.value eq "Frank.Mixed@example.com"'))).status).toBe(
      200,
    );
    expect((await http.get('/Users', filterOf('externalId eq "ext-Frank.Mixed"'))).status).toBe(400);
    expect(app.violations()).toHaveLength(2);
  });
});

describe('github-emu', () => {
  it('requires its attributes, answers 409 on a taken userName or externalId, drops roles, filters on eq', async () => {
    const { app, http } = await emulator('github-emu');
    const missing = await http.post('/Users', { schemas: [USER_SCHEMA], userName: 'gil' });
    expect(missing.status).toBe(400);
    expect(missing.data.detail).toMatch(/externalId, emails, name.givenName, name.familyName/);
    const created = await http.post('/Users', user('gil', { roles: [{ value: 'user' }] }));
    expect(created.status).toBe(201);
    expect(app.users()[0].roles).toBeUndefined();
    const sameExternalId = await http.post('/Users', user('gil2', { externalId: 'ext-gil' }));
    expect(sameExternalId.status).toBe(409);
    expect(sameExternalId.data.scimType).toBe('uniqueness');
    expect((await http.post('/Users', user('gil', { externalId: 'other' }))).status).toBe(409);
    expect((await http.get('/Users', filterOf('externalId eq "ext-gil"'))).data.totalResults).toBe(1);
    expect((await http.get('/Users', filterOf('emails.value eq "gil@example.com"'))).status).toBe(400);
    // 409s are answers a correct client may get (a retried create); only the two rule breaches are violations.
    expect(app.violations()).toHaveLength(2);
  });

  it('refuses writes beyond its hourly budget with 429', async () => {
    const { app, http } = await emulator('github-emu', { hourlyWriteBudget: 2 });
    expect((await http.post('/Users', user('h1'))).status).toBe(201);
    expect((await http.post('/Users', user('h2'))).status).toBe(201);
    const third = await http.post('/Users', user('h3'));
    expect(third.status).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(60);
    expect(app.rateLimited()).toBe(1);
    expect(app.violations()).toEqual([]);
  });
});

describe('put-only', () => {
  it('says patch.supported false, refuses PATCH with 501 and takes PUT', async () => {
    const { app, http } = await emulator('put-only');
    expect((await http.get('/ServiceProviderConfig')).data.patch).toEqual({ supported: false });
    const created = await http.post('/Users', user('ida'));
    const patched = await http.patch(
      `/Users/${created.data.id}`,
      patch({ op: 'replace', path: 'active', value: false }),
    );
    expect(patched.status).toBe(501);
    const put = await http.put(`/Users/${created.data.id}`, user('ida', { active: false }));
    expect(put.status).toBe(200);
    expect(app.users()[0].active).toBe(false);
    expect(app.violations()).toHaveLength(1);
  });
});

describe('deriving', () => {
  it('stores users derived and normalised, answers PATCH with 204', async () => {
    const { app, http } = await emulator('deriving');
    const created = await http.post('/Users', {
      schemas: [USER_SCHEMA, ENTERPRISE],
      userName: 'jo',
      displayName: 'Whatever Was Sent',
      name: { givenName: 'Jo', familyName: 'Smith', formatted: 'Smith, Jo' },
      emails: [{ value: 'Jo.Smith@Example.COM', type: 'Work', primary: true }],
      phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
      title: 'Principal Staff Engineer, Platform Reliability',
      [ENTERPRISE]: { department: 'Platform', employeeNumber: '42' },
    });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({
      displayName: 'Jo Smith',
      name: { givenName: 'Jo', familyName: 'Smith', formatted: 'Jo Smith' },
      emails: [{ value: 'jo.smith@example.com', type: 'work', primary: true }],
      active: true,
      title: 'Principal Staff Engineer, Platfo',
      [ENTERPRISE]: { employeeNumber: '42' },
    });
    expect(created.data.phoneNumbers).toBeUndefined();
    expect(created.data[ENTERPRISE].department).toBeUndefined();

    const patched = await http.patch(
      `/Users/${created.data.id}`,
      patch(
        { op: 'replace', path: 'name.givenName', value: 'Joanna' },
        { op: 'replace', path: 'displayName', value: 'Jo S.' },
      ),
    );
    expect(patched.status).toBe(204);
    expect(patched.data).toBe('');
    const read = await http.get(`/Users/${created.data.id}`);
    expect(read.data).toMatchObject({ displayName: 'Joanna Smith', name: { formatted: 'Joanna Smith' } });

    const put = await http.put(`/Users/${created.data.id}`, {
      schemas: [USER_SCHEMA],
      userName: 'jo',
      name: { givenName: 'Jo', familyName: 'Smith' },
      emails: [{ value: 'JO@EXAMPLE.COM', type: 'work' }],
    });
    expect(put.status).toBe(200);
    expect(put.data).toMatchObject({ displayName: 'Jo Smith', active: true });
    expect(app.users()[0].emails).toEqual([{ value: 'jo@example.com', type: 'work' }]);

    const group = await http.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'g' });
    const members = await http.patch(
      `/Groups/${group.data.id}`,
      patch({ op: 'add', path: 'members', value: [{ value: created.data.id }] }),
    );
    expect(members.status).toBe(204);
    expect(app.groups()[0].members).toHaveLength(1);
    expect(app.violations()).toEqual([]);
  });
});
