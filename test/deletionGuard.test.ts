import { Harness } from './support/harness';

interface Refusal {
  error: string;
  message: string;
  apps: { appId: string; users: number; groups: number; memberships: number; total: number; limit: number }[];
}

describe('the mass-deletion guard on the API path', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** An app (deactivate on deprovisioning, groups deleted with their assignment) holding a group of `size`. */
  async function appWithMembers(size: number, prefix: string) {
    const app = await h.createApp({
      provisioning: { deleteUsers: true, deleteGroups: true },
      deprovisionMode: 'deactivate',
    });
    const users = [];
    for (let i = 0; i < size; i++) users.push(await h.createUser(`${prefix}${i}@example.com`));
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `Guarded ${prefix}`,
      memberIds: users.map((user) => user.id),
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    expect(h.scim.users().filter((u) => u.userName.startsWith(prefix) && u.active)).toHaveLength(size);
    return { app, group, users };
  }

  it('unassigning a group of 12 is refused with 409 and the counts, changes nothing, and goes ahead when confirmed', async () => {
    const { app, group } = await appWithMembers(12, 'guard-unassign-');
    const writes = h.scim.requests.length;

    const refused = await h.call<Refusal>('DELETE', `/api/apps/${app.id}/groups/${group.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      error: 'deletions-need-confirmation',
      apps: [{ appId: app.id, users: 12, groups: 1, memberships: 0, total: 13, limit: 5 }],
    });
    expect(refused.body.message).toContain('confirmDeletions=true');
    // Nothing committed: still assigned, no intent issued, nothing written to the app.
    const view = await h.ok<{ assignedGroupIds: string[] }>('GET', `/api/apps/${app.id}`);
    expect(view.assignedGroupIds).toEqual([group.id]);
    const operations = await h.ok<{ items: { intent: string }[] }>('GET', `/api/operations?appId=${app.id}`);
    expect(operations.items.filter((op) => op.intent === 'deprovisionUser')).toEqual([]);
    expect(h.writesSince(writes)).toEqual([]);

    const confirmed = await h.change(
      'DELETE',
      `/api/apps/${app.id}/groups/${group.id}?confirmDeletions=true`,
    );
    expect(confirmed.settled.filter((s) => s.intent === 'deprovisionUser')).toHaveLength(12);
    expect(confirmed.settled.every((s) => s.status === 'completed')).toBe(true);
    expect(h.scim.users().filter((u) => u.userName.startsWith('guard-unassign-') && u.active)).toEqual([]);
  });

  it('emptying a group through PATCH counts its members; removing a few at a time needs no confirmation', async () => {
    const { group, users } = await appWithMembers(8, 'guard-empty-');

    const refused = await h.call<Refusal>('PATCH', `/api/groups/${group.id}`, { memberIds: [] });
    expect(refused.status).toBe(409);
    expect(refused.body.apps[0]).toMatchObject({ users: 8, total: 8, limit: 5 });
    const unchanged = await h.ok<{ memberIds: string[] }>('GET', `/api/groups/${group.id}`);
    expect(unchanged.memberIds).toHaveLength(8);

    // Two leavers are not a mass deletion.
    const few = await h.change('PATCH', `/api/groups/${group.id}`, {
      memberIds: users.slice(2).map((user) => user.id),
    });
    expect(few.settled.filter((s) => s.intent === 'deprovisionUser')).toHaveLength(2);
    expect(h.remoteUser('guard-empty-0@example.com')?.active).toBe(false);
    expect(h.remoteUser('guard-empty-2@example.com')?.active).toBe(true);
  });

  it('given an assigned group of five, when the group is deleted, then the group counts too: refused with 409 and nothing changed; confirmed, the group and its members leave the app', async () => {
    // Five members alone are within the limit of 5: only the remote group's deletion makes the sixth.
    const { app, group, users } = await appWithMembers(5, 'guard-delete-');
    const remoteGroup = h.remoteGroup('Guarded guard-delete-');
    const remoteMembers = (remoteGroup?.members ?? []).map((member) => member.value).sort();
    expect(remoteMembers).toHaveLength(5);
    const writes = h.scim.requests.length;

    const refused = await h.call<Refusal>('DELETE', `/api/groups/${group.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      error: 'deletions-need-confirmation',
      apps: [{ appId: app.id, users: 5, groups: 1, memberships: 0, total: 6, limit: 5 }],
    });
    // Nothing committed: the group is still in the directory and assigned; the target received no write.
    const kept = await h.ok<{ memberIds: string[]; appIds: string[] }>('GET', `/api/groups/${group.id}`);
    expect(kept.appIds).toEqual([app.id]);
    expect([...kept.memberIds].sort()).toEqual(users.map((user) => user.id).sort());
    expect(h.writesSince(writes)).toEqual([]);
    expect(h.remoteGroup('Guarded guard-delete-')?.id).toBe(remoteGroup?.id);
    expect((h.remoteGroup('Guarded guard-delete-')?.members ?? []).map((m) => m.value).sort()).toEqual(
      remoteMembers,
    );
    expect(h.scim.users().filter((u) => u.userName.startsWith('guard-delete-') && u.active)).toHaveLength(5);

    const confirmed = await h.change('DELETE', `/api/groups/${group.id}?confirmDeletions=true`);
    expect(confirmed.settled.map((s) => [s.intent, s.status]).sort()).toEqual([
      ['deleteGroup', 'completed'],
      ...Array.from({ length: 5 }, () => ['deprovisionUser', 'completed']),
    ]);
    expect((await h.call('GET', `/api/groups/${group.id}`)).status).toBe(404);
    expect(h.remoteGroup('Guarded guard-delete-')).toBeUndefined();
    expect(h.scim.users().filter((u) => u.userName.startsWith('guard-delete-') && u.active)).toEqual([]);
  });

  it('given eight members who also hold the app through a second assigned group, when a PATCH takes six of them out of the first, then six membership removals are refused with 409 and nothing changed; confirmed, the remote group loses exactly those six and no one is deprovisioned', async () => {
    const { app, group, users } = await appWithMembers(8, 'guard-moved-');
    const other = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Also guard-moved-',
      memberIds: users.map((user) => user.id),
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${other.id}`);
    const remoteIdOf = (user: { userName: string }) => h.remoteUser(user.userName)?.id;
    const remoteMembersOf = (displayName: string) =>
      (h.remoteGroup(displayName)?.members ?? []).map((member) => member.value).sort();
    const everyone = users.map(remoteIdOf).sort();
    expect(remoteMembersOf('Guarded guard-moved-')).toEqual(everyone);
    expect(remoteMembersOf('Also guard-moved-')).toEqual(everyone);
    const staying = users.slice(0, 2);
    const writes = h.scim.requests.length;

    const refused = await h.call<Refusal>('PATCH', `/api/groups/${group.id}`, {
      memberIds: staying.map((user) => user.id),
    });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      error: 'deletions-need-confirmation',
      apps: [{ appId: app.id, users: 0, groups: 0, memberships: 6, total: 6, limit: 5 }],
    });
    const unchanged = await h.ok<{ memberIds: string[] }>('GET', `/api/groups/${group.id}`);
    expect([...unchanged.memberIds].sort()).toEqual(users.map((user) => user.id).sort());
    expect(h.writesSince(writes)).toEqual([]);
    expect(remoteMembersOf('Guarded guard-moved-')).toEqual(everyone);

    const confirmed = await h.change('PATCH', `/api/groups/${group.id}?confirmDeletions=true`, {
      memberIds: staying.map((user) => user.id),
    });
    expect(confirmed.settled.map((s) => [s.intent, s.status])).toEqual([
      ['syncGroupMembership', 'completed'],
    ]);
    expect(remoteMembersOf('Guarded guard-moved-')).toEqual(staying.map(remoteIdOf).sort());
    expect(remoteMembersOf('Also guard-moved-')).toEqual(everyone);
    expect(h.scim.users().filter((u) => u.userName.startsWith('guard-moved-') && u.active)).toHaveLength(8);
  });

  it('deleting a user is a single deprovisioning and is never refused', async () => {
    const { users } = await appWithMembers(2, 'guard-single-');
    const deleted = await h.change('DELETE', `/api/users/${users[0].id}`);
    expect(deleted.settled).toEqual(
      expect.arrayContaining([expect.objectContaining({ intent: 'deprovisionUser', status: 'completed' })]),
    );
  });

  it("given an app whose group holds 60 active and 40 deactivated members, when 7 active members leave, then the limit is 10 % of the app's 60 users: refused with 409 (deactivated members are not in the app)", async () => {
    const app = await h.createApp({ provisioning: { deleteUsers: true }, deprovisionMode: 'deactivate' });
    const active = [];
    for (let i = 0; i < 60; i++) active.push(await h.createUser(`guard-share-${i}@example.com`));
    const inactive = [];
    for (let i = 0; i < 40; i++)
      inactive.push(await h.createUser(`guard-share-off-${i}@example.com`, { active: false }));
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Guarded share',
      memberIds: [...active, ...inactive].map((user) => user.id),
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    expect(h.scim.users().filter((u) => u.userName.startsWith('guard-share-'))).toHaveLength(60);

    const refused = await h.call<Refusal>('PATCH', `/api/groups/${group.id}`, {
      memberIds: [...active.slice(7), ...inactive].map((user) => user.id),
    });

    expect(refused.status).toBe(409);
    expect(refused.body.apps[0]).toMatchObject({ users: 7, total: 7, limit: 6 });
    const unchanged = await h.ok<{ memberIds: string[] }>('GET', `/api/groups/${group.id}`);
    expect(unchanged.memberIds).toHaveLength(100);
  });
});
