import axios, { type AxiosInstance } from 'axios';
import { startFaultProxy, type FaultProxy } from './support/faultProxy';
import { startScimServer, type ScimTestServer } from './support/scimServer';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** Every status is returned rather than thrown, so tests assert on what the target answered. */
function scimClient(baseURL: string, token: string, timeout = 5_000): AxiosInstance {
  return axios.create({
    baseURL,
    timeout,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
    validateStatus: () => true,
  });
}

function patchOp(...operations: object[]) {
  return { schemas: [PATCH_OP], Operations: operations };
}

/** Resolves with the network error a request failed with, or fails the test if it got a response. */
async function networkErrorOf(request: Promise<unknown>): Promise<{ code?: string; hasResponse: boolean }> {
  try {
    await request;
  } catch (error) {
    if (!axios.isAxiosError(error)) throw error;
    return { code: error.code, hasResponse: error.response !== undefined };
  }
  throw new Error('Expected the request to fail without a response, but it succeeded');
}

describe('SCIM test server (scimmy)', () => {
  let server: ScimTestServer;
  let client: AxiosInstance;

  beforeAll(async () => {
    server = await startScimServer();
    client = scimClient(server.url, server.token);
  });

  afterAll(async () => {
    await server.close();
  });

  it('creates a user with a server-assigned id and meta, and stores it', async () => {
    const response = await client.post('/Users', {
      schemas: [USER_SCHEMA],
      userName: 'create.me@example.com',
      name: { givenName: 'Create', familyName: 'Me' },
      active: true,
    });

    expect(response.status).toBe(201);
    expect(response.data.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.data.meta).toMatchObject({
      resourceType: 'User',
      location: `${server.url}/Users/${response.data.id}`,
    });
    expect(response.headers.location).toBe(`${server.url}/Users/${response.data.id}`);
    const stored = server.users().find((user) => user.id === response.data.id);
    expect(stored).toMatchObject({
      userName: 'create.me@example.com',
      active: true,
      name: { givenName: 'Create' },
    });
    expect(Date.parse(stored?.meta.created ?? '')).not.toBeNaN();
  });

  it('rejects a duplicate userName, ignoring case, with 409 uniqueness', async () => {
    expect((await client.post('/Users', { userName: 'dup@example.com' })).status).toBe(201);

    const duplicate = await client.post('/Users', { userName: 'DUP@example.com' });

    expect(duplicate.status).toBe(409);
    expect(duplicate.data).toMatchObject({ schemas: [SCIM_ERROR], status: '409', scimType: 'uniqueness' });
    expect(server.users().filter((user) => user.userName.toLowerCase() === 'dup@example.com')).toHaveLength(
      1,
    );
  });

  it('finds a user by userName filter, case-insensitively as userName is caseExact=false', async () => {
    const created = server.seedUser({ userName: 'Filter.Me@example.com' });
    server.seedUser({ userName: 'filter.me.not@example.com' });

    for (const userName of ['Filter.Me@example.com', 'filter.me@EXAMPLE.com']) {
      const response = await client.get('/Users', { params: { filter: `userName eq "${userName}"` } });
      expect(response.status).toBe(200);
      expect(response.data.totalResults).toBe(1);
      expect(response.data.Resources.map((user: { id: string }) => user.id)).toEqual([created.id]);
    }
  });

  it('answers an unparseable filter with a SCIM 400', async () => {
    const response = await client.get('/Users', { params: { filter: 'userName eq' } });

    expect(response.status).toBe(400);
    expect(response.data.schemas).toEqual([SCIM_ERROR]);
  });

  it('pages with startIndex and count, including past the last page', async () => {
    const seeded = ['a', 'b', 'c', 'd', 'e'].map((suffix) =>
      server.seedUser({ userName: `paged.${suffix}` }),
    );
    const page = (startIndex: number, count: number) =>
      client.get('/Users', { params: { filter: 'userName sw "paged."', startIndex, count } });

    const second = await page(2, 2);
    expect(second.data.totalResults).toBe(5);
    expect(second.data.startIndex).toBe(2);
    expect(second.data.Resources.map((user: { id: string }) => user.id)).toEqual([
      seeded[1].id,
      seeded[2].id,
    ]);

    const last = await page(5, 2);
    expect(last.data.Resources.map((user: { id: string }) => user.id)).toEqual([seeded[4].id]);

    const beyond = await page(6, 2);
    expect(beyond.data.totalResults).toBe(5);
    expect(beyond.data.Resources).toEqual([]);
  });

  it('adds a group member by PATCH and removes it through a members[value eq] path', async () => {
    const user = server.seedUser({ userName: 'member@example.com', displayName: 'Member' });
    const group = (await client.post('/Groups', { displayName: 'Engineering' })).data;

    const added = await client.patch(
      `/Groups/${group.id}`,
      patchOp({ op: 'add', path: 'members', value: [{ value: user.id }] }),
    );
    expect(added.status).toBe(200);
    expect(server.groups().find((stored) => stored.id === group.id)?.members).toEqual([
      { value: user.id, type: 'User', display: 'Member', $ref: `${server.url}/Users/${user.id}` },
    ]);

    const removed = await client.patch(
      `/Groups/${group.id}`,
      patchOp({ op: 'remove', path: `members[value eq "${user.id}"]` }),
    );
    expect(removed.status).toBe(200);
    expect(server.groups().find((stored) => stored.id === group.id)?.members).toBeUndefined();
  });

  it('answers 204 without a body to a PATCH that changes nothing, such as removing a non-member', async () => {
    const group = server.seedGroup({ displayName: 'Unchanged' });

    const response = await client.patch(
      `/Groups/${group.id}`,
      patchOp({ op: 'remove', path: 'members[value eq "not-a-member"]' }),
    );

    expect(response.status).toBe(204);
    expect(server.groups().find((stored) => stored.id === group.id)?.meta.lastModified).toBe(
      group.meta.lastModified,
    );
  });

  it('refuses to add a member that does not exist', async () => {
    const group = server.seedGroup({ displayName: 'Strict' });

    const response = await client.patch(
      `/Groups/${group.id}`,
      patchOp({ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }),
    );

    expect(response.status).toBe(400);
    expect(response.data.scimType).toBe('invalidValue');
  });

  it('rejects a duplicate group displayName with 409 uniqueness', async () => {
    server.seedGroup({ displayName: 'Only Once' });

    const response = await client.post('/Groups', { displayName: 'only once' });

    expect(response.status).toBe(409);
    expect(response.data.scimType).toBe('uniqueness');
  });

  it('removes a deleted user from the groups it belonged to', async () => {
    const user = server.seedUser({ userName: 'leaver@example.com' });
    const stayer = server.seedUser({ userName: 'stayer@example.com' });
    const group = server.seedGroup({
      displayName: 'Leavers',
      members: [{ value: user.id }, { value: stayer.id }],
    });

    expect((await client.delete(`/Users/${user.id}`)).status).toBe(204);

    expect(server.users().some((stored) => stored.id === user.id)).toBe(false);
    const members = server.groups().find((stored) => stored.id === group.id)?.members;
    expect(members?.map((member) => member.value)).toEqual([stayer.id]);
    expect((await client.get(`/Users/${user.id}`)).status).toBe(404);
  });

  it('accepts and filters on enterprise extension attributes', async () => {
    const created = await client.post('/Users', {
      schemas: [USER_SCHEMA, ENTERPRISE_USER],
      userName: 'enterprise@example.com',
      [ENTERPRISE_USER]: { employeeNumber: 'E-42', department: 'Research' },
    });
    expect(created.status).toBe(201);
    expect(server.users().find((user) => user.id === created.data.id)?.[ENTERPRISE_USER]).toEqual({
      employeeNumber: 'E-42',
      department: 'Research',
    });

    const found = await client.get('/Users', {
      params: { filter: `${ENTERPRISE_USER}:employeeNumber eq "E-42"` },
    });
    expect(found.data.Resources.map((user: { id: string }) => user.id)).toEqual([created.data.id]);
  });

  it('rejects boolean attributes sent as strings, as Entra ID does with "False"', async () => {
    const user = server.seedUser({ userName: 'stringly@example.com', active: true });

    const response = await client.patch(
      `/Users/${user.id}`,
      patchOp({ op: 'Replace', path: 'active', value: 'False' }),
    );

    expect(response.status).toBe(400);
    expect(response.data.scimType).toBe('invalidValue');
    expect(server.users().find((stored) => stored.id === user.id)?.active).toBe(true);
  });

  it('requires the bearer token and answers 401 with a SCIM error otherwise', async () => {
    const withoutToken = await axios.get(`${server.url}/Users`, { validateStatus: () => true });
    const withWrongToken = await scimClient(server.url, 'wrong-token').post('/Users', {
      userName: 'intruder',
    });

    for (const response of [withoutToken, withWrongToken]) {
      expect(response.status).toBe(401);
      expect(response.data).toMatchObject({ schemas: [SCIM_ERROR], status: '401' });
    }
    expect(server.users().some((user) => user.userName === 'intruder')).toBe(false);
  });

  it('applies out-of-band drift directly to the store', async () => {
    const user = server.seedUser({ userName: 'drifter@example.com', displayName: 'Before' });

    server.updateUserDirectly(user.id, { displayName: 'After' });
    expect((await client.get(`/Users/${user.id}`)).data.displayName).toBe('After');

    server.deleteUserDirectly(user.id);
    expect((await client.get(`/Users/${user.id}`)).status).toBe(404);
    expect(() => server.seedUser({ userName: 'DRIFTER2@example.com', active: 'yes' })).toThrow(/boolean/);
  });

  it('records the requests it receives', async () => {
    server.resetRequests();

    await client.get('/Users', { params: { filter: 'userName eq "nobody"' } });
    await client.post('/Users', { userName: 'recorded@example.com' });

    expect(server.requests).toEqual([
      {
        method: 'GET',
        path: '/Users',
        query: { filter: 'userName eq "nobody"' },
        body: {},
        status: 200,
        receivedAt: expect.any(Number),
      },
      {
        method: 'POST',
        path: '/Users',
        query: {},
        body: { userName: 'recorded@example.com' },
        status: 201,
        receivedAt: expect.any(Number),
      },
    ]);
  });
});

