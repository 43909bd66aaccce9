import { directory, scim } from './activities';
import { recordingFailure } from './failures';
import { type GroupIntentInput, type IntentResult, skipped, written } from '../shared/intents';

/** Remove a group from an app, because it was deleted in the directory or unassigned from the app. */
export async function deleteGroup({ appId, groupId }: GroupIntentInput): Promise<IntentResult> {
  const plan = await directory.loadGroupPlan(appId, groupId);
  if (plan.inScope) return skipped(`the group is assigned to ${plan.appName} again`);
  if (!plan.remoteId) return skipped('the group was never provisioned to this app');
  if (!plan.switches.deleteGroups) return skipped('deleteGroups is off for this app');
  const label = plan.displayName ?? groupId;

  return recordingFailure(
    (message) => directory.recordGroupFailure(appId, groupId, message),
    async () => {
      await scim(`DELETE /Groups ${label}`).deleteRemoteGroup(appId, groupId);
      return written(`deleted ${label}`);
    },
  );
}
