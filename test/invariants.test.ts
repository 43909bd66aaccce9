import { Harness, type Operation } from './support/harness';

describe('the invariants: ordered, no duplicates, idempotent', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a burst of changes to one user runs one at a time, in order, and the target ends in the directory final state', async () => {
    const app = await h.createApp();
    const group = await h.ok<{ id: string }>('POST', '/api/groups', { displayName: 'Burst' });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    const uma = await h.createUser('uma@example.com');

    const operations: Operation[] = [];
    const issue = async (method: 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
      operations.push(...(await h.ok<{ operations: Operation[] }>(method, url, body)).operations);
    };
    // Issued back to back without waiting: each intent queues behind the previous one on the user's lane.
    await issue('PUT', `/api/groups/${group.id}/members/${uma.id}`);
    await issue('PATCH', `/api/users/${uma.id}`, { title: 'One' });
    await issue('PATCH', `/api/users/${uma.id}`, { active: false });
    await issue('PATCH', `/api/users/${uma.id}`, { active: true, title: 'Two' });
    await issue('DELETE', `/api/groups/${group.id}/members/${uma.id}`);
    await issue('PUT', `/api/groups/${group.id}/members/${uma.id}`);
    await issue('PATCH', `/api/users/${uma.id}`, { title: 'Final', displayName: 'Uma F.' });

    const settled = await h.settle(operations);
    expect(settled.every((s) => s.status === 'completed')).toBe(true);

    const userRuns = await Promise.all(
      operations
        .filter((op) => op.workflowId.includes(uma.id))
        .map(async (op) => {
          const description = await h.temporal.workflow.getHandle(op.workflowId).describe();
          return {
            id: op.workflowId,
            start: description.startTime.getTime(),
            close: description.closeTime?.getTime(),
          };
        }),
    );
    expect(userRuns.length).toBeGreaterThanOrEqual(6);
    const sequence = (id: string) => Number(id.split(':').pop());
    const inIssueOrder = [...userRuns].sort((a, b) => sequence(a.id) - sequence(b.id));
    for (let i = 1; i < inIssueOrder.length; i++) {
      // Never at the same time, and in the order issued.
      expect(inIssueOrder[i].start).toBeGreaterThanOrEqual(inIssueOrder[i - 1].close ?? Infinity);
    }

    const remote = h.scim.users().filter((u) => u.userName === 'uma@example.com');
    expect(remote).toHaveLength(1);
    expect(remote[0]).toMatchObject({
      active: true,
      title: 'Final',
      displayName: 'Uma F.',
      externalId: uma.id,
    });
    const remoteGroup = h.scim.groups().find((g) => g.externalId === group.id);
    expect(remoteGroup?.members?.map((m) => m.value)).toEqual([remote[0].id]);
  });

  it('a group of 250 is created empty, every member exists before it is sent, and members go in PATCHes of at most 100', async () => {
    const app = await h.createApp();
    const users = [];
    for (let i = 0; i < 250; i++)
      users.push(await h.createUser(`member${String(i).padStart(3, '0')}@example.com`));
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Big',
      memberIds: users.map((u) => u.id),
    });
    const before = h.scim.requests.length;

    const { settled } = await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

    expect(settled).toEqual([expect.objectContaining({ intent: 'createGroup', status: 'completed' })]);
    const writes = h.writesSince(before);
    const groupCreate = writes.find((w) => w.method === 'POST' && w.path === '/Groups');
    expect((groupCreate?.body as { members?: unknown[] }).members ?? []).toEqual([]);

    // Replay the target's request log: at each membership PATCH, every member it names must already exist.
    const created = new Set<string>();
    const userIdsByName = new Map(h.scim.users().map((u) => [u.userName, u.id]));
    const patches = [];
    for (const write of writes) {
      if (write.method === 'POST' && write.path === '/Users') {
        created.add(userIdsByName.get((write.body as { userName: string }).userName) as string);
      }
      if (write.method === 'PATCH' && write.path.startsWith('/Groups/')) {
        const added = (write.body as { Operations: { value: { value: string }[] }[] }).Operations.flatMap(
          (op) => op.value.map((member) => member.value),
        );
        expect(added.every((id) => created.has(id))).toBe(true);
        patches.push(added.length);
      }
    }
    expect(created.size).toBe(250);
    expect(patches).toEqual([100, 100, 50]);
    expect(h.remoteGroup('Big')?.members).toHaveLength(250);
  });

  it('running the same intents again writes nothing when the target already matches', async () => {
    const app = await h.createApp();
    const vic = await h.createUser('vic@example.com');
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Again',
      memberIds: [vic.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    const before = h.scim.requests.length;

    const rerun = await h.dispatcher.dispatch([
      { intent: 'provisionUser', input: { appId: app.id, userId: vic.id }, summary: 'again' },
      { intent: 'updateUser', input: { appId: app.id, userId: vic.id }, summary: 'again' },
      { intent: 'createGroup', input: { appId: app.id, groupId: group.id }, summary: 'again' },
      { intent: 'syncGroupMembership', input: { appId: app.id, groupId: group.id }, summary: 'again' },
      { intent: 'updateGroup', input: { appId: app.id, groupId: group.id }, summary: 'again' },
    ]);
    const settled = await h.settle(rerun);

    expect(settled.map((s) => [s.intent, s.status === 'completed' && s.result.outcome])).toEqual([
      ['provisionUser', 'unchanged'],
      ['updateUser', 'unchanged'],
      ['createGroup', 'unchanged'],
      ['syncGroupMembership', 'unchanged'],
      ['updateGroup', 'unchanged'],
    ]);
    expect(h.writesSince(before)).toEqual([]);
  });
});
