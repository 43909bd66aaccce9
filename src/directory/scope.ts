import type { DirectoryUser } from './model';
import type { DirectoryStore } from './store';

/**
 * Who belongs in which app — the scope rules, decided here and nowhere else:
 * an app's groups are the groups assigned to it; an app's users are the active members of those groups.
 */
export async function isUserInAppScope(
  store: DirectoryStore,
  appId: string,
  user: DirectoryUser | null,
): Promise<boolean> {
  if (!user || !user.active) return false;
  return (await store.assignedGroupIdsOfUser(appId, user.id)).length > 0;
}

export async function isGroupInAppScope(
  store: DirectoryStore,
  appId: string,
  groupId: string,
): Promise<boolean> {
  return (await store.appIdsAssignedGroup(groupId)).includes(appId);
}

/** Every user in the app's scope at once (reconciliation compares them in bulk): the same rule, one query. */
export async function usersInAppScope(store: DirectoryStore, appId: string): Promise<DirectoryUser[]> {
  return (await store.getUsers(await store.userIdsHeldByApp(appId))).filter((user) => user.active);
}
