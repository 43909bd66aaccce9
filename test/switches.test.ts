import { Harness } from './support/harness';

type Switch =
  | 'createUsers'
  | 'updateUsers'
  | 'deleteUsers'
  | 'createGroups'
  | 'updateGroups'
  | 'deleteGroups'
  | 'groupMembership';

/** Each app switch turned off means that kind of SCIM call is never made for that app. */
describe('per-app provisioning switches', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function appWithSwitchOff(off: Switch, names: string[]) {
    const app = await h.createApp({ provisioning: { [off]: false } });
    const users = await Promise.all(names.map((name) => h.createUser(`${name}-${off}@example.com`)));
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `Switch ${off}`,
      memberIds: users.map((u) => u.id),
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    return { app, users, group };
  }

  const writesTo = (since: number, method: string, pathPrefix: string) =>
    h.writesSince(since).filter((w) => w.method === method && w.path.startsWith(pathPrefix));

  it('createUsers off: no user is ever created (the group still is)', async () => {
    const start = h.scim.requests.length;
    const { group } = await appWithSwitchOff('createUsers', ['ann']);
    const late = await h.createUser('late-createUsers@example.com');
    await h.change('PUT', `/api/groups/${group.id}/members/${late.id}`);
    expect(writesTo(start, 'POST', '/Users')).toEqual([]);
    expect(h.remoteGroup('Switch createUsers')).toBeDefined();
  });

  it('createUsers off: a user deleted in the app by hand is not created again by its next update', async () => {
    const app = await h.createApp();
    const kay = await h.createUser('kay-recreate@example.com');
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Recreate',
      memberIds: [kay.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    await h.ok('PATCH', `/api/apps/${app.id}`, { provisioning: { createUsers: false } });
    h.scim.deleteUserDirectly(h.remoteUser('kay-recreate@example.com')!.id);
    const start = h.scim.requests.length;

    const { settled } = await h.change('PATCH', `/api/users/${kay.id}`, { title: 'Changed' });

    expect(settled).toEqual([
      expect.objectContaining({
        status: 'completed',
        result: expect.objectContaining({ outcome: 'skipped' }),
      }),
    ]);
    expect(writesTo(start, 'POST', '/Users')).toEqual([]);
    expect(h.remoteUser('kay-recreate@example.com')).toBeUndefined();
  });

  it('updateUsers off: attribute changes are never written', async () => {
    const { users } = await appWithSwitchOff('updateUsers', ['ben']);
    const start = h.scim.requests.length;
    const { body } = await h.change('PATCH', `/api/users/${users[0].id}`, { title: 'Changed' });
    expect(body.operations).toEqual([]);
    expect(writesTo(start, 'PATCH', '/Users')).toEqual([]);
    expect(h.remoteUser('ben-updateUsers@example.com')).toBeDefined();
    expect(h.remoteUser('ben-updateUsers@example.com')?.title).toBeUndefined();
  });

  it('deleteUsers off: a user who leaves is neither deactivated nor deleted', async () => {
    const { users, group } = await appWithSwitchOff('deleteUsers', ['cat', 'dan']);
    const start = h.scim.requests.length;
    await h.change('DELETE', `/api/groups/${group.id}/members/${users[0].id}`);
    expect(writesTo(start, 'PATCH', '/Users')).toEqual([]);
    expect(writesTo(start, 'DELETE', '/Users')).toEqual([]);
    expect(h.remoteUser('cat-deleteUsers@example.com')?.active).toBe(true);
  });

  it('createGroups off: the group is never created, its members still are', async () => {
    const start = h.scim.requests.length;
    await appWithSwitchOff('createGroups', ['eve', 'fay']);
    expect(writesTo(start, 'POST', '/Groups')).toEqual([]);
    expect(h.remoteUser('eve-createGroups@example.com')).toBeDefined();
    expect(h.remoteUser('fay-createGroups@example.com')).toBeDefined();
  });

  it('updateGroups off: a rename is never written', async () => {
    const { group } = await appWithSwitchOff('updateGroups', ['gus']);
    const start = h.scim.requests.length;
    await h.change('PATCH', `/api/groups/${group.id}`, { displayName: 'Renamed updateGroups' });
    expect(writesTo(start, 'PATCH', '/Groups')).toEqual([]);
    expect(h.remoteGroup('Switch updateGroups')).toBeDefined();
  });

  it('deleteGroups off: unassigning the group leaves the remote group in place', async () => {
    const { app, group } = await appWithSwitchOff('deleteGroups', ['hal']);
    const start = h.scim.requests.length;
    await h.change('DELETE', `/api/apps/${app.id}/groups/${group.id}`);
    expect(writesTo(start, 'DELETE', '/Groups')).toEqual([]);
    expect(h.remoteGroup('Switch deleteGroups')).toBeDefined();
    expect(h.remoteUser('hal-deleteGroups@example.com')?.active).toBe(false);
  });

  it('groupMembership off: members are provisioned but never added to or removed from the remote group', async () => {
    const start = h.scim.requests.length;
    const { users, group } = await appWithSwitchOff('groupMembership', ['ida', 'jon']);
    await h.change('DELETE', `/api/groups/${group.id}/members/${users[0].id}`);
    expect(writesTo(start, 'PATCH', '/Groups')).toEqual([]);
    expect(h.remoteUser('jon-groupMembership@example.com')).toBeDefined();
    expect(h.remoteGroup('Switch groupMembership')?.members ?? []).toEqual([]);
  });
});
