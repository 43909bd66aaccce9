import { bulkScim, directory } from './activities';
import { createGroup } from './createGroup';
import { isScimFailure, recordingFailure } from './failures';
import { type GroupIntentInput, type IntentResult, skipped, unchanged, written } from '../shared/intents';

/**
 * Bring a remote group's members in line with the directory: batched PATCH add/remove of only the members
 * that changed since the last write.
 */
export async function syncGroupMembership(input: GroupIntentInput): Promise<IntentResult> {
  const { appId, groupId } = input;
  const plan = await directory.loadGroupPlan(appId, groupId);
  if (!plan.inScope) return skipped(`the group is not assigned to ${plan.appName}`);
  if (!plan.remoteId) return createGroup(input);
  if (!plan.switches.groupMembership) return skipped('groupMembership is off for this app');
  const label = plan.displayName ?? groupId;

  try {
    const change = await recordingFailure(
      (message) => directory.recordGroupFailure(appId, groupId, message),
      () => bulkScim(`PATCH /Groups ${label} members`).syncGroupMembers(appId, groupId),
    );
    if (change.requests === 0) return unchanged(`members of ${label} already match`);
    return written(`${label}: +${change.added} −${change.removed} in ${change.requests} request(s)`);
  } catch (error) {
    if (!isScimFailure(error, 'not-found')) throw error;
    await directory.forgetRemoteGroup(appId, groupId);
    return createGroup(input);
  }
}
