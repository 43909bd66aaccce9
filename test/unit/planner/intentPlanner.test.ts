import { openTestStore } from '../../support/testStore';
import type { DirectoryStore } from '../../../src/directory/store';
import { IntentPlanner } from '../../../src/directory/intentPlanner';
import { appInputSchema, type ProvisioningSwitches } from '../../../src/directory/model';
import { isGroupInAppScope, isUserInAppScope, usersInAppScope } from '../../../src/directory/scope';
import type { IntentRequest } from '../../../src/shared/intents';

/**
 * Which intents a directory change issues, decided by the planner against a real in-memory directory. Each
 * change is made the way the API makes it: a snapshot of the affected users' scopes, the change in the store,
 * then `intentsFor`. Intents read as `<intent> <user or group> → <app> (<reason>)`, named from their ids.
 */
class Directory {
  private readonly names = new Map<string, string>();
  private readonly planner: IntentPlanner;

  private constructor(readonly store: DirectoryStore) {
    this.planner = new IntentPlanner(store);
  }

  static async open(): Promise<Directory> {
    return new Directory(await openTestStore());
  }

  async app(name: string, switches: Partial<ProvisioningSwitches> = {}): Promise<string> {
    const app = await this.store.createApp(
      appInputSchema.parse({
        name,
        baseUrl: `https://${name.toLowerCase()}.example.com/scim/v2`,
        auth: { type: 'bearer', token: 'secret' },
        provisioning: switches,
      }),
    );
    return this.named(app.id, name);
  }

  async user(userName: string, options: { active?: boolean } = {}): Promise<string> {
    const user = await this.store.createUser({ userName, active: options.active ?? true });
    return this.named(user.id, userName);
  }

  async group(displayName: string, memberIds: string[] = [], assignedTo: string[] = []): Promise<string> {
    const group = await this.store.createGroup({ displayName, memberIds });
    for (const appId of assignedTo) await this.store.assignGroup(appId, group.id);
    return this.named(group.id, displayName);
  }

  // ── changes, as the API routes make them ──

  async addMember(groupId: string, userId: string): Promise<string[]> {
    const change = await this.planner.before([userId]);
    await this.store.addGroupMember(groupId, userId);
    return this.describe(await change.intentsFor({ membershipChanges: [{ groupId, joined: [userId] }] }));
  }

  async removeMember(groupId: string, userId: string): Promise<string[]> {
    const change = await this.planner.before([userId]);
    await this.store.removeGroupMember(groupId, userId);
    return this.describe(
      await change.intentsFor({
        reason: 'removed-from-group',
        membershipChanges: [{ groupId, left: [userId] }],
      }),
    );
  }

  async updateUser(userId: string, patch: { title?: string; active?: boolean }): Promise<string[]> {
    const change = await this.planner.before([userId]);
    const updated = await this.store.updateUser(userId, patch);
    if (!updated) throw new Error(`no user ${userId}`);
    return this.describe(
      await change.intentsFor({
        reason: updated.after.active ? undefined : 'user-deactivated',
        updatedUserIds: [userId],
      }),
    );
  }

  async deleteUser(userId: string): Promise<string[]> {
    const groupIds = await this.store.groupIdsOfUser(userId);
    const change = await this.planner.before([userId]);
    await this.store.deleteUser(userId);
    return this.describe(
      await change.intentsFor({
        reason: 'user-deleted',
        membershipChanges: groupIds.map((groupId) => ({ groupId, left: [userId] })),
      }),
    );
  }

  async assign(appId: string, groupId: string): Promise<string[]> {
    const change = await this.planner.before(await this.memberIds(groupId));
    await this.store.assignGroup(appId, groupId);
    return this.describe(await change.intentsFor({ assigned: [{ appId, groupId }] }));
  }

  async unassign(appId: string, groupId: string): Promise<string[]> {
    const change = await this.planner.before(await this.memberIds(groupId));
    await this.store.unassignGroup(appId, groupId);
    return this.describe(
      await change.intentsFor({ reason: 'group-unassigned', unassigned: [{ appId, groupId }] }),
    );
  }