describe('SCIM test servers side by side', () => {
  let withPatch: ScimTestServer;
  let withoutPatch: ScimTestServer;

  beforeAll(async () => {
    [withPatch, withoutPatch] = await Promise.all([startScimServer(), startScimServer({ patch: false })]);
  });

  afterAll(async () => {
    await Promise.all([withPatch.close(), withoutPatch.close()]);
  });

  it('advertises PATCH support per server', async () => {
    const [supported, unsupported] = await Promise.all([
      scimClient(withPatch.url, withPatch.token).get('/ServiceProviderConfig'),
      scimClient(withoutPatch.url, withoutPatch.token).get('/ServiceProviderConfig'),
    ]);

    expect(supported.data.patch).toEqual({ supported: true });
    expect(unsupported.data.patch).toEqual({ supported: false });
    expect(unsupported.data.filter).toMatchObject({ supported: true });
    expect(unsupported.data.bulk).toMatchObject({ supported: false });
    expect(unsupported.data.meta.location).toBe(`${withoutPatch.url}/ServiceProviderConfig`);
  });

  it('refuses PATCH with 501 where it is not supported, leaving the resource untouched', async () => {
    const user = withoutPatch.seedUser({ userName: 'unpatched@example.com', active: true });

    const response = await scimClient(withoutPatch.url, withoutPatch.token).patch(
      `/Users/${user.id}`,
      patchOp({ op: 'replace', path: 'active', value: false }),
    );

    expect(response.status).toBe(501);
    expect(response.data.schemas).toEqual([SCIM_ERROR]);
    expect(withoutPatch.users()[0].active).toBe(true);
  });

  it('keeps a separate store and token per server', async () => {
    const created = await scimClient(withPatch.url, withPatch.token).post('/Users', {
      userName: 'only.here',
    });

    expect(created.status).toBe(201);
    expect(withPatch.users().map((user) => user.userName)).toContain('only.here');
    expect(withoutPatch.users().map((user) => user.userName)).not.toContain('only.here');
    const listed = await scimClient(withoutPatch.url, withoutPatch.token).get('/Users', {
      params: { filter: 'userName eq "only.here"' },
    });
    expect(listed.data.totalResults).toBe(0);
    expect((await scimClient(withoutPatch.url, withPatch.token).get('/Users')).status).toBe(401);
  });
});

