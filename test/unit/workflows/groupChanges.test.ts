import { deleteGroup } from '../../../src/workflows/deleteGroup';
import { syncGroupMembership } from '../../../src/workflows/syncGroupMembership';
import { updateGroup } from '../../../src/workflows/updateGroup';
import { groupPlan } from '../support/plans';
import { failureTypeOf, scimFailure, workflowTestEnvironment } from '../support/testEnvironment';

const workflows = workflowTestEnvironment();
const engineering = { appId: 'acme', groupId: 'eng' };
const names = (calls: { name: string }[]) => calls.map((call) => call.name);

/**
 * Engineering linked in Acme but deleted there: writes to it answer 404, forgetting the link makes the next plan
 * see no remote group, and Acme has no group of that name to adopt, so it is POSTed again.
 */
function deletedInAcme(plan: Parameters<typeof groupPlan>[0] = {}) {
  let remoteId: string | null = 'remote-eng';
  return {
    loadGroupPlan: async () => groupPlan({ ...plan, remoteId }),
    forgetRemoteGroup: async () => {
      remoteId = null;
    },
    findAndLinkRemoteGroup: async () => null,
    createAndLinkRemoteGroup: async () => {
      remoteId = 'remote-eng-2';
      return { remoteId };
    },
    recordGroupFailure: async () => undefined,
  };
}

/** The calls that tell the story; the failure a 404 records on the link before it is forgotten is left out. */
const story = (calls: { name: string }[]) => names(calls).filter((name) => name !== 'recordGroupFailure');

describe('updateGroup (a rename)', () => {
  test('given Engineering was renamed in the directory, then its displayName is written', async () => {
    const { result, calls } = await workflows.execute(updateGroup, [engineering], {
      loadGroupPlan: async () => groupPlan({ displayName: 'Platform' }),
      renameRemoteGroup: async () => ({ written: true }),
    });

    expect(result).toEqual({ outcome: 'written', detail: 'renamed to Platform' });
    expect(names(calls)).toEqual(['loadGroupPlan', 'renameRemoteGroup']);
  });

  test('given Acme has the name already, then it reports unchanged', async () => {
    const { result } = await workflows.execute(updateGroup, [engineering], {
      loadGroupPlan: async () => groupPlan({ displayName: 'Platform' }),
      renameRemoteGroup: async () => ({ written: false }),
    });

    expect(result).toEqual({ outcome: 'unchanged', detail: 'already named Platform' });
  });

  test('given Acme has updateGroups off, then nothing is written', async () => {
    const { result, calls } = await workflows.execute(updateGroup, [engineering], {
      loadGroupPlan: async () => groupPlan({ switches: { updateGroups: false } }),
    });

    expect(result).toEqual({ outcome: 'skipped', detail: 'updateGroups is off for this app' });
    expect(names(calls)).toEqual(['loadGroupPlan']);
  });

  test('given the group was deleted in Acme (404), then the link is forgotten and it is created again under its name', async () => {
    const { result, calls } = await workflows.execute(updateGroup, [engineering], {
      ...deletedInAcme({ displayName: 'Platform' }),
      renameRemoteGroup: async () => {
        throw scimFailure('not-found');
      },
      syncGroupMembers: async () => ({ added: 0, removed: 0, requests: 0 }),
    });

    expect(result).toEqual({
      outcome: 'written',
      detail: 'Platform created; members: 0 created, 0 adopted, 0 added to the group in 0 PATCH(es)',
    });
    expect(story(calls)).toEqual([
      'loadGroupPlan',
      'renameRemoteGroup',
      'forgetRemoteGroup',
      'loadGroupPlan',
      'findAndLinkRemoteGroup',
      'createAndLinkRemoteGroup',
      'syncGroupMembers',
    ]);
  });
});