  async renameGroup(groupId: string, displayName: string): Promise<string[]> {
    const change = await this.planner.before(await this.memberIds(groupId));
    await this.store.updateGroup(groupId, { displayName });
    this.names.set(groupId, displayName);
    return this.describe(
      await change.intentsFor({ reason: 'removed-from-group', renamedGroupIds: [groupId] }),
    );
  }

  async deleteGroup(groupId: string): Promise<string[]> {
    const appIds = await this.store.appIdsAssignedGroup(groupId);
    const change = await this.planner.before(await this.memberIds(groupId));
    await this.store.deleteGroup(groupId);
    return this.describe(
      await change.intentsFor({
        reason: 'group-deleted',
        unassigned: appIds.map((appId) => ({ appId, groupId })),
      }),
    );
  }

  async afterRoleChange(affected: { roleIds?: string[]; allUsers?: boolean }, appId?: string) {
    return this.describe(await this.planner.afterRoleChange(affected, { appId, what: 'role changed' }));
  }

  describe(requests: IntentRequest[]): string[] {
    return requests.map(({ intent, input }) => {
      const subject = 'userId' in input ? input.userId : 'groupId' in input ? input.groupId : undefined;
      const reason = 'reason' in input && input.reason ? ` (${input.reason})` : '';
      return [intent, subject && this.nameOf(subject), '→', `${this.nameOf(input.appId)}${reason}`]
        .filter(Boolean)
        .join(' ');
    });
  }

  private nameOf(id: string): string {
    return this.names.get(id) ?? `<unknown id ${id}>`;
  }

  private named(id: string, name: string): string {
    this.names.set(id, name);
    return id;
  }

  private async memberIds(groupId: string): Promise<string[]> {
    return (await this.store.getGroup(groupId))?.memberIds ?? [];
  }
}

let directory: Directory;
beforeEach(async () => {
  directory = await Directory.open();
});
afterEach(() => directory.store.close());

/** Acme with Eng assigned, Bob a member of Eng. */
async function acmeWithBobInEng(switches: Partial<ProvisioningSwitches> = {}) {
  const acme = await directory.app('Acme', switches);
  const bob = await directory.user('bob');
  const eng = await directory.group('Eng', [bob], [acme]);
  return { acme, bob, eng };
}

describe('a user joins or leaves a group', () => {
  test('given Eng assigned to Acme, when Alice joins Eng, then she is provisioned to Acme (and joins Eng there herself)', async () => {
    const { eng } = await acmeWithBobInEng();
    const alice = await directory.user('alice');

    expect(await directory.addMember(eng, alice)).toEqual(['provisionUser alice → Acme']);
  });

  test('given Alice in Ops, both assigned to Acme, when she joins Eng too, then only Eng’s members are synced', async () => {
    const { acme, eng } = await acmeWithBobInEng();
    const alice = await directory.user('alice');
    await directory.group('Ops', [alice], [acme]);

    expect(await directory.addMember(eng, alice)).toEqual(['syncGroupMembership Eng → Acme']);
  });

  test('given Bob in Eng and Ops, both assigned to Acme, when he leaves Eng, then he stays provisioned: only Eng’s members are synced', async () => {
    const { acme, bob, eng } = await acmeWithBobInEng();
    await directory.group('Ops', [bob], [acme]);

    expect(await directory.removeMember(eng, bob)).toEqual(['syncGroupMembership Eng → Acme']);
  });

  test('given Bob’s only assigned group is Eng, when he leaves it, then he is deprovisioned from Acme and Eng synced', async () => {
    const { bob, eng } = await acmeWithBobInEng();

    expect(await directory.removeMember(eng, bob)).toEqual([
      'deprovisionUser bob → Acme (removed-from-group)',
      'syncGroupMembership Eng → Acme',
    ]);
  });

  test('given Ops assigned to no app, when Bob joins it, then nothing is issued', async () => {
    const { bob } = await acmeWithBobInEng();
    const ops = await directory.group('Ops');

    expect(await directory.addMember(ops, bob)).toEqual([]);
  });

  test('given Eng assigned to Acme and Ops to Beta, when Alice joins Ops, then only Beta is touched', async () => {
    await acmeWithBobInEng();
    const beta = await directory.app('Beta');
    const ops = await directory.group('Ops', [], [beta]);
    const alice = await directory.user('alice');

    expect(await directory.addMember(ops, alice)).toEqual(['provisionUser alice → Beta']);
  });

  test('given Acme receives roles, when Bob (staying in scope) joins another group, then he is updated in Acme: his roles may differ', async () => {
    const { bob } = await acmeWithBobInEng({ roles: true });
    const admins = await directory.group('Admins');

    expect(await directory.addMember(admins, bob)).toEqual(['updateUser bob → Acme']);
  });
});

