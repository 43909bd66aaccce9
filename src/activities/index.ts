import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { DirectoryStore } from '../directory/store';
import { GroupProvisioning, type MembershipChange } from '../provisioning/groups';
import type { Targets } from '../provisioning/targets';
import { UserProvisioning } from '../provisioning/users';
import type { IntentDispatcher } from '../shared/intents';
import { adapt } from './adapt';
import { createImportActivities } from './import';
import { createReconciliationActivities } from './reconciliation';
import { createRoleEntitlementActivities } from './roleEntitlements';

/**
 * Who claims the users and groups an activity creates: its workflow and the step (activity type), the same for
 * each of its attempts — the first one run locally and the retries as an ordinary activity included — so a retry
 * takes its own claims over at once (and looks up what an earlier attempt may have created).
 */
export function creationClaimant(): string {
  const { workflowExecution, activityId, activityType } = Context.current().info;
  // An activity started on its own (not by a workflow) is named by its id alone.
  return workflowExecution ? `${workflowExecution.workflowId}/${activityType}` : activityId;
}

export interface ActivityDependencies {
  store: DirectoryStore;
  targets: Targets;
  /** For activities that issue intents of their own (role and entitlement syncs, import). */
  dispatcher?: IntentDispatcher;
  /** For activities that look at other runs; the activity context's client when not given. */
  temporal?: Client;
}

/**
 * Activities are thin adapters: each is one directory read/write or one SCIM call (plus the link it records),
 * built from dependencies so tests can hand in their own store and targets.
 */
export function createActivities({ store, targets, dispatcher, temporal }: ActivityDependencies) {
  const temporalClient = () => temporal ?? Context.current().client;
  const users = new UserProvisioning(store, targets);
  const groups = new GroupProvisioning(store, targets, users);
  return {
    loadUserPlan: adapt((appId: string, userId: string) => users.plan(appId, userId, creationClaimant())),
    planUserProvisioning: adapt((appId: string, userId: string) =>
      users.planProvisioning(appId, userId, creationClaimant()),
    ),
    findAndLinkRemoteUser: adapt((appId: string, userId: string) => users.findAndLink(appId, userId)),
    createAndLinkRemoteUser: adapt(async (appId: string, userId: string) => {
      // A retry whose first attempt ran before creation claims existed (an upgrade) has no claim to say "look
      // first": look anyway, as a lost answer may have left the user created.
      if (Context.current().info.attempt > 1) {
        const existing = await users.findAndLink(appId, userId);
        if (existing) return existing;
      }
      return users.createAndLink(appId, userId, creationClaimant());
    }),
    pushUserChanges: adapt((appId: string, userId: string) => users.pushChanges(appId, userId)),
    deactivateRemoteUser: adapt((appId: string, userId: string) => users.deactivate(appId, userId)),
    deleteRemoteUser: adapt((appId: string, userId: string) => users.delete(appId, userId)),
    forgetRemoteUser: adapt((appId: string, userId: string) => users.forgetLink(appId, userId)),
    joinRemoteGroups: adapt((appId: string, userId: string) => groups.joinUserToGroups(appId, userId)),
    recordUserFailure: adapt((appId: string, userId: string, message: string) =>
      users.recordFailure(appId, userId, message),
    ),

    loadGroupPlan: adapt((appId: string, groupId: string) => groups.plan(appId, groupId)),
    findAndLinkRemoteGroup: adapt((appId: string, groupId: string) => groups.findAndLink(appId, groupId)),
    createAndLinkRemoteGroup: adapt(async (appId: string, groupId: string) => {
      if (Context.current().info.attempt > 1) {
        const existing = await groups.findAndLink(appId, groupId);
        if (existing) return existing;
      }
      return groups.createAndLink(appId, groupId, creationClaimant());
    }),
    provisionGroupMembers: adapt((appId: string, groupId: string) =>
      groups.provisionMembers(appId, groupId, creationClaimant(), {
        onProgress: (done) => Context.current().heartbeat(done),
      }),
    ),
    syncGroupMembers: adapt(async (appId: string, groupId: string): Promise<MembershipChange> => {
      const { unprovisioned, ...change } = await groups.syncMembers(appId, groupId);
      if (unprovisioned.length && dispatcher) {
        await dispatcher.dispatch(
          unprovisioned.map((userId) => ({
            intent: 'provisionUser' as const,
            input: { appId, userId },
            summary: `provisionUser ${userId} (a member of group ${groupId} not yet provisioned)`,
          })),
        );
      }
      return change;
    }),
    renameRemoteGroup: adapt((appId: string, groupId: string) => groups.rename(appId, groupId)),
    deleteRemoteGroup: adapt((appId: string, groupId: string) => groups.delete(appId, groupId)),
    forgetRemoteGroup: adapt((appId: string, groupId: string) => groups.forgetLink(appId, groupId)),
    recordGroupFailure: adapt((appId: string, groupId: string, message: string) =>
      groups.recordFailure(appId, groupId, message),
    ),

    ...createRoleEntitlementActivities({ store, dispatcher, temporal: temporalClient }),
    ...createReconciliationActivities({ store, targets, temporal: temporalClient, creationClaimant }),
    ...createImportActivities({ store, targets, dispatcher }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
