import { Harness } from './support/harness';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('a user through its life in an app', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('joining the assigned group provisions the user and adds it to the remote group', async () => {
    const { group } = await h.appWithAssignedGroup();
    const erin = await h.createUser('erin@example.com', { title: 'Engineer' });
    const joined = await h.change('PUT', `/api/groups/${group.id}/members/${erin.id}`);
    expect(joined.settled).toEqual([
      expect.objectContaining({ intent: 'provisionUser', status: 'completed' }),
    ]);
    const remote = h.remoteUser('erin@example.com');
    expect(remote).toMatchObject({ title: 'Engineer', externalId: erin.id, active: true });
    const remoteGroup = h.scim.groups().find((g) => g.externalId === group.id);
    expect(remoteGroup?.members?.map((m) => m.value)).toEqual([remote?.id]);
  });

  it('an update sends one PATCH with only the changed attributes, and repeating it writes nothing', async () => {
    const { app, group } = await h.appWithAssignedGroup();
    const finn = await h.createUser('finn@example.com', { title: 'Analyst', department: 'Finance' });
    await h.change('PUT', `/api/groups/${group.id}/members/${finn.id}`);

    const before = h.scim.requests.length;
    const { settled } = await h.change('PATCH', `/api/users/${finn.id}`, {
      title: 'Lead Analyst',
      department: 'Risk',
    });
    expect(settled).toEqual([expect.objectContaining({ intent: 'updateUser', status: 'completed' })]);
    const writes = h.writesSince(before);
    expect(writes.map((w) => w.method)).toEqual(['PATCH']);
    const operations = (writes[0].body as { Operations: { op: string; path: string; value: unknown }[] })
      .Operations;
    expect(operations).toEqual([
      { op: 'replace', path: 'title', value: 'Lead Analyst' },
      { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Risk' },
    ]);
    expect(h.remoteUser('finn@example.com')).toMatchObject({
      title: 'Lead Analyst',
      [ENTERPRISE]: { department: 'Risk' },
    });

    const again = h.scim.requests.length;
    const rerun = await h.dispatcher.dispatch([
      { intent: 'updateUser', input: { appId: app.id, userId: finn.id }, summary: 'rerun' },
    ]);
    const [result] = await h.settle(rerun);
    expect(result).toMatchObject({ status: 'completed', result: { outcome: 'unchanged' } });
    expect(h.writesSince(again)).toEqual([]);
  });

  it('deactivating the user in the directory deactivates it remotely with a real boolean; reactivating brings it back', async () => {
    const { group } = await h.appWithAssignedGroup();
    const gina = await h.createUser('gina@example.com');
    await h.change('PUT', `/api/groups/${group.id}/members/${gina.id}`);

    const before = h.scim.requests.length;
    const off = await h.change('PATCH', `/api/users/${gina.id}`, { active: false });
    expect(off.settled).toEqual([
      expect.objectContaining({ intent: 'deprovisionUser', status: 'completed' }),
    ]);
    expect(h.writesSince(before).map((w) => w.body)).toContainEqual(
      expect.objectContaining({ Operations: [{ op: 'replace', path: 'active', value: false }] }),
    );
    expect(h.remoteUser('gina@example.com')?.active).toBe(false);

    const on = await h.change('PATCH', `/api/users/${gina.id}`, { active: true });
    expect(on.settled).toEqual([expect.objectContaining({ intent: 'provisionUser', status: 'completed' })]);
    expect(h.remoteUser('gina@example.com')?.active).toBe(true);
    expect(h.scim.users().filter((u) => u.userName === 'gina@example.com')).toHaveLength(1);
  });

  it('in an app that deletes, leaving the group deletes the remote user; deleting a user in the directory does too', async () => {
    const { group } = await h.appWithAssignedGroup({ deprovisionMode: 'delete' });
    const hank = await h.createUser('hank@example.com');
    const ivy = await h.createUser('ivy@example.com');
    await h.change('PATCH', `/api/groups/${group.id}`, { memberIds: [hank.id, ivy.id] });
    expect(h.remoteUser('hank@example.com')).toBeDefined();

    const left = await h.change('DELETE', `/api/groups/${group.id}/members/${hank.id}`);
    expect(left.settled.every((s) => s.status === 'completed')).toBe(true);
    expect(h.remoteUser('hank@example.com')).toBeUndefined();

    const deleted = await h.change('DELETE', `/api/users/${ivy.id}`);
    expect(deleted.settled.map((s) => s.intent)).toContain('deprovisionUser');
    expect(deleted.settled.every((s) => s.status === 'completed')).toBe(true);
    expect(h.remoteUser('ivy@example.com')).toBeUndefined();
  });

  it('deprovisioning a user already deleted in the app by hand completes and forgets the link', async () => {
    const { app, group } = await h.appWithAssignedGroup();
    const lou = await h.createUser('lou@example.com');
    await h.change('PUT', `/api/groups/${group.id}/members/${lou.id}`);
    h.scim.deleteUserDirectly(h.remoteUser('lou@example.com')!.id);

    const { settled } = await h.change('DELETE', `/api/groups/${group.id}/members/${lou.id}`);

    expect(settled.map((s) => [s.intent, s.status])).toEqual(
      expect.arrayContaining([['deprovisionUser', 'completed']]),
    );
    const links = await h.ok<{ items: { localId: string }[] }>('GET', `/api/apps/${app.id}/links`);
    expect(links.items.map((l) => l.localId)).not.toContain(lou.id);
  });

  it('a user that already exists in the target is adopted, not duplicated, and only its differences are written', async () => {
    const { group } = await h.appWithAssignedGroup();
    h.scim.seedUser({ userName: 'jack@example.com', title: 'Old title', active: true });
    const jack = await h.createUser('jack@example.com', { title: 'New title' });
    const before = h.scim.requests.length;
    await h.change('PUT', `/api/groups/${group.id}/members/${jack.id}`);

    expect(h.scim.users().filter((u) => u.userName === 'jack@example.com')).toHaveLength(1);
    expect(h.writesSince(before).some((w) => w.method === 'POST' && w.path === '/Users')).toBe(false);
    expect(h.remoteUser('jack@example.com')).toMatchObject({ title: 'New title', externalId: jack.id });
  });

  it('a user deleted remotely by hand is created again on its next update', async () => {
    const { group } = await h.appWithAssignedGroup();
    const kim = await h.createUser('kim@example.com');
    await h.change('PUT', `/api/groups/${group.id}/members/${kim.id}`);
    h.scim.deleteUserDirectly(h.remoteUser('kim@example.com')!.id);

    const { settled } = await h.change('PATCH', `/api/users/${kim.id}`, { title: 'Back' });
    expect(settled).toEqual([
      expect.objectContaining({
        status: 'completed',
        result: expect.objectContaining({ outcome: 'written' }),
      }),
    ]);
    expect(h.remoteUser('kim@example.com')).toMatchObject({ title: 'Back', externalId: kim.id });
  });
});

