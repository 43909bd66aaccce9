import { bulkScim, directory, scim } from './activities';
import { isScimFailure, recordingFailure } from './failures';
import { type GroupIntentInput, type IntentResult, skipped, unchanged, written } from '../shared/intents';

/**
 * Bring a group assigned to an app into that app, in order: create it empty (or adopt the group of the same
 * displayName), record the link, give every member a remote id, and only then add the members in batched
 * PATCHes — a member is never sent before it exists remotely.
 */
export async function createGroup({ appId, groupId }: GroupIntentInput): Promise<IntentResult> {
  return recordingFailure(
    (message) => directory.recordGroupFailure(appId, groupId, message),
    async () => {
      const plan = await directory.loadGroupPlan(appId, groupId);
      if (!plan.inScope) return skipped(`the group is not assigned to ${plan.appName}`);
      const label = plan.displayName ?? groupId;
      let action: 'created' | 'adopted' | 'already linked' = 'already linked';

      if (!plan.remoteId) {
        if (!plan.switches.createGroups) return skipped('createGroups is off for this app');
        action = await createOrAdoptGroup(appId, groupId, label);
      }

      const provisioned =
        plan.memberCount > 0
          ? await bulkScim(`provision ${plan.memberCount} member(s) of ${label}`).provisionGroupMembers(
              appId,
              groupId,
            )
          : { created: 0, adopted: 0 };
      const members = plan.switches.groupMembership
        ? await bulkScim(`PATCH /Groups ${label} members`).syncGroupMembers(appId, groupId)
        : { added: 0, removed: 0, requests: 0 };

      const summary =
        `${label} ${action}; members: ${provisioned.created} created, ${provisioned.adopted} adopted, ` +
        `${members.added} added to the group in ${members.requests} PATCH(es)`;
      const wroteNothing =
        action === 'already linked' && provisioned.created + provisioned.adopted + members.requests === 0;
      return wroteNothing ? unchanged(summary) : written(summary);
    },
  );
}

/** Adopts the remote group of the same displayName, or creates it; a 409 on create means it exists: adopt. */
async function createOrAdoptGroup(
  appId: string,
  groupId: string,
  label: string,
): Promise<'created' | 'adopted'> {
  if (await scim(`GET /Groups?filter (find ${label})`).findAndLinkRemoteGroup(appId, groupId))
    return 'adopted';
  try {
    await scim(`POST /Groups ${label}`).createAndLinkRemoteGroup(appId, groupId);
    return 'created';
  } catch (error) {
    if (!isScimFailure(error, 'conflict')) throw error;
    if (!(await scim(`GET /Groups?filter (adopt ${label})`).findAndLinkRemoteGroup(appId, groupId)))
      throw error;
    return 'adopted';
  }
}
