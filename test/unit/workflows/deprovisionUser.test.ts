import { deprovisionUser } from '../../../src/workflows/deprovisionUser';
import { userPlan } from '../support/plans';
import { failureTypeOf, scimFailure, workflowTestEnvironment } from '../support/testEnvironment';

const workflows = workflowTestEnvironment();
const alice = { appId: 'acme', userId: 'alice' };

describe('deprovisionUser', () => {
  test('given Acme deactivates users, when Alice leaves its scope, then she is PATCHed active=false, not deleted', async () => {
    const { result, calls } = await workflows.execute(
      deprovisionUser,
      [{ ...alice, reason: 'removed-from-group' }],
      {
        loadUserPlan: async () => userPlan({ inScope: false, deprovisionMode: 'deactivate' }),
        deactivateRemoteUser: async () => ({ written: true, gone: false }),
      },
    );

    expect(result).toEqual({
      outcome: 'written',
      detail: 'deactivated alice@example.com (removed-from-group)',
    });
    expect(calls.map(({ name, args }) => ({ name, args }))).toEqual([
      { name: 'loadUserPlan', args: ['acme', 'alice'] },
      { name: 'deactivateRemoteUser', args: ['acme', 'alice'] },
    ]);
  });

  test('given Acme deletes users, when Alice is deleted in the directory, then she is DELETEd, not deactivated', async () => {
    const { result, calls } = await workflows.execute(
      deprovisionUser,
      [{ ...alice, reason: 'user-deleted' }],
      {
        loadUserPlan: async () => userPlan({ inScope: false, userName: null, deprovisionMode: 'delete' }),
        deleteRemoteUser: async () => ({ written: true }),
      },
    );

    expect(result).toEqual({ outcome: 'written', detail: 'deleted alice (user-deleted)' });
    expect(calls.map((call) => call.name)).toEqual(['loadUserPlan', 'deleteRemoteUser']);
  });

  test('given Alice is deactivated in Acme already, when she is deprovisioned again, then it reports unchanged', async () => {
    const { result } = await workflows.execute(deprovisionUser, [alice], {
      loadUserPlan: async () => userPlan({ inScope: false }),
      deactivateRemoteUser: async () => ({ written: false, gone: false }),
    });

    expect(result).toEqual({ outcome: 'unchanged', detail: 'alice@example.com was already deactivated' });
  });

  test.each([
    ['she is back in the scope of Acme', { inScope: true }, 'the user is in the scope of Acme again'],
    [
      'she was never provisioned to Acme',
      { inScope: false, remoteId: null },
      'the user was never provisioned to this app',
    ],
    [
      'Acme has deleteUsers off',
      { inScope: false, switches: { deleteUsers: false } },
      'deleteUsers is off for this app',
    ],
  ])('given %s, when the deprovision runs, then nothing is written to Acme', async (_given, plan, detail) => {
    const { result, calls } = await workflows.execute(deprovisionUser, [alice], {
      loadUserPlan: async () => userPlan(plan),
    });

    expect(result).toEqual({ outcome: 'skipped', detail });
    expect(calls.map((call) => call.name)).toEqual(['loadUserPlan']);
  });

  test('given Acme rejects the deactivation, then the link records why and the workflow fails with the rejection', async () => {
    const { error, calls } = await workflows.executeFailing(deprovisionUser, [alice], {
      loadUserPlan: async () => userPlan({ inScope: false }),
      deactivateRemoteUser: async () => {
        throw scimFailure('rejected', 'active is read-only');
      },
      recordUserFailure: async () => undefined,
    });

    expect(failureTypeOf(error)).toBe('ScimRejected');
    expect(calls.at(-1)).toMatchObject({
      name: 'recordUserFailure',
      args: ['acme', 'alice', 'active is read-only'],
    });
  });
});
