import axios from 'axios';
import { API_TOKEN, Harness } from './support/harness';

type Issues = { error: string; issues?: { path: string; message: string }[]; message: string };

describe('the HTTP API contract', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('requires the bearer token on every route but /healthz', async () => {
    expect((await h.call('GET', '/healthz', undefined, null)).status).toBe(200);
    expect((await h.call('GET', '/api/users', undefined, null)).status).toBe(401);
    expect((await h.call('GET', '/api/users', undefined, `${API_TOKEN}x`)).status).toBe(401);
    expect((await h.call('GET', '/api/users')).status).toBe(200);
  });

  it('answers bad input with 400 and field-level messages, and changes nothing', async () => {
    const missing = await h.call<Issues>('POST', '/api/users', { emails: [{ value: 'not-an-email' }] });
    expect(missing.status).toBe(400);
    expect(missing.body.issues?.map((i) => i.path).sort()).toEqual(['emails.0.value', 'userName']);

    const unknownField = await h.call<Issues>('POST', '/api/users', {
      userName: 'x@example.com',
      shoeSize: 44,
    });
    expect(unknownField.status).toBe(400);

    const badApp = await h.call<Issues>('POST', '/api/apps', {
      name: 'Bad',
      baseUrl: 'ftp://example.com',
      auth: { type: 'bearer' },
      deprovisionMode: 'shred',
    });
    expect(badApp.status).toBe(400);
    expect(badApp.body.issues?.map((i) => i.path)).toEqual(
      expect.arrayContaining(['baseUrl', 'auth.token', 'deprovisionMode']),
    );

    const malformed = await axios.post(`${h.apiUrl}/api/groups`, '{"displayName": ', {
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      validateStatus: () => true,
    });
    expect(malformed.status).toBe(400);

    const usersBefore = await h.ok<{ total: number }>('GET', '/api/users');
    const groupWithStranger = await h.call<Issues>('POST', '/api/groups', {
      displayName: 'Strangers',
      memberIds: ['no-such-user'],
    });
    expect(groupWithStranger.status).toBe(400);
    expect(groupWithStranger.body.message).toContain('no-such-user');
    expect((await h.ok<{ items: unknown[] }>('GET', '/api/groups?displayName=Strangers')).items).toEqual([]);
    expect((await h.ok<{ total: number }>('GET', '/api/users')).total).toBe(usersBefore.total);
  });

  it('a PATCH changes only the fields it names', async () => {
    const nat = await h.createUser('nat@example.com', { active: false, title: 'Before' });
    const patched = await h.ok<{ active: boolean; title: string }>('PATCH', `/api/users/${nat.id}`, {
      title: 'After',
    });
    expect(patched).toMatchObject({ active: false, title: 'After' });

    const app = await h.createApp({ provisioning: { deleteUsers: false } });
    const updated = await h.ok<{ provisioning: Record<string, boolean> }>('PATCH', `/api/apps/${app.id}`, {
      provisioning: { createUsers: false },
    });
    expect(updated.provisioning).toMatchObject({ createUsers: false, deleteUsers: false, updateUsers: true });
  });

  it('answers unsupported bodies with 415 and unknown routes with a JSON 404', async () => {
    const text = await axios.post(`${h.apiUrl}/api/users`, 'userName=x', {
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'text/plain' },
      validateStatus: () => true,
    });
    expect(text.status).toBe(415);
    const nowhere = await h.call<{ error: string }>('GET', '/api/nowhere');
    expect(nowhere).toMatchObject({ status: 404, body: { error: 'not-found' } });
    expect((await h.call('GET', '/healthz?probe=1', undefined, null)).status).toBe(200);
  });

  it('answers unknown ids with 404', async () => {
    expect((await h.call('GET', '/api/users/nope')).status).toBe(404);
    expect((await h.call('PATCH', '/api/groups/nope', { displayName: 'x' })).status).toBe(404);
    expect((await h.call('DELETE', '/api/apps/nope')).status).toBe(404);
    expect((await h.call('GET', '/api/operations/provisionUser:a:b:1')).status).toBe(404);
    const group = await h.ok<{ id: string }>('POST', '/api/groups', { displayName: 'Lonely' });
    expect((await h.call('PUT', `/api/groups/${group.id}/members/nope`)).status).toBe(404);
    expect((await h.call('DELETE', `/api/groups/${group.id}/members/nope`)).status).toBe(404);
  });

  it('answers duplicates with 409 — userName ignoring case — and leaves the record as it was', async () => {
    await h.createUser('Kate@Example.com');
    const duplicate = await h.call<Issues>('POST', '/api/users', { userName: 'kate@example.com' });
    expect(duplicate.status).toBe(409);

    const a = await h.ok<{ id: string }>('POST', '/api/groups', { displayName: 'Alpha' });
    await h.ok('POST', '/api/groups', { displayName: 'Beta' });
    const lee = await h.createUser('lee@example.com');
    const clash = await h.call('PATCH', `/api/groups/${a.id}`, { displayName: 'beta', memberIds: [lee.id] });
    expect(clash.status).toBe(409);
    const alpha = await h.ok<{ displayName: string; memberIds: string[] }>('GET', `/api/groups/${a.id}`);
    expect(alpha).toMatchObject({ displayName: 'Alpha', memberIds: [] });
  });

  it('never echoes SCIM credentials', async () => {
    const app = await h.createApp({ auth: { type: 'basic', username: 'svc', password: 'hunter2-secret' } });
    const read = await h.call('GET', `/api/apps/${app.id}`);
    const listed = await h.call('GET', '/api/apps');
    for (const body of [app, read.body, listed.body]) {
      expect(JSON.stringify(body)).not.toContain('hunter2-secret');
    }
    expect(read.body).toMatchObject({ authType: 'basic' });
  });

  it('finds users and groups by name, and pages the user list', async () => {
    const mia = await h.createUser('mia@example.com');
    const found = await h.ok<{ items: { id: string }[] }>('GET', '/api/users?userName=MIA@example.com');
    expect(found.items.map((u) => u.id)).toEqual([mia.id]);
    const page = await h.ok<{ items: unknown[]; total: number; limit: number }>(
      'GET',
      '/api/users?offset=0&limit=1',
    );
    expect(page.items).toHaveLength(1);
    expect(page.total).toBeGreaterThan(1);
  });

  it('test-connection reports capabilities, or precisely why it failed', async () => {
    const good = await h.createApp();
    const report = await h.ok<{ ok: boolean; capabilities: { patch: boolean; filter: boolean } }>(
      'POST',
      `/api/apps/${good.id}/test-connection`,
    );
    expect(report).toMatchObject({ ok: true, reachable: true, authenticated: true });
    expect(report.capabilities).toMatchObject({ patch: true, filter: true });

    const wrongToken = await h.createApp({ auth: { type: 'bearer', token: 'wrong' } });
    const denied = await h.ok<{
      ok: boolean;
      authenticated: boolean;
      error: { status: number; message: string };
    }>('POST', `/api/apps/${wrongToken.id}/test-connection`);
    expect(denied).toMatchObject({ ok: false, authenticated: false, error: { status: 401 } });
    expect(denied.error.message).toContain('credentials');

    const nowhere = await h.createApp({ baseUrl: 'http://127.0.0.1:9/scim/v2' });
    const unreachable = await h.ok<{ ok: boolean; reachable: boolean }>(
      'POST',
      `/api/apps/${nowhere.id}/test-connection`,
    );
    expect(unreachable).toMatchObject({ ok: false, reachable: false });
  });

  it('publishes an OpenAPI document of the routes', async () => {
    const spec = await h.ok<{ paths: Record<string, unknown> }>('GET', '/api/openapi.json');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/apps',
        '/api/users/{id}',
        '/api/groups/{id}/members/{userId}',
        '/api/operations',
      ]),
    );
  });
});
