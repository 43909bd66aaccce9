import { nameKey } from '../../directory/names';
import type { DirectoryApp, DirectoryGroup, RemoteLink } from '../../directory/model';
import { usersInAppScope } from '../../directory/scope';
import type { AppManagedValues, UserWriteRules } from '../../scim/diff';
import type { ScimUserPayload } from '../../scim/schemas';
import { directoryMatchKey } from '../mapping';
import type { Target } from '../targets';
import type { RunServices } from './types';

/** The directory's side of one app, read once per activity: who should be there, and what is linked. */
export interface DirectoryView {
  app: DirectoryApp;
  target: Target;
  /** The attributes scimflow manages (the app's mapping) and which its switches let it write. */
  rules: UserWriteRules;
  /** Per in-scope user: the values the app manages itself, not written again. */
  appManaged: Map<string, AppManagedValues>;
  /** Desired SCIM state of every user in the app's scope. */
  desired: Map<string, ScimUserPayload>;
  userLinks: Map<string, RemoteLink>;
  userByRemoteId: Map<string, string>;
  /** In-scope users without a remote id, by match key: a remote user offering that key is adopted. */
  unlinkedUsersByKey: Map<string, string>;
  /** The app's assigned groups. */
  groups: Map<string, DirectoryGroup>;
  groupLinks: Map<string, RemoteLink>;
  groupByRemoteId: Map<string, string>;
  unlinkedGroupsByName: Map<string, string>;
}

export async function loadView(
  { store, targets, users }: RunServices,
  appId: string,
): Promise<DirectoryView> {
  const app = await targets.app(appId);
  const inScope = await usersInAppScope(store, appId);
  const desired = await users.desiredStates(
    app,
    inScope.map((user) => user.id),
  );
  const target = targets.connect(app);
  const view: DirectoryView = {
    app,
    target,
    rules: target.userRules,
    appManaged: await users.appManagedValues(appId, [...desired.keys()]),
    desired,
    userLinks: new Map(),
    userByRemoteId: new Map(),
    unlinkedUsersByKey: new Map(),
    groups: new Map(),
    groupLinks: new Map(),
    groupByRemoteId: new Map(),
    unlinkedGroupsByName: new Map(),
  };
  for (const link of await store.listLinks(appId)) {
    const [links, byRemoteId] =
      link.resourceType === 'User'
        ? [view.userLinks, view.userByRemoteId]
        : [view.groupLinks, view.groupByRemoteId];
    links.set(link.localId, link);
    if (link.remoteId) byRemoteId.set(link.remoteId, link.localId);
  }
  for (const user of inScope) {
    if (view.userLinks.get(user.id)?.remoteId) continue;
    const key = directoryMatchKey(app.userMatchAttribute, user);
    if (key && !view.unlinkedUsersByKey.has(key)) view.unlinkedUsersByKey.set(key, user.id);
  }
  for (const groupId of await store.assignedGroupIds(appId)) {
    const group = await store.getGroup(groupId);
    if (!group) continue;
    view.groups.set(groupId, group);
    if (!view.groupLinks.get(groupId)?.remoteId)
      view.unlinkedGroupsByName.set(nameKey(group.displayName), groupId);
  }
  return view;
}

/**
 * Which members a group needs added (linked directory members the app's group lacks) and removed (users
 * scimflow manages that the app's group holds but the directory's does not). Members scimflow does not manage
 * stay where they are.
 */
export function membershipDifference(
  group: DirectoryGroup,
  remoteMemberIds: string[],
  userLinks: Map<string, RemoteLink>,
  userByRemoteId: Map<string, string>,
): { adds: string[]; removes: string[] } {
  const desired = new Set(
    group.memberIds.flatMap((userId) => {
      const remoteId = userLinks.get(userId)?.remoteId;
      return remoteId ? [remoteId] : [];
    }),
  );
  const remote = new Set(remoteMemberIds);
  return {
    adds: [...desired].filter((id) => !remote.has(id)),
    removes: [...remote].filter((id) => userByRemoteId.has(id) && !desired.has(id)),
  };
}