describe('a user changes', () => {
  test('given Bob provisioned to Acme, when his title changes, then he is updated in Acme', async () => {
    const { bob } = await acmeWithBobInEng();

    expect(await directory.updateUser(bob, { title: 'Engineer' })).toEqual(['updateUser bob → Acme']);
  });

  test('given a user in no assigned group (as every new user is), when she changes, then nothing is issued', async () => {
    await acmeWithBobInEng();
    const carol = await directory.user('carol');

    expect(await directory.updateUser(carol, { title: 'Designer' })).toEqual([]);
  });

  test('given Bob in Eng, when he is deactivated, then he is deprovisioned from Acme, not updated', async () => {
    const { bob } = await acmeWithBobInEng();

    expect(await directory.updateUser(bob, { active: false })).toEqual([
      'deprovisionUser bob → Acme (user-deactivated)',
    ]);
  });

  test('given Bob deactivated, when he is activated again, then he is provisioned to Acme again', async () => {
    const { bob } = await acmeWithBobInEng();
    await directory.store.updateUser(bob, { active: false });

    expect(await directory.updateUser(bob, { active: true })).toEqual(['provisionUser bob → Acme']);
  });

  test('given an inactive user, when she joins Eng, then she is not provisioned (only Eng’s members synced)', async () => {
    const { eng } = await acmeWithBobInEng();
    const dora = await directory.user('dora', { active: false });

    expect(await directory.addMember(eng, dora)).toEqual(['syncGroupMembership Eng → Acme']);
  });

  test('given Bob in Eng, when he is deleted, then he is deprovisioned from Acme and Eng’s members synced', async () => {
    const { bob } = await acmeWithBobInEng();

    expect(await directory.deleteUser(bob)).toEqual([
      'deprovisionUser bob → Acme (user-deleted)',
      'syncGroupMembership Eng → Acme',
    ]);
  });
});

describe('a group is assigned, renamed, unassigned or deleted', () => {
  test('given Acme, when Eng (Alice, Bob) is assigned, then Eng is created there with its members, not each member on its own', async () => {
    const acme = await directory.app('Acme');
    const alice = await directory.user('alice');
    const bob = await directory.user('bob');
    const eng = await directory.group('Eng', [alice, bob]);

    expect(await directory.assign(acme, eng)).toEqual(['createGroup Eng → Acme']);
  });

  test('given Acme has createGroups off, when Eng is assigned, then its members are provisioned one by one', async () => {
    const acme = await directory.app('Acme', { createGroups: false });
    const alice = await directory.user('alice');
    const eng = await directory.group('Eng', [alice]);

    expect(await directory.assign(acme, eng)).toEqual(['provisionUser alice → Acme']);
  });

  test('given Eng renamed, then the new name is written to every app it is assigned to', async () => {
    const { eng } = await acmeWithBobInEng();
    const beta = await directory.app('Beta');
    await directory.store.assignGroup(beta, eng);

    expect(await directory.renameGroup(eng, 'Engineering')).toEqual([
      'updateGroup Engineering → Acme',
      'updateGroup Engineering → Beta',
    ]);
  });

  test('given Eng (Bob) assigned to Acme, when it is unassigned, then Eng is deleted there and Bob deprovisioned', async () => {
    const { acme, eng } = await acmeWithBobInEng();

    expect(await directory.unassign(acme, eng)).toEqual([
      'deprovisionUser bob → Acme (group-unassigned)',
      'deleteGroup Eng → Acme',
    ]);
  });

  test('given Bob also in Ops (assigned to Acme), when Eng is unassigned, then only Eng is deleted there', async () => {
    const { acme, bob, eng } = await acmeWithBobInEng();
    await directory.group('Ops', [bob], [acme]);

    expect(await directory.unassign(acme, eng)).toEqual(['deleteGroup Eng → Acme']);
  });

  test('given Eng (Bob) assigned to Acme, when Eng is deleted, then it is deleted in Acme and Bob deprovisioned', async () => {
    const { eng } = await acmeWithBobInEng();

    expect(await directory.deleteGroup(eng)).toEqual([
      'deprovisionUser bob → Acme (group-deleted)',
      'deleteGroup Eng → Acme',
    ]);
  });
});