describe('syncGroupMembership', () => {
  test('given members joined and left Engineering, then only the difference is sent', async () => {
    const { result, calls } = await workflows.execute(syncGroupMembership, [engineering], {
      loadGroupPlan: async () => groupPlan(),
      syncGroupMembers: async () => ({ added: 2, removed: 1, requests: 2 }),
    });

    expect(result).toEqual({ outcome: 'written', detail: 'Engineering: +2 −1 in 2 request(s)' });
    expect(names(calls)).toEqual(['loadGroupPlan', 'syncGroupMembers']);
  });

  test('given the remote members match already, then it reports unchanged', async () => {
    const { result } = await workflows.execute(syncGroupMembership, [engineering], {
      loadGroupPlan: async () => groupPlan(),
      syncGroupMembers: async () => ({ added: 0, removed: 0, requests: 0 }),
    });

    expect(result).toEqual({ outcome: 'unchanged', detail: 'members of Engineering already match' });
  });

  test('given Acme has groupMembership off, then nothing is written', async () => {
    const { result, calls } = await workflows.execute(syncGroupMembership, [engineering], {
      loadGroupPlan: async () => groupPlan({ switches: { groupMembership: false } }),
    });

    expect(result).toEqual({ outcome: 'skipped', detail: 'groupMembership is off for this app' });
    expect(names(calls)).toEqual(['loadGroupPlan']);
  });

  test('given Engineering is not in Acme yet, then it is created with its members', async () => {
    const { result, calls } = await workflows.execute(syncGroupMembership, [engineering], {
      loadGroupPlan: async () => groupPlan({ remoteId: null, memberCount: 2 }),
      findAndLinkRemoteGroup: async () => null,
      createAndLinkRemoteGroup: async () => ({ remoteId: 'remote-eng' }),
      provisionGroupMembers: async () => ({ linked: 2, created: 2, adopted: 0, skipped: 0 }),
      syncGroupMembers: async () => ({ added: 2, removed: 0, requests: 1 }),
    });

    expect(result).toEqual({
      outcome: 'written',
      detail: 'Engineering created; members: 2 created, 0 adopted, 2 added to the group in 1 PATCH(es)',
    });
    expect(names(calls)).toContain('createAndLinkRemoteGroup');
  });

  test('given the group was deleted in Acme (404), then the link is forgotten and it is created again with its members', async () => {
    let syncs = 0;
    const { result, calls } = await workflows.execute(syncGroupMembership, [engineering], {
      ...deletedInAcme(),
      syncGroupMembers: async () => {
        if (++syncs === 1) throw scimFailure('not-found');
        return { added: 3, removed: 0, requests: 1 };
      },
    });

    expect(result).toEqual({
      outcome: 'written',
      detail: 'Engineering created; members: 0 created, 0 adopted, 3 added to the group in 1 PATCH(es)',
    });
    expect(story(calls)).toEqual([
      'loadGroupPlan',
      'syncGroupMembers',
      'forgetRemoteGroup',
      'loadGroupPlan',
      'findAndLinkRemoteGroup',
      'createAndLinkRemoteGroup',
      'syncGroupMembers',
    ]);
  });
});

describe('deleteGroup', () => {
  test('given Engineering was deleted or unassigned, then it is DELETEd in Acme', async () => {
    const { result, calls } = await workflows.execute(deleteGroup, [engineering], {
      loadGroupPlan: async () => groupPlan({ inScope: false }),
      deleteRemoteGroup: async () => ({ written: true }),
    });

    expect(result).toEqual({ outcome: 'written', detail: 'deleted Engineering' });
    expect(names(calls)).toEqual(['loadGroupPlan', 'deleteRemoteGroup']);
  });

  test.each([
    ['Engineering is assigned to Acme again', { inScope: true }, 'the group is assigned to Acme again'],
    [
      'Engineering was never provisioned to Acme',
      { inScope: false, remoteId: null },
      'the group was never provisioned to this app',
    ],
    [
      'Acme has deleteGroups off',
      { inScope: false, switches: { deleteGroups: false } },
      'deleteGroups is off for this app',
    ],
  ])('given %s, then nothing is deleted', async (_given, plan, detail) => {
    const { result, calls } = await workflows.execute(deleteGroup, [engineering], {
      loadGroupPlan: async () => groupPlan(plan),
    });

    expect(result).toEqual({ outcome: 'skipped', detail });
    expect(names(calls)).toEqual(['loadGroupPlan']);
  });

  test('given Acme rejects the DELETE, then the link records why and the workflow fails', async () => {
    const { error, calls } = await workflows.executeFailing(deleteGroup, [engineering], {
      loadGroupPlan: async () => groupPlan({ inScope: false }),
      deleteRemoteGroup: async () => {
        throw scimFailure('rejected', 'groups cannot be deleted');
      },
      recordGroupFailure: async () => undefined,
    });

    expect(failureTypeOf(error)).toBe('ScimRejected');
    expect(calls.at(-1)).toMatchObject({
      name: 'recordGroupFailure',
      args: ['acme', 'eng', 'groups cannot be deleted'],
    });
  });
});