describe('a target without PATCH support', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ scim: { patch: false } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('receives full PUTs for user updates and group membership, never a PATCH, and keeps members it did not add', async () => {
    const { group } = await h.appWithAssignedGroup();
    const lea = await h.createUser('lea@example.com');
    const max = await h.createUser('max@example.com');
    await h.change('PATCH', `/api/groups/${group.id}`, { memberIds: [lea.id, max.id] });
    // Someone adds a user of the app's own to the group by hand: scimflow does not manage that membership.
    const outsider = h.scim.seedUser({ userName: 'outsider@example.com' });
    const remoteGroupId = h.scim.groups().find((g) => g.externalId === group.id)!.id;
    const handMembers = [
      ...(h.scim.groups().find((g) => g.id === remoteGroupId)?.members ?? []),
      { value: outsider.id },
    ];
    h.scim.updateGroupDirectly(remoteGroupId, { members: handMembers.map(({ value }) => ({ value })) });

    await h.change('PATCH', `/api/users/${lea.id}`, { title: 'Designer' });
    await h.change('DELETE', `/api/groups/${group.id}/members/${max.id}`);
    await h.change('PATCH', `/api/groups/${group.id}`, { displayName: 'Renamed by PUT' });

    expect(h.scim.requests.some((r) => r.method === 'PATCH')).toBe(false);
    expect(h.remoteUser('lea@example.com')?.title).toBe('Designer');
    expect(h.remoteUser('max@example.com')?.active).toBe(false);
    const remoteGroup = h.scim.groups().find((g) => g.id === remoteGroupId);
    expect(remoteGroup?.displayName).toBe('Renamed by PUT');
    expect(remoteGroup?.members?.map((m) => m.value).sort()).toEqual(
      [h.remoteUser('lea@example.com')?.id, outsider.id].sort(),
    );
  });
});
