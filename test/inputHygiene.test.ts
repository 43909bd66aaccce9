import { randomUUID } from 'node:crypto';
import { Harness } from './support/harness';

type Refusal = {
  error: string;
  message: string;
  issues?: { path: string; message: string }[];
  issueCount?: number;
};

describe('input hygiene: names compared as people read them, control characters and oversized input refused', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const counts = async () => ({
    users: (await h.ok<{ total: number }>('GET', '/api/users')).total,
    groups: (await h.ok<{ total: number }>('GET', '/api/groups')).total,
    apps: (await h.ok<{ items: unknown[] }>('GET', '/api/apps')).items.length,
  });

  it('given user René (é precomposed), when the same name comes decomposed, in capitals or in fullwidth letters, then each is a 409 and one user remains', async () => {
    const rene = await h.ok<{ id: string; userName: string }>('POST', '/api/users', {
      userName: 'Ren\u00e9@example.com',
    });

    for (const userName of [
      'Rene\u0301@example.com',
      'REN\u00c9@EXAMPLE.COM',
      '\uff32en\u00e9@example.com',
    ]) {
      const duplicate = await h.call<Refusal>('POST', '/api/users', { userName });
      expect({ userName, status: duplicate.status }).toEqual({ userName, status: 409 });
    }
    const found = await h.ok<{ items: { id: string }[] }>(
      'GET',
      `/api/users?userName=${encodeURIComponent('rene\u0301@example.com')}`,
    );
    expect(found.items.map((user) => user.id)).toEqual([rene.id]);
  });

  it('given a decomposed userName, when it is created, then it is stored NFC-normalized', async () => {
    const zoe = await h.ok<{ userName: string }>('POST', '/api/users', { userName: 'Zoe\u0308@example.com' });

    expect(zoe.userName).toBe('Zo\u00eb@example.com');
  });

  it('given group Équipe, when a group is created or renamed to a variant of it, then it is a 409 and nothing changes', async () => {
    await h.ok('POST', '/api/groups', { displayName: '\u00c9quipe' });
    const other = await h.ok<{ id: string }>('POST', '/api/groups', { displayName: 'Other' });

    for (const displayName of ['E\u0301quipe', '\u00e9QUIPE', '\uff25\u0301quipe']) {
      expect((await h.call('POST', '/api/groups', { displayName })).status).toBe(409);
    }
    expect((await h.call('PATCH', `/api/groups/${other.id}`, { displayName: 'e\u0301quipe' })).status).toBe(
      409,
    );
    expect(await h.ok('GET', `/api/groups/${other.id}`)).toMatchObject({ displayName: 'Other' });
  });

  it('refuses control characters in userNames, displayNames and credentials with a 400, and stores nothing', async () => {
    const before = await counts();

    const crlfUser = await h.call<Refusal>('POST', '/api/users', {
      userName: 'eve@example.com\r\nX-Evil: 1',
    });
    const nulUser = await h.call<Refusal>('POST', '/api/users', { userName: 'eve\u0000@example.com' });
    const bidiGroup = await h.call<Refusal>('POST', '/api/groups', { displayName: 'Admins\u202eexe.' });
    const crlfToken = await h.call<Refusal>('POST', '/api/apps', {
      name: 'Injected',
      baseUrl: h.proxy.url,
      auth: { type: 'bearer', token: `${h.scim.token}\r\nX-Evil: 1` },
    });
    const basicColon = await h.call<Refusal>('POST', '/api/apps', {
      name: 'Colon',
      baseUrl: h.proxy.url,
      auth: { type: 'basic', username: 'svc:admin', password: 'secret' },
    });

    expect(crlfUser).toMatchObject({ status: 400, body: { issues: [{ path: 'userName' }] } });
    expect(nulUser).toMatchObject({ status: 400, body: { issues: [{ path: 'userName' }] } });
    expect(bidiGroup).toMatchObject({ status: 400, body: { issues: [{ path: 'displayName' }] } });
    expect(crlfToken).toMatchObject({ status: 400, body: { issues: [{ path: 'auth.token' }] } });
    expect(basicColon).toMatchObject({ status: 400, body: { issues: [{ path: 'auth.username' }] } });
    expect(await counts()).toEqual(before);
  });

  it('given an app, when its token is patched to one with a CRLF, then it is a 400 and the app still reaches its target', async () => {
    const app = await h.createApp();

    const patched = await h.call<Refusal>('PATCH', `/api/apps/${app.id}`, {
      auth: { type: 'bearer', token: 'new-token\r\nX-Evil: 1' },
    });

    expect(patched).toMatchObject({ status: 400, body: { issues: [{ path: 'auth.token' }] } });
    expect(await h.ok('POST', `/api/apps/${app.id}/test-connection`)).toMatchObject({ ok: true });
  });

  it('refuses over-long names, credentials and ids with a 400', async () => {
    const before = await counts();

    expect((await h.call('POST', '/api/users', { userName: 'a'.repeat(257) })).status).toBe(400);
    expect((await h.call('POST', '/api/groups', { displayName: 'G'.repeat(257) })).status).toBe(400);
    const longToken = await h.call('POST', '/api/apps', {
      name: 'Long',
      baseUrl: h.proxy.url,
      auth: { type: 'bearer', token: 't'.repeat(8193) },
    });
    expect(longToken.status).toBe(400);
    expect((await h.call('GET', `/api/users/${'x'.repeat(129)}`)).status).toBe(400);
    expect((await h.call('GET', `/api/users/x'%20OR%201=1`)).status).toBe(400);
    expect((await h.call('GET', `/api/users?userName=${'a'.repeat(300)}`)).status).toBe(400);
    expect((await h.call('GET', `/api/users?userName=%00`)).status).toBe(400);
    expect((await h.call('GET', `/api/groups?displayName=Eng%0D%0A`)).status).toBe(400);
    expect(await counts()).toEqual(before);
  });

  it('given 100,000 unknown member ids, then the 400 names a few of them in a short body and no group is created', async () => {
    const before = await counts();
    const memberIds = Array.from({ length: 100_000 }, () => randomUUID());

    const refused = await h.call<Refusal>('POST', '/api/groups', { displayName: 'Crowd', memberIds });

    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('unknown-reference');
    expect(refused.body.message).toContain(memberIds[0]);
    expect(refused.body.message).toContain('and 99995 more');
    expect(JSON.stringify(refused.body).length).toBeLessThan(2048);
    expect(await counts()).toEqual(before);
  });

  it('given 100,000 malformed member ids, then the 400 lists 20 issues, counts them all, and no group is created', async () => {
    const before = await counts();
    const memberIds = Array.from({ length: 100_000 }, (_, n) => `bad id ${n}`);

    const refused = await h.call<Refusal>('POST', '/api/groups', { displayName: 'Malformed', memberIds });

    expect(refused.status).toBe(400);
    expect(refused.body.issues).toHaveLength(20);
    expect(refused.body.issueCount).toBe(100_000);
    expect(JSON.stringify(refused.body).length).toBeLessThan(4096);
    expect(await counts()).toEqual(before);
  });

  it('given a Basic-auth password with a CRLF or of 1,025 characters, or an app name with a control character, then each is a 400 naming the field and its rule, and no app is stored', async () => {
    const before = await counts();
    const app = (name: string, password: string) =>
      h.call<Refusal>('POST', '/api/apps', {
        name,
        baseUrl: h.proxy.url,
        auth: { type: 'basic', username: 'svc-scimflow', password },
      });

    const crlfPassword = await app('Basic CRLF', 'secret\r\nX-Evil: 1');
    const longPassword = await app('Basic long', 'p'.repeat(1025));
    const escapeName = await app('Acme\u001b[2J CRM', 'secret');

    expect(crlfPassword).toMatchObject({
      status: 400,
      body: { error: 'invalid-request', issues: [{ path: 'auth.password' }] },
    });
    expect(crlfPassword.body.issues?.[0].message).toMatch(/control characters/);
    expect(longPassword).toMatchObject({ status: 400, body: { issues: [{ path: 'auth.password' }] } });
    expect(longPassword.body.issues?.[0].message).toMatch(/1024/);
    expect(escapeName).toMatchObject({ status: 400, body: { issues: [{ path: 'name' }] } });
    expect(escapeName.body.issues?.[0].message).toMatch(/control characters/);
    expect(await counts()).toEqual(before);
  });

  it('given an app, when its name is patched to one with a control character or its credentials to a password with a CRLF or too long, then each is a 400 and the app is unchanged and still reaches its target', async () => {
    const app = await h.createApp();
    const before = await h.ok('GET', `/api/apps/${app.id}`);

    const refusals = [
      await h.call<Refusal>('PATCH', `/api/apps/${app.id}`, { name: 'Renamed\u0000' }),
      await h.call<Refusal>('PATCH', `/api/apps/${app.id}`, {
        auth: { type: 'basic', username: 'svc-scimflow', password: 'secret\r\nX-Evil: 1' },
      }),
      await h.call<Refusal>('PATCH', `/api/apps/${app.id}`, {
        auth: { type: 'basic', username: 'svc-scimflow', password: 'p'.repeat(1025) },
      }),
    ];

    expect(refusals.map(({ status, body }) => [status, body.issues?.[0].path])).toEqual([
      [400, 'name'],
      [400, 'auth.password'],
      [400, 'auth.password'],
    ]);
    expect(await h.ok('GET', `/api/apps/${app.id}`)).toEqual(before);
    expect(await h.ok('POST', `/api/apps/${app.id}/test-connection`)).toMatchObject({ ok: true });
  });

  it('given users Ada and Bob, when Bob is renamed to Ada’s userName in fullwidth letters or another case, then each is a 409 naming userName and Bob is unchanged', async () => {
    const ada = await h.createUser('ada.lovelace@example.com');
    const bob = await h.createUser('bob.hygiene@example.com');
    const before = { counts: await counts(), bob: await h.ok('GET', `/api/users/${bob.id}`) };

    for (const userName of [
      '\uff21\uff44\uff41.lovelace@example.com',
      'ADA.LOVELACE@EXAMPLE.COM',
      'Ada.Lovelace@example.com',
    ]) {
      const renamed = await h.call<Refusal>('PATCH', `/api/users/${bob.id}`, { userName });
      expect({ userName, status: renamed.status, error: renamed.body.error }).toEqual({
        userName,
        status: 409,
        error: 'conflict',
      });
      expect(renamed.body.message).toMatch(/userName/);
    }

    expect(await h.ok('GET', `/api/users/${bob.id}`)).toEqual(before.bob);
    expect(await h.ok('GET', `/api/users/${ada.id}`)).toMatchObject({ userName: 'ada.lovelace@example.com' });
    expect(await counts()).toEqual(before.counts);
  });

  it('given role Auditors, when a role is created or renamed to a variant of its name, then each is a 409 and the roles are unchanged', async () => {
    await h.ok('POST', '/api/roles', { name: 'Auditors' });
    const readers = await h.ok<{ id: string }>('POST', '/api/roles', { name: 'Readers' });
    const before = await h.ok('GET', '/api/roles');

    const answers: { name: string; status: number; body: Refusal }[] = [];
    for (const name of ['auditors', '\uff21uditors', 'AUDITORS']) {
      answers.push({ name, ...(await h.call<Refusal>('POST', '/api/roles', { name })) });
    }
    // a zero-width space is invisible, so it makes no other name
    const renamedTo = 'Auditors\u200b';
    answers.push({
      name: renamedTo,
      ...(await h.call<Refusal>('PATCH', `/api/roles/${readers.id}`, { name: renamedTo })),
    });

    expect(answers.map(({ name, status, body }) => ({ name, status, error: body.error }))).toEqual(
      answers.map(({ name }) => ({ name, status: 409, error: 'conflict' })),
    );
    expect(answers[0].body.message).toMatch(/role with name/);
    expect(await h.ok('GET', '/api/roles')).toEqual(before);
  });

  it('answers a NUL byte or a quote in an operations filter with a 400 at once, before any call to Temporal', async () => {
    for (const query of [
      'resourceId=%00',
      "resourceId=x'%20OR%20'1'='1",
      'appId=%22',
      'appId=a%0Ab',
      'intent=bogus',
    ]) {
      const started = Date.now();
      const refused = await h.call<Refusal>('GET', `/api/operations?${query}`);
      expect({ query, status: refused.status, error: refused.body.error }).toEqual({
        query,
        status: 400,
        error: 'invalid-request',
      });
      expect(Date.now() - started).toBeLessThan(1000);
    }
    expect((await h.call('GET', '/api/operations/provisionUser%00x')).status).toBe(400);
    // A real workflow id of 101 characters (a seven-digit outbox number) is looked up, not refused.
    const longId = `syncGroupMembership:${randomUUID()}:${randomUUID()}:1000000`;
    expect((await h.call('GET', `/api/operations/${longId}`)).status).toBe(404);
    expect((await h.call('GET', `/api/operations?resourceId=${randomUUID()}`)).status).toBe(200);
  });
});
