import type { DirectoryUser } from './model';
import type { AssignmentStore, UserStore } from './store';

/**
 * Who belongs in which app — the scope rules, decided here and nowhere else:
 * an app's groups are the groups assigned to it; an app's users are the active members of those groups.
 */
export async function isUserInAppScope(
  store: Pick<AssignmentStore, 'assignedGroupIdsOfUser'>,
  appId: string,
  user: DirectoryUser | null,
): Promise<boolean> {
  if (!user || !user.active) return false;
  return (await store.assignedGroupIdsOfUser(appId, user.id)).length > 0;
}

export async function isGroupInAppScope(
  store: Pick<AssignmentStore, 'appIdsAssignedGroup'>,
  appId: string,
  groupId: string,
): Promise<boolean> {
  return (await store.appIdsAssignedGroup(groupId)).includes(appId);
}

/** The apps whose scope holds the user: those holding it through an assigned group, none while it is inactive. */
export async function appIdsWithUserInScope(
  store: Pick<AssignmentStore, 'appIdsHoldingUser'>,
  user: DirectoryUser | undefined,
): Promise<string[]> {
  return user?.active ? store.appIdsHoldingUser(user.id) : [];
}

/** Every user in the app's scope at once (reconciliation compares them in bulk): the same rule, one query. */
export async function usersInAppScope(
  store: Pick<AssignmentStore, 'userIdsHeldByApp'> & Pick<UserStore, 'getUsers'>,
  appId: string,
): Promise<DirectoryUser[]> {
  return (await store.getUsers(await store.userIdsHeldByApp(appId))).filter((user) => user.active);
}
