import type { DirectoryStore } from '../directory/store';
import type { EntitlementsIntentInput } from '../shared/intents';

/**
 * The users of one app whose roles or entitlements a role change may have changed: of the users named by the
 * change (members of its groups, holders of its roles, or all the app's users), those the app holds, active,
 * and already provisioned there. Everyone else gets roles and entitlements when provisioned.
 */
export async function usersAffectedByRoleChange(
  store: DirectoryStore,
  change: EntitlementsIntentInput,
): Promise<string[]> {
  const held = new Set(await store.userIdsHeldByApp(change.appId));
  const named = new Set<string>(change.allUsers ? held : []);
  for (const userId of await store.userIdsHoldingRoles(change.roleIds ?? [])) named.add(userId);
  for (const groupId of change.groupIds ?? []) {
    for (const userId of (await store.getGroup(groupId))?.memberIds ?? []) named.add(userId);
  }
  const candidates = [...named].filter((userId) => held.has(userId));
  const active = new Set((await store.getUsers(candidates)).filter((u) => u.active).map((u) => u.id));
  const linked = (await store.getLinks(change.appId, 'User', [...active])).filter((link) => link.remoteId);
  return linked.map((link) => link.localId).sort();
}
