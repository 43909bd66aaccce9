import { patched } from '@temporalio/workflow';
import { directory, planning, scim, VERSION_0_2 } from './activities';
import { isScimFailure, recordingFailure } from './failures';
import { type IntentResult, skipped, unchanged, type UserIntentInput, written } from '../shared/intents';

/**
 * Bring a user that is in an app's scope into that app: adopt the remote user the app already has (matched by
 * the app's match attribute) or create it, record the link, write what differs, then join it to the app's
 * remote groups it belongs to.
 */
export async function provisionUser({ appId, userId }: UserIntentInput): Promise<IntentResult> {
  return recordingFailure(
    (message) => directory.recordUserFailure(appId, userId, message),
    async () => {
      // The plan looks the user up in the app with the same call; runs begun before it did so look it up after.
      const planLooksUp = patched(VERSION_0_2);
      const plan = planLooksUp
        ? await planning('GET /Users?filter (find the user)').planUserProvisioning(appId, userId)
        : await directory.loadUserPlan(appId, userId);
      if (!plan.inScope) return skipped(`the user is not in the scope of ${plan.appName}`);
      const label = plan.userName ?? userId;
      let created = false;

      if (!plan.remoteId) {
        if (!plan.switches.createUsers) return skipped('createUsers is off for this app');
        const found =
          !planLooksUp &&
          (await scim(`GET /Users?filter (find ${label})`).findAndLinkRemoteUser(appId, userId));
        if (!found) {
          await createOrAdopt(appId, userId, label);
          created = true;
        }
      }

      let changed = false;
      if (!created && writesUserAttributes(plan.switches)) {
        const pushed = await pushChangesOrRecreate(appId, userId, label, plan.switches.createUsers);
        if (pushed === 'gone') return skipped(`${label} was deleted in the app and createUsers is off`);
        changed = pushed === 'written';
      }

      const joined = plan.switches.groupMembership
        ? (await scim(`PATCH /Groups (add ${label})`).joinRemoteGroups(appId, userId)).joined
        : 0;

      if (created) return written(`created ${label}${joined ? ` and added it to ${joined} group(s)` : ''}`);
      if (changed || joined)
        return written(`updated ${label}${joined ? `, added it to ${joined} group(s)` : ''}`);
      return unchanged(`${label} already matches`);
    },
  );
}

/** A 409 means the user exists already (created meanwhile, or by a lost earlier answer): adopt it. */
async function createOrAdopt(appId: string, userId: string, label: string): Promise<void> {
  try {
    await scim(`POST /Users ${label}`).createAndLinkRemoteUser(appId, userId);
  } catch (error) {
    if (!isScimFailure(error, 'conflict')) throw error;
    const adopted = await scim(`GET /Users?filter (adopt ${label})`).findAndLinkRemoteUser(appId, userId);
    if (!adopted) throw error;
  }
}

/** Whether any of the app's switches lets an existing remote user be written: attributes, roles or entitlements. */
export function writesUserAttributes(switches: {
  updateUsers: boolean;
  roles?: boolean;
  permissions?: boolean;
}) {
  return switches.updateUsers || Boolean(switches.roles) || Boolean(switches.permissions);
}

/**
 * A 404 on the linked id means the user was deleted remotely: forget the link and create it again — unless the
 * app does not let scimflow create users, in which case it stays gone until a person or a reconciliation acts.
 */
export async function pushChangesOrRecreate(
  appId: string,
  userId: string,
  label: string,
  mayCreate: boolean,
): Promise<'written' | 'unchanged' | 'gone'> {
  try {
    return (await scim(`PATCH /Users ${label}`).pushUserChanges(appId, userId)).written
      ? 'written'
      : 'unchanged';
  } catch (error) {
    if (!isScimFailure(error, 'not-found')) throw error;
    await directory.forgetRemoteUser(appId, userId);
    if (!mayCreate) return 'gone';
    await createOrAdopt(appId, userId, label);
    return 'written';
  }
}
