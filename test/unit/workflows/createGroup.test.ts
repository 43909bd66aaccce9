import { createGroup } from '../../../src/workflows/createGroup';
import { groupPlan } from '../support/plans';
import { failureTypeOf, scimFailure, workflowTestEnvironment } from '../support/testEnvironment';

const workflows = workflowTestEnvironment();
const engineering = { appId: 'acme', groupId: 'eng' };
const names = (calls: { name: string }[]) => calls.map((call) => call.name);

const notLinked = (memberCount = 3) => groupPlan({ remoteId: null, memberCount });
const threeMembersProvisioned = async () => ({ linked: 3, created: 1, adopted: 2, skipped: 0 });
const threeMembersAdded = async () => ({ added: 3, removed: 0, requests: 1 });

describe('createGroup', () => {
  test('given Acme has no group named Engineering, then it is POSTed empty, its members get remote ids, and only then are they added', async () => {
    const { result, calls } = await workflows.execute(createGroup, [engineering], {
      loadGroupPlan: async () => notLinked(),
      findAndLinkRemoteGroup: async () => null,
      createAndLinkRemoteGroup: async () => ({ remoteId: 'remote-eng' }),
      provisionGroupMembers: threeMembersProvisioned,
      syncGroupMembers: threeMembersAdded,
    });

    expect(result).toEqual({
      outcome: 'written',
      detail: 'Engineering created; members: 1 created, 2 adopted, 3 added to the group in 1 PATCH(es)',
    });
    expect(names(calls)).toEqual([
      'loadGroupPlan',
      'findAndLinkRemoteGroup',
      'createAndLinkRemoteGroup',
      'provisionGroupMembers',
      'syncGroupMembers',
    ]);
  });

  test('given Acme has a group named Engineering already, then it is adopted: no POST', async () => {
    const { result, calls } = await workflows.execute(createGroup, [engineering], {
      loadGroupPlan: async () => notLinked(),
      findAndLinkRemoteGroup: async () => ({ remoteId: 'remote-eng' }),
      provisionGroupMembers: threeMembersProvisioned,
      syncGroupMembers: threeMembersAdded,
    });

    expect(result.detail).toMatch(/^Engineering adopted;/);
    expect(names(calls)).not.toContain('createAndLinkRemoteGroup');
  });

  test('given the POST answers 409, then the group is looked up again and adopted', async () => {
    let lookUps = 0;
    const { result, calls } = await workflows.execute(createGroup, [engineering], {
      loadGroupPlan: async () => notLinked(0),
      findAndLinkRemoteGroup: async () => (++lookUps === 1 ? null : { remoteId: 'remote-eng' }),
      createAndLinkRemoteGroup: async () => {
        throw scimFailure('conflict', 'displayName is not unique');
      },
      syncGroupMembers: async () => ({ added: 0, removed: 0, requests: 0 }),
    });

    expect(result).toEqual({
      outcome: 'written',
      detail: 'Engineering adopted; members: 0 created, 0 adopted, 0 added to the group in 0 PATCH(es)',
    });
    expect(names(calls)).toEqual([
      'loadGroupPlan',
      'findAndLinkRemoteGroup',
      'createAndLinkRemoteGroup',
      'findAndLinkRemoteGroup',
      'syncGroupMembers',
    ]);
  });

  test('given the POST answers 409 and no group can be found to adopt, then the conflict is recorded and the workflow fails', async () => {
    const { error, calls } = await workflows.executeFailing(createGroup, [engineering], {
      loadGroupPlan: async () => notLinked(),
      findAndLinkRemoteGroup: async () => null,
      createAndLinkRemoteGroup: async () => {
        throw scimFailure('conflict', 'displayName is not unique');
      },
      recordGroupFailure: async () => undefined,
    });

    expect(failureTypeOf(error)).toBe('ScimConflict');
    expect(names(calls)).not.toContain('provisionGroupMembers');
    expect(calls.at(-1)).toMatchObject({
      name: 'recordGroupFailure',
      args: ['acme', 'eng', 'displayName is not unique'],
    });
  });

  test('given Engineering is linked already and its members are in place, then it reports unchanged', async () => {
    const { result, calls } = await workflows.execute(createGroup, [engineering], {
      loadGroupPlan: async () => groupPlan({ memberCount: 2 }),
      provisionGroupMembers: async () => ({ linked: 2, created: 0, adopted: 0, skipped: 0 }),
      syncGroupMembers: async () => ({ added: 0, removed: 0, requests: 0 }),
    });

    expect(result.outcome).toBe('unchanged');
    expect(names(calls)).toEqual(['loadGroupPlan', 'provisionGroupMembers', 'syncGroupMembers']);
  });

  test('given Acme has groupMembership off, then the group is created and its members provisioned, but none added', async () => {
    const { calls } = await workflows.execute(createGroup, [engineering], {
      loadGroupPlan: async () =>
        groupPlan({ remoteId: null, memberCount: 3, switches: { groupMembership: false } }),
      findAndLinkRemoteGroup: async () => null,
      createAndLinkRemoteGroup: async () => ({ remoteId: 'remote-eng' }),
      provisionGroupMembers: threeMembersProvisioned,
    });

    expect(names(calls)).not.toContain('syncGroupMembers');
  });

  test.each([
    [
      'Acme has createGroups off',
      { remoteId: null, switches: { createGroups: false } },
      'createGroups is off for this app',
    ],
    ['Engineering is no longer assigned to Acme', { inScope: false }, 'the group is not assigned to Acme'],
  ])('given %s, then nothing is written', async (_given, plan, detail) => {
    const { result, calls } = await workflows.execute(createGroup, [engineering], {
      loadGroupPlan: async () => groupPlan(plan),
    });

    expect(result).toEqual({ outcome: 'skipped', detail });
    expect(names(calls)).toEqual(['loadGroupPlan']);
  });
});