describe('an app’s switches: a kind of call that is off issues no intent', () => {
  test.each<
    [
      string,
      Partial<ProvisioningSwitches>,
      (ids: { acme: string; bob: string; eng: string }) => Promise<string[]>,
      string[],
    ]
  >([
    [
      'createUsers and updateUsers off: Alice joining Eng is not provisioned',
      { createUsers: false, updateUsers: false },
      async ({ eng }) => directory.addMember(eng, await directory.user('alice')),
      ['syncGroupMembership Eng → Acme'],
    ],
    [
      'updateUsers off: Bob’s new title is not written',
      { updateUsers: false },
      ({ bob }) => directory.updateUser(bob, { title: 'Engineer' }),
      [],
    ],
    [
      'deleteUsers off: Bob leaving Eng is not deprovisioned',
      { deleteUsers: false },
      ({ bob, eng }) => directory.removeMember(eng, bob),
      ['syncGroupMembership Eng → Acme'],
    ],
    [
      'groupMembership off: Bob leaving Eng does not sync Eng’s members',
      { groupMembership: false },
      ({ bob, eng }) => directory.removeMember(eng, bob),
      ['deprovisionUser bob → Acme (removed-from-group)'],
    ],
    [
      'updateGroups off: renaming Eng is not written',
      { updateGroups: false },
      ({ eng }) => directory.renameGroup(eng, 'Engineering'),
      [],
    ],
    [
      'deleteGroups off: unassigning Eng deprovisions Bob but keeps the group',
      { deleteGroups: false },
      ({ acme, eng }) => directory.unassign(acme, eng),
      ['deprovisionUser bob → Acme (group-unassigned)'],
    ],
  ])('%s', async (_story, switches, change, expected) => {
    const ids = await acmeWithBobInEng(switches);

    expect(await change(ids)).toEqual(expected);
  });

  test('given Acme has createGroups off, when Eng is assigned, then no createGroup is issued', async () => {
    const acme = await directory.app('Acme', { createGroups: false });
    const eng = await directory.group('Eng');

    expect(await directory.assign(acme, eng)).toEqual([]);
  });
});

describe('a role changes', () => {
  test('given Acme receives roles and Beta does not, then only Acme syncs its users’ entitlements', async () => {
    const acme = await directory.app('Acme', { roles: true });
    await directory.app('Beta');
    const intents = await new IntentPlanner(directory.store).afterRoleChange(
      { roleIds: ['role-1'] },
      { what: 'role admin changed' },
    );

    expect(intents).toEqual([
      {
        intent: 'syncRoleEntitlements',
        input: { appId: acme, roleIds: ['role-1'] },
        summary: 'syncRoleEntitlements → Acme: role admin changed',
      },
    ]);
  });

  test('given two apps receiving permissions, when one app’s assigned permissions change, then only that app syncs', async () => {
    await directory.app('Acme', { permissions: true });
    const beta = await directory.app('Beta', { permissions: true });

    expect(await directory.afterRoleChange({ allUsers: true }, beta)).toEqual([
      'syncRoleEntitlements → Beta',
    ]);
  });
});

