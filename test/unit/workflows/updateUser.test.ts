import { updateUser } from '../../../src/workflows/updateUser';
import { userPlan } from '../support/plans';
import { failureTypeOf, scimFailure, workflowTestEnvironment } from '../support/testEnvironment';

const workflows = workflowTestEnvironment();
const alice = { appId: 'acme', userId: 'alice' };
const names = (calls: { name: string }[]) => calls.map((call) => call.name);

describe('updateUser', () => {
  test('given Alice changed in the directory, when the update runs, then only the PATCH is sent', async () => {
    const { result, calls } = await workflows.execute(updateUser, [alice], {
      loadUserPlan: async () => userPlan(),
      pushUserChanges: async () => ({ written: true, operations: 2 }),
    });

    expect(result).toEqual({ outcome: 'written', detail: 'updated alice@example.com' });
    expect(names(calls)).toEqual(['loadUserPlan', 'pushUserChanges']);
  });

  test('given Acme already holds her state, then it reports unchanged', async () => {
    const { result } = await workflows.execute(updateUser, [alice], {
      loadUserPlan: async () => userPlan(),
      pushUserChanges: async () => ({ written: false, operations: 0 }),
    });

    expect(result).toEqual({ outcome: 'unchanged', detail: 'alice@example.com already matches' });
  });

  test('given Acme has updateUsers off but receives roles, then her roles are still written', async () => {
    const { result } = await workflows.execute(updateUser, [alice], {
      loadUserPlan: async () => userPlan({ switches: { updateUsers: false, roles: true } }),
      pushUserChanges: async () => ({ written: true, operations: 1 }),
    });

    expect(result.outcome).toBe('written');
  });

  test('given Acme has updateUsers, roles and permissions off, then nothing is written', async () => {
    const { result, calls } = await workflows.execute(updateUser, [alice], {
      loadUserPlan: async () =>
        userPlan({ switches: { updateUsers: false, roles: false, permissions: false } }),
    });

    expect(result).toEqual({
      outcome: 'skipped',
      detail: 'updateUsers, roles and permissions are off for this app',
    });
    expect(names(calls)).toEqual(['loadUserPlan']);
  });

  test('given Acme does not have Alice yet, then she is provisioned instead: looked up, created, joined', async () => {
    const { result, calls } = await workflows.execute(updateUser, [alice], {
      loadUserPlan: async () => userPlan({ remoteId: null }),
      // provisionUser's plan looks her up in Acme: not there.
      planUserProvisioning: async () => userPlan({ remoteId: null }),
      createAndLinkRemoteUser: async () => ({ remoteId: 'remote-alice', adopted: false }),
      joinRemoteGroups: async () => ({ joined: 0 }),
    });

    expect(result).toEqual({ outcome: 'written', detail: 'created alice@example.com' });
    expect(names(calls)).toEqual([
      'loadUserPlan',
      'planUserProvisioning',
      'createAndLinkRemoteUser',
      'joinRemoteGroups',
    ]);
  });

  test('given she was deleted in Acme (PATCH answers 404), then the link is forgotten and she is created again', async () => {
    const { result, calls } = await workflows.execute(updateUser, [alice], {
      loadUserPlan: async () => userPlan(),
      pushUserChanges: async () => {
        throw scimFailure('not-found');
      },
      forgetRemoteUser: async () => undefined,
      createAndLinkRemoteUser: async () => ({ remoteId: 'remote-alice-2', adopted: false }),
    });

    expect(result).toEqual({ outcome: 'written', detail: 'updated alice@example.com' });
    expect(names(calls)).toEqual([
      'loadUserPlan',
      'pushUserChanges',
      'forgetRemoteUser',
      'createAndLinkRemoteUser',
    ]);
  });

  test('given Acme rejects the PATCH for good, then the link records why and the workflow fails', async () => {
    const { error, calls } = await workflows.executeFailing(updateUser, [alice], {
      loadUserPlan: async () => userPlan(),
      pushUserChanges: async () => {
        throw scimFailure('rejected', 'emails[0].value is invalid');
      },
      recordUserFailure: async () => undefined,
    });

    expect(failureTypeOf(error)).toBe('ScimRejected');
    expect(calls.at(-1)).toMatchObject({
      name: 'recordUserFailure',
      args: ['acme', 'alice', 'emails[0].value is invalid'],
    });
  });

  test('given Alice left the scope of Acme meanwhile, then nothing is written', async () => {
    const { result, calls } = await workflows.execute(updateUser, [alice], {
      loadUserPlan: async () => userPlan({ inScope: false }),
    });

    expect(result).toEqual({ outcome: 'skipped', detail: 'the user is not in the scope of Acme' });
    expect(names(calls)).toEqual(['loadUserPlan']);
  });
});