describe('fault proxy', () => {
  let target: ScimTestServer;
  let proxy: FaultProxy;
  let client: AxiosInstance;

  beforeAll(async () => {
    target = await startScimServer();
    proxy = await startFaultProxy(target.url);
    client = scimClient(proxy.url, target.token);
  });

  afterEach(() => {
    proxy.clearFaults();
  });

  afterAll(async () => {
    await proxy.close();
    await target.close();
  });

  it('keeps the target path prefix and forwards when no fault is queued, links pointing at the proxy', async () => {
    expect(new URL(proxy.url).pathname).toBe(new URL(target.url).pathname);

    const response = await client.post('/Users', { userName: 'proxied@example.com' });

    expect(response.status).toBe(201);
    expect(response.data.meta.location).toBe(`${proxy.url}/Users/${response.data.id}`);
    expect(target.users().some((user) => user.userName === 'proxied@example.com')).toBe(true);
    expect(proxy.received.at(-1)).toEqual({
      method: 'POST',
      path: '/Users',
      status: 201,
      targetStatus: 201,
      receivedAt: expect.any(Number),
    });
  });

  it('answers a queued 503 with Retry-After and a SCIM error body, then lets the next request through', async () => {
    proxy.failNext(
      { method: 'POST', pathPrefix: '/Users' },
      { type: 'status', status: 503, retryAfterSeconds: 2 },
    );
    target.resetRequests();

    const failed = await client.post('/Users', { userName: 'retried@example.com' });
    expect(failed.status).toBe(503);
    expect(failed.headers['retry-after']).toBe('2');
    expect(failed.data).toMatchObject({ schemas: [SCIM_ERROR], status: '503' });
    expect(target.requests).toHaveLength(0);

    const retried = await client.post('/Users', { userName: 'retried@example.com' });
    expect(retried.status).toBe(201);
    expect(target.users().filter((user) => user.userName === 'retried@example.com')).toHaveLength(1);
  });

  it('fires a fault only for matching requests, the given number of times, in order', async () => {
    proxy.failNext({ method: 'GET', pathPrefix: '/Groups' }, { type: 'status', status: 429 }, 2);
    proxy.failNext({ method: 'GET' }, { type: 'status', status: 500 });

    expect((await client.get('/Users')).status).toBe(500);
    expect((await client.post('/Groups', { displayName: 'Unaffected' })).status).toBe(201);
    expect((await client.get('/Groups')).status).toBe(429);
    expect((await client.get('/Groups')).status).toBe(429);
    const afterwards = await client.get('/Groups');
    expect(afterwards.status).toBe(200);
    expect(afterwards.data.totalResults).toBe(1);
  });

  it('sends the custom body of a status fault as given', async () => {
    proxy.failNext({}, { type: 'status', status: 500, body: { detail: 'custom' } });

    const response = await client.get('/Users');

    expect(response.data).toEqual({ detail: 'custom' });
  });

  it('lose-response commits the write at the target but the client gets a socket error', async () => {
    proxy.failNext({ method: 'POST', pathPrefix: '/Users' }, { type: 'lose-response' });

    const failure = await networkErrorOf(client.post('/Users', { userName: 'committed@example.com' }));

    expect(failure).toEqual({ code: 'ECONNRESET', hasResponse: false });
    expect(target.users().filter((user) => user.userName === 'committed@example.com')).toHaveLength(1);
    expect(proxy.received.at(-1)).toMatchObject({ fault: 'lose-response', status: null, targetStatus: 201 });
  });

  it('timeout holds the request without forwarding it until the client gives up', async () => {
    proxy.failNext({ method: 'POST' }, { type: 'timeout' });
    target.resetRequests();
    const impatient = scimClient(proxy.url, target.token, 300);

    const startedAt = Date.now();
    const failure = await networkErrorOf(impatient.post('/Users', { userName: 'never@example.com' }));

    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(290);
    expect(failure).toEqual({ code: 'ECONNABORTED', hasResponse: false });
    expect(target.requests).toHaveLength(0);
    expect(target.users().some((user) => user.userName === 'never@example.com')).toBe(false);
    expect(proxy.received.at(-1)).toMatchObject({ fault: 'timeout', status: null });
  });

  it('delay answers late but forwards the request', async () => {
    proxy.failNext({ pathPrefix: '/Users' }, { type: 'delay', ms: 250 });

    const startedAt = Date.now();
    const response = await client.post('/Users', { userName: 'late@example.com' });

    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(240);
    expect(response.status).toBe(201);
    expect(proxy.received.at(-1)).toMatchObject({ fault: 'delay', status: 201 });
  });

  it('close() ends held requests', async () => {
    const closingProxy = await startFaultProxy(target.url);
    closingProxy.failNext({}, { type: 'timeout' });
    const held = networkErrorOf(scimClient(closingProxy.url, target.token, 10_000).get('/Users'));
    await waitFor(() => closingProxy.received.length === 1);

    await closingProxy.close();

    expect(await held).toMatchObject({ hasResponse: false });
  });

  it('only fronts loopback targets', async () => {
    await expect(startFaultProxy('http://example.com/scim/v2')).rejects.toThrow(/loopback/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('Condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
