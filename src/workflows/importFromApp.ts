import type { ImportReport } from '../provisioning/import';
import type { ImportIntentInput } from '../shared/intents';

import { appWide } from './activities';

/**
 * Adopt what an app already holds: its users (paired with directory users by the app's match attribute, created
 * when missing, put in the group "Imported from <app>") and, when asked, its groups with their members, all
 * linked so that later provisioning updates them instead of creating duplicates. Runs on the app's own lane.
 */
export async function importFromApp(input: ImportIntentInput): Promise<ImportReport> {
  return appWide('import the app users and groups into the directory').importUsersAndGroups({
    appId: input.appId,
    users: input.users ?? true,
    groups: input.groups ?? false,
    memberships: input.memberships ?? true,
  });
}
