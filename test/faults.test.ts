import { Harness, type Operation } from './support/harness';

/**
 * Faults come from our proxy between scimflow and the real SCIM server: the target itself stays correct, so
 * what the tests see in it is what scimflow achieved despite the fault.
 */
describe('provisioning through a faulty network', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => h.proxy.clearFaults());

  it('a create whose response is lost is retried without leaving two remote users', async () => {
    const { group } = await h.appWithAssignedGroup();
    const nora = await h.createUser('nora@example.com');
    const start = h.proxy.received.length;
    h.proxy.failNext({ method: 'POST', pathPrefix: '/Users' }, { type: 'lose-response' });

    const { settled } = await h.change('PUT', `/api/groups/${group.id}/members/${nora.id}`);

    expect(settled).toEqual([expect.objectContaining({ intent: 'provisionUser', status: 'completed' })]);
    const lost = h.proxy.received.slice(start).find((r) => r.fault === 'lose-response');
    expect(lost).toMatchObject({ status: null, targetStatus: 201 });
    expect(h.scim.users().filter((u) => u.userName === 'nora@example.com')).toHaveLength(1);
    const remoteGroup = h.scim.groups().find((g) => g.externalId === group.id);
    expect(remoteGroup?.members?.map((m) => m.value)).toEqual([h.remoteUser('nora@example.com')?.id]);
  });

  it('a lost create while a group provisions its members ends in one user per member: the retry looks the user up and adopts it', async () => {
    const app = await h.createApp();
    const members = await Promise.all(['olga', 'pete', 'quin'].map((n) => h.createUser(`${n}@example.com`)));
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Lossy',
      memberIds: members.map((m) => m.id),
    });
    h.proxy.failNext({ method: 'POST', pathPrefix: '/Users' }, { type: 'lose-response' });

    const { settled } = await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

    expect(settled).toEqual([expect.objectContaining({ intent: 'createGroup', status: 'completed' })]);
    for (const name of ['olga', 'pete', 'quin']) {
      expect(h.scim.users().filter((u) => u.userName === `${name}@example.com`)).toHaveLength(1);
    }
    expect(h.remoteGroup('Lossy')?.members).toHaveLength(3);
  });

  it('a 429 with Retry-After is retried no sooner than the target asked', async () => {
    const { group } = await h.appWithAssignedGroup();
    const rita = await h.createUser('rita@example.com');
    const start = h.proxy.received.length;
    h.proxy.failNext(
      { method: 'POST', pathPrefix: '/Users' },
      { type: 'status', status: 429, retryAfterSeconds: 3 },
    );

    const { settled } = await h.change('PUT', `/api/groups/${group.id}/members/${rita.id}`);

    expect(settled).toEqual([expect.objectContaining({ status: 'completed' })]);
    const posts = h.proxy.received.slice(start).filter((r) => r.method === 'POST' && r.path === '/Users');
    const limited = posts.findIndex((r) => r.status === 429);
    expect(limited).toBeGreaterThanOrEqual(0);
    const retry = posts[limited + 1];
    expect(retry.status).toBe(201);
    // Temporal's default first retry would come after 1 s; the target asked for 3.
    expect(retry.receivedAt - posts[limited].receivedAt).toBeGreaterThanOrEqual(3000);
    expect(h.remoteUser('rita@example.com')).toBeDefined();
  });

  it('503s and a request that times out are retried until the write lands', async () => {
    const { group } = await h.appWithAssignedGroup({ timeoutMs: 500 });
    const sam = await h.createUser('sam@example.com');
    const start = h.proxy.received.length;
    h.proxy.failNext({ method: 'POST', pathPrefix: '/Users' }, { type: 'status', status: 503 }, 2);
    h.proxy.failNext({ method: 'PATCH', pathPrefix: '/Groups' }, { type: 'timeout', ms: 2000 });

    const { settled } = await h.change('PUT', `/api/groups/${group.id}/members/${sam.id}`);

    expect(settled).toEqual([expect.objectContaining({ status: 'completed' })]);
    const received = h.proxy.received.slice(start);
    expect(received.filter((r) => r.fault === 'status' && r.path === '/Users')).toHaveLength(2);
    expect(received.filter((r) => r.fault === 'timeout')).toHaveLength(1);
    expect(h.scim.users().filter((u) => u.userName === 'sam@example.com')).toHaveLength(1);
    const remoteGroup = h.scim.groups().find((g) => g.externalId === group.id);
    expect(remoteGroup?.members?.map((m) => m.value)).toEqual([h.remoteUser('sam@example.com')?.id]);
  });

  it("a user who leaves a group and rejoins it while the leave's membership PATCH is slow on the wire stays a member: the rejoin's add lands first, the late remove second, and the group's sync puts the member back", async () => {
    const { group } = await h.appWithAssignedGroup();
    const uma = await h.createUser('uma@example.com');
    await h.change('PUT', `/api/groups/${group.id}/members/${uma.id}`);
    const remoteGroup = () => h.scim.groups().find((g) => g.externalId === group.id);
    const umaRemoteId = h.remoteUser('uma@example.com')?.id;
    expect(remoteGroup()?.members?.map((m) => m.value)).toEqual([umaRemoteId]);
    const start = h.scim.requests.length;
    // The leave's group sync reads the members, then its remove is held on the wire for 10 s.
    h.proxy.failNext(
      { method: 'PATCH', pathPrefix: `/Groups/${remoteGroup()?.id}` },
      { type: 'delay', ms: 10_000 },
    );

    const leave = await h.ok<{ operations: Operation[] }>(
      'DELETE',
      `/api/groups/${group.id}/members/${uma.id}`,
    );
    while (!h.proxy.received.some((r) => r.fault === 'delay')) await new Promise((r) => setTimeout(r, 50));
    const rejoin = await h.ok<{ operations: Operation[] }>(
      'PUT',
      `/api/groups/${group.id}/members/${uma.id}`,
    );
    const settled = await h.settle([...leave.operations, ...rejoin.operations]);

    expect(settled.filter((s) => s.status !== 'completed')).toEqual([]);
    // The race happened as staged: the target applied the rejoin's add before the leave's remove.
    const memberWrites = h.scim.requests
      .slice(start)
      .filter((r) => r.method === 'PATCH' && r.path.startsWith('/Groups/'))
      .map((r) => (JSON.stringify(r.body).includes('"remove"') ? 'remove' : 'add'));
    expect(memberWrites.slice(0, 2)).toEqual(['add', 'remove']);
    expect(remoteGroup()?.members?.map((m) => m.value)).toEqual([umaRemoteId]);
    expect(h.remoteUser('uma@example.com')?.active).toBe(true);
  });

  it('a 400 is not retried: the operation fails with the target detail, and the link records it', async () => {
    const { app, group } = await h.appWithAssignedGroup();
    const tom = await h.createUser('tom@example.com');
    const start = h.proxy.received.length;
    h.proxy.failNext(
      { method: 'POST', pathPrefix: '/Users' },
      {
        type: 'status',
        status: 400,
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
          status: '400',
          scimType: 'invalidValue',
          detail: 'userName must be a corporate address',
        },
      },
    );

    const { settled, body } = await h.change('PUT', `/api/groups/${group.id}/members/${tom.id}`);

    expect(settled).toEqual([expect.objectContaining({ status: 'failed' })]);
    const posts = h.proxy.received.slice(start).filter((r) => r.method === 'POST' && r.path === '/Users');
    expect(posts).toHaveLength(1);
    const [operation] = body.operations as { workflowId: string }[];
    const view = await h.ok<{ status: string; error: string }>(
      'GET',
      `/api/operations/${encodeURIComponent(operation.workflowId)}`,
    );
    expect(view.status).toBe('failed');
    expect(view.error).toContain('userName must be a corporate address');
    const links = await h.ok<{ items: { localId: string; status: string; lastError: string }[] }>(
      'GET',
      `/api/apps/${app.id}/links`,
    );
    expect(links.items.find((l) => l.localId === tom.id)).toMatchObject({
      status: 'failed',
      lastError: expect.stringContaining('corporate address'),
    });
    expect(h.remoteUser('tom@example.com')).toBeUndefined();
  });
});
