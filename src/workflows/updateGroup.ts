import { directory, scim } from './activities';
import { createGroup } from './createGroup';
import { isScimFailure, recordingFailure } from './failures';
import { type GroupIntentInput, type IntentResult, skipped, unchanged, written } from '../shared/intents';

/** Rename a group in an app (PATCH replace displayName, or PUT for apps without PATCH). */
export async function updateGroup(input: GroupIntentInput): Promise<IntentResult> {
  const { appId, groupId } = input;
  const plan = await directory.loadGroupPlan(appId, groupId);
  if (!plan.inScope) return skipped(`the group is not assigned to ${plan.appName}`);
  if (!plan.remoteId) return createGroup(input);
  if (!plan.switches.updateGroups) return skipped('updateGroups is off for this app');
  const label = plan.displayName ?? groupId;

  try {
    const renamed = await recordingFailure(
      (message) => directory.recordGroupFailure(appId, groupId, message),
      () => scim(`PATCH /Groups displayName=${label}`).renameRemoteGroup(appId, groupId),
    );
    return renamed.written ? written(`renamed to ${label}`) : unchanged(`already named ${label}`);
  } catch (error) {
    // Deleted remotely: create it again under its current name.
    if (!isScimFailure(error, 'not-found')) throw error;
    await directory.forgetRemoteGroup(appId, groupId);
    return createGroup(input);
  }
}
