import { directory } from './activities';
import { recordingFailure } from './failures';
import { type IntentResult, skipped, unchanged, type UserIntentInput, written } from '../shared/intents';
import { provisionUser, pushChangesOrRecreate, writesUserAttributes } from './provisionUser';

/**
 * Write a changed user to an app: PATCH with only what changed (a full PUT for apps without PATCH), and no
 * call at all when the app already holds the directory's state. A user the app does not have yet is
 * provisioned instead.
 */
export async function updateUser(input: UserIntentInput): Promise<IntentResult> {
  const { appId, userId } = input;
  const plan = await directory.loadUserPlan(appId, userId);
  if (!plan.inScope) return skipped(`the user is not in the scope of ${plan.appName}`);
  if (!plan.remoteId) return provisionUser(input);
  if (!writesUserAttributes(plan.switches))
    return skipped('updateUsers, roles and permissions are off for this app');
  const label = plan.userName ?? userId;

  return recordingFailure(
    (message) => directory.recordUserFailure(appId, userId, message),
    async () => {
      const pushed = await pushChangesOrRecreate(appId, userId, label, plan.switches.createUsers);
      if (pushed === 'gone') return skipped(`${label} was deleted in the app and createUsers is off`);
      return pushed === 'written' ? written(`updated ${label}`) : unchanged(`${label} already matches`);
    },
  );
}
