import { provisionUser } from '../../../src/workflows/provisionUser';
import { userPlan } from '../support/plans';
import { failureTypeOf, scimFailure, workflowTestEnvironment } from '../support/testEnvironment';

const workflows = workflowTestEnvironment();
const alice = { appId: 'acme', userId: 'alice' };
const names = (calls: { name: string }[]) => calls.map((call) => call.name);

const linked = { remoteId: 'remote-alice', adopted: false };
const adopted = { remoteId: 'remote-alice', adopted: true };

describe('provisionUser', () => {
  describe('a user Acme does not have yet', () => {
    const notLinked = () => userPlan({ remoteId: null, linkStatus: null });

    test('given Acme has no user matching Alice, then she is POSTed, linked and added to her remote groups', async () => {
      const { result, calls } = await workflows.execute(provisionUser, [alice], {
        // The plan looked Alice up in Acme and found nothing.
        planUserProvisioning: async () => notLinked(),
        createAndLinkRemoteUser: async () => linked,
        joinRemoteGroups: async () => ({ joined: 2 }),
      });

      expect(result).toEqual({
        outcome: 'written',
        detail: 'created alice@example.com and added it to 2 group(s)',
      });
      // Just created from the directory's state: nothing left to PATCH.
      expect(names(calls)).toEqual(['planUserProvisioning', 'createAndLinkRemoteUser', 'joinRemoteGroups']);
    });

    test('given Acme already has a user matching Alice, then she is adopted and only what differs is written: no POST', async () => {
      const { result, calls } = await workflows.execute(provisionUser, [alice], {
        // The plan found her in Acme and adopted her.
        planUserProvisioning: async () => userPlan({ remoteId: adopted.remoteId }),
        pushUserChanges: async () => ({ written: true, operations: 1 }),
        joinRemoteGroups: async () => ({ joined: 0 }),
      });

      expect(result).toEqual({ outcome: 'written', detail: 'updated alice@example.com' });
      expect(names(calls)).toEqual(['planUserProvisioning', 'pushUserChanges', 'joinRemoteGroups']);
    });

    test('given the POST answers 409 (Alice exists after all), then she is looked up again and adopted', async () => {
      const { result, calls } = await workflows.execute(provisionUser, [alice], {
        planUserProvisioning: async () => notLinked(),
        // Not there when the plan looked; there once the POST said it exists.
        findAndLinkRemoteUser: async () => adopted,
        createAndLinkRemoteUser: async () => {
          throw scimFailure('conflict', 'userName is not unique');
        },
        joinRemoteGroups: async () => ({ joined: 1 }),
      });

      expect(result).toEqual({
        outcome: 'written',
        detail: 'created alice@example.com and added it to 1 group(s)',
      });
      expect(names(calls)).toEqual([
        'planUserProvisioning',
        'createAndLinkRemoteUser',
        'findAndLinkRemoteUser',
        'joinRemoteGroups',
      ]);
    });

    test('given the POST answers 409 but no user can be found to adopt, then the conflict is recorded and the workflow fails', async () => {
      const { error, calls } = await workflows.executeFailing(provisionUser, [alice], {
        planUserProvisioning: async () => notLinked(),
        findAndLinkRemoteUser: async () => null,
        createAndLinkRemoteUser: async () => {
          throw scimFailure('conflict', 'userName is not unique');
        },
        recordUserFailure: async () => undefined,
      });

      expect(failureTypeOf(error)).toBe('ScimConflict');
      expect(calls.at(-1)).toMatchObject({
        name: 'recordUserFailure',
        args: ['acme', 'alice', 'userName is not unique'],
      });
    });

    test('given Acme has createUsers off, then nothing is looked up nor written', async () => {
      const { result, calls } = await workflows.execute(provisionUser, [alice], {
        planUserProvisioning: async () => userPlan({ remoteId: null, switches: { createUsers: false } }),
      });

      expect(result).toEqual({ outcome: 'skipped', detail: 'createUsers is off for this app' });
      expect(names(calls)).toEqual(['planUserProvisioning']);
    });
  });

  describe('a user Acme has already', () => {
    test('given nothing differs and she is in her remote groups, then it reports unchanged', async () => {
      const { result } = await workflows.execute(provisionUser, [alice], {
        planUserProvisioning: async () => userPlan(),
        pushUserChanges: async () => ({ written: false, operations: 0 }),
        joinRemoteGroups: async () => ({ joined: 0 }),
      });

      expect(result).toEqual({ outcome: 'unchanged', detail: 'alice@example.com already matches' });
    });

    test('given she was deleted in Acme (PATCH answers 404), then the link is forgotten and she is created again', async () => {
      const { result, calls } = await workflows.execute(provisionUser, [alice], {
        planUserProvisioning: async () => userPlan(),
        pushUserChanges: async () => {
          throw scimFailure('not-found');
        },
        forgetRemoteUser: async () => undefined,
        createAndLinkRemoteUser: async () => linked,
        joinRemoteGroups: async () => ({ joined: 0 }),
      });

      expect(result).toEqual({ outcome: 'written', detail: 'updated alice@example.com' });
      expect(names(calls)).toEqual([
        'planUserProvisioning',
        'pushUserChanges',
        'forgetRemoteUser',
        'createAndLinkRemoteUser',
        'joinRemoteGroups',
      ]);
    });

    test('given she was deleted in Acme and createUsers is off, then the link is forgotten and she stays gone', async () => {
      const { result, calls } = await workflows.execute(provisionUser, [alice], {
        planUserProvisioning: async () => userPlan({ switches: { createUsers: false } }),
        pushUserChanges: async () => {
          throw scimFailure('not-found');
        },
        forgetRemoteUser: async () => undefined,
      });

      expect(result).toEqual({
        outcome: 'skipped',
        detail: 'alice@example.com was deleted in the app and createUsers is off',
      });
      expect(names(calls)).toEqual(['planUserProvisioning', 'pushUserChanges', 'forgetRemoteUser']);
    });

    test('given Acme has groupMembership off, then she is written but not added to remote groups', async () => {
      const { calls } = await workflows.execute(provisionUser, [alice], {
        planUserProvisioning: async () => userPlan({ switches: { groupMembership: false } }),
        pushUserChanges: async () => ({ written: true, operations: 2 }),
      });

      expect(names(calls)).toEqual(['planUserProvisioning', 'pushUserChanges']);
    });

    test('given Acme rejects the PATCH for good, then the link records why and the workflow fails with the rejection', async () => {
      const { error, calls } = await workflows.executeFailing(provisionUser, [alice], {
        planUserProvisioning: async () => userPlan(),
        pushUserChanges: async () => {
          throw scimFailure('rejected', 'title is too long');
        },
        recordUserFailure: async () => undefined,
      });

      expect(failureTypeOf(error)).toBe('ScimRejected');
      expect(names(calls)).toEqual(['planUserProvisioning', 'pushUserChanges', 'recordUserFailure']);
      expect(calls.at(-1)?.args).toEqual(['acme', 'alice', 'title is too long']);
    });
  });

  test('given Alice is no longer in the scope of Acme, then nothing is written', async () => {
    const { result, calls } = await workflows.execute(provisionUser, [alice], {
      planUserProvisioning: async () => userPlan({ inScope: false }),
    });

    expect(result).toEqual({ outcome: 'skipped', detail: 'the user is not in the scope of Acme' });
    expect(names(calls)).toEqual(['planUserProvisioning']);
  });
});
