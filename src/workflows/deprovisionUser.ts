import { directory, scim } from './activities';
import { recordingFailure } from './failures';
import { type IntentResult, skipped, unchanged, type UserIntentInput, written } from '../shared/intents';

/**
 * Take a user out of an app — because it was deleted or deactivated in the directory, removed from the app's
 * assigned group, or its group was unassigned — by deactivating it (`active: false`) or deleting it, per app.
 * Memberships of groups the user left are removed by those groups' membership sync; a user deactivated in the
 * directory keeps its remote memberships, as Entra ID and Okta leave them.
 */
export async function deprovisionUser({ appId, userId, reason }: UserIntentInput): Promise<IntentResult> {
  const plan = await directory.loadUserPlan(appId, userId);
  // Intents run in order but read the directory as it is now: a user back in scope stays provisioned.
  if (plan.inScope) return skipped(`the user is in the scope of ${plan.appName} again`);
  if (!plan.remoteId) return skipped('the user was never provisioned to this app');
  if (!plan.switches.deleteUsers) return skipped('deleteUsers is off for this app');
  const label = plan.userName ?? userId;
  const why = reason ? ` (${reason})` : '';

  return recordingFailure(
    (message) => directory.recordUserFailure(appId, userId, message),
    async () => {
      if (plan.deprovisionMode === 'delete') {
        await scim(`DELETE /Users ${label}`).deleteRemoteUser(appId, userId);
        return written(`deleted ${label}${why}`);
      }
      const { written: wrote } = await scim(`PATCH /Users ${label} active=false`).deactivateRemoteUser(
        appId,
        userId,
      );
      return wrote ? written(`deactivated ${label}${why}`) : unchanged(`${label} was already deactivated`);
    },
  );
}
