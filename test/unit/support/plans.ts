import type { Activities } from '../../../src/activities';
import { type ProvisioningSwitches, provisioningSwitchesSchema } from '../../../src/directory/model';

export type UserPlan = Awaited<ReturnType<Activities['loadUserPlan']>>;
export type GroupPlan = Awaited<ReturnType<Activities['loadGroupPlan']>>;

/** An app with the default switches: every kind of call on but roles and permissions. */
export const defaultSwitches: ProvisioningSwitches = provisioningSwitchesSchema.parse({});

/** What `loadUserPlan` answers for Alice, linked and in the scope of Acme unless the test says otherwise. */
export function userPlan(
  overrides: Omit<Partial<UserPlan>, 'switches'> & { switches?: Partial<ProvisioningSwitches> } = {},
): UserPlan {
  return {
    appName: 'Acme',
    deprovisionMode: 'deactivate',
    userName: 'alice@example.com',
    inScope: true,
    remoteId: 'remote-alice',
    linkStatus: 'synced',
    ...overrides,
    switches: { ...defaultSwitches, ...overrides.switches },
  };
}

/** What `loadGroupPlan` answers for Engineering, linked and assigned to Acme unless the test says otherwise. */
export function groupPlan(
  overrides: Omit<Partial<GroupPlan>, 'switches'> & { switches?: Partial<ProvisioningSwitches> } = {},
): GroupPlan {
  return {
    appName: 'Acme',
    displayName: 'Engineering',
    inScope: true,
    remoteId: 'remote-eng',
    memberCount: 0,
    ...overrides,
    switches: { ...defaultSwitches, ...overrides.switches },
  };
}
