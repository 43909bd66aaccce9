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

  it('deleting a user is a single deprovisioning and is never refused', async () => {
    const { users } = await appWithMembers(2, 'guard-single-');
    const deleted = await h.change('DELETE', `/api/users/${users[0].id}`);
    expect(deleted.settled).toEqual(
      expect.arrayContaining([expect.objectContaining({ intent: 'deprovisionUser', status: 'completed' })]),
    );
  });
});