describe('scope: an app’s users are the active members of its assigned groups', () => {
  test('given Eng assigned to Acme and Ops to none, then members of Eng are in scope, of Ops only not, inactive never', async () => {
    const { acme, bob, eng } = await acmeWithBobInEng();
    const dora = await directory.user('dora', { active: false });
    const olga = await directory.user('olga');
    await directory.store.addGroupMember(eng, dora);
    const ops = await directory.group('Ops', [olga]);
    const user = (id: string) => directory.store.getUser(id);

    expect(await isUserInAppScope(directory.store, acme, await user(bob))).toBe(true);
    expect(await isUserInAppScope(directory.store, acme, await user(dora))).toBe(false);
    expect(await isUserInAppScope(directory.store, acme, await user(olga))).toBe(false);
    expect(await isUserInAppScope(directory.store, acme, null)).toBe(false);
    expect(await isGroupInAppScope(directory.store, acme, eng)).toBe(true);
    expect(await isGroupInAppScope(directory.store, acme, ops)).toBe(false);
  });

  test('given Bob in two assigned groups and an inactive member, then the app’s users list Bob once and not the inactive one', async () => {
    const { acme, bob, eng } = await acmeWithBobInEng();
    const alice = await directory.user('alice');
    const dora = await directory.user('dora', { active: false });
    await directory.group('Ops', [bob, alice], [acme]);
    await directory.store.addGroupMember(eng, dora);

    const users = await usersInAppScope(directory.store, acme);

    expect(users.map((user) => user.userName).sort()).toEqual(['alice', 'bob']);
  });
});

describe('what a change takes away (the mass-deletion guard counts it)', () => {
  const tallyOf = async (
    change: (planner: IntentPlanner) => Promise<Awaited<ReturnType<IntentPlanner['before']>>>,
    then: Parameters<Awaited<ReturnType<IntentPlanner['before']>>['planFor']>[0],
  ) => {
    const pending = await change(new IntentPlanner(directory.store));
    return Object.fromEntries((await pending.planFor(then)).deletions);
  };

  test('given Eng (Alice, Bob) assigned to Acme, when Eng is unassigned, then 2 users and 1 group are taken away', async () => {
    const acme = await directory.app('Acme', { deleteUsers: true, deleteGroups: true });
    const alice = await directory.user('alice');
    const bob = await directory.user('bob');
    const eng = await directory.group('Eng', [alice, bob], [acme]);
    const tally = await tallyOf(
      async (planner) => {
        const pending = await planner.before([alice, bob]);
        await directory.store.unassignGroup(acme, eng);
        return pending;
      },
      { reason: 'group-unassigned', unassigned: [{ appId: acme, groupId: eng }] },
    );
    expect(tally).toEqual({ [acme]: { users: 2, groups: 1, memberships: 0 } });
  });

  test('given Bob in Eng and Ops, both assigned to Acme, when Bob leaves Eng, then one membership is taken away, no user', async () => {
    const acme = await directory.app('Acme', { deleteUsers: true });
    const bob = await directory.user('bob');
    const eng = await directory.group('Eng', [bob], [acme]);
    await directory.group('Ops', [bob], [acme]);
    const tally = await tallyOf(
      async (planner) => {
        const pending = await planner.before([bob]);
        await directory.store.removeGroupMember(eng, bob);
        return pending;
      },
      { reason: 'removed-from-group', membershipChanges: [{ groupId: eng, left: [bob] }] },
    );
    expect(tally).toEqual({ [acme]: { users: 0, groups: 0, memberships: 1 } });
  });

  test('given Bob only in Eng, when he leaves it, then he counts once, as a user, not again as a membership', async () => {
    const acme = await directory.app('Acme', { deleteUsers: true });
    const bob = await directory.user('bob');
    const eng = await directory.group('Eng', [bob], [acme]);
    const tally = await tallyOf(
      async (planner) => {
        const pending = await planner.before([bob]);
        await directory.store.removeGroupMember(eng, bob);
        return pending;
      },
      { reason: 'removed-from-group', membershipChanges: [{ groupId: eng, left: [bob] }] },
    );
    expect(tally).toEqual({ [acme]: { users: 1, groups: 0, memberships: 0 } });
  });
});
