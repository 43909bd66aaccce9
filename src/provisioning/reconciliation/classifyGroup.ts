import { nameKey } from '../../directory/names';
import type { DirectoryGroup } from '../../directory/model';
import type { DirectoryStore, ReconciliationItem } from '../../directory/store';
import type { ScimGroup } from '../../scim/schemas';
import { remoteMemberIds } from '../remoteWrites';
import { deferredDetail, type GroupSnapshot, item, membersKeyPrefix } from './items';
import type { BusyResources, DeletionCounting, Progress } from './types';
import { type DirectoryView, membershipDifference } from './view';

/**
 * What one group of the app needs, compared with the directory group it is linked to (or, unlinked, the assigned
 * group of the same displayName, which adopts it, as Entra ID matches groups): its own item, then one item per
 * member to add or remove. A group no directory group claims is `unmanaged`, and never touched.
 */
export async function classifyGroup(
  store: DirectoryStore,
  view: DirectoryView,
  remote: ScimGroup,
  claimed: Set<string>,
  busy: BusyResources,
  progress: Progress,
  deletions: DeletionCounting,
): Promise<ReconciliationItem[]> {
  const { app } = view;
  let localId = view.groupByRemoteId.get(remote.id);
  const adopted = !localId;
  if (!localId) {
    const candidate = view.unlinkedGroupsByName.get(nameKey(remote.displayName));
    if (!candidate || claimed.has(candidate)) {
      return [
        item('Group', remote.id, { remoteId: remote.id, name: remote.displayName, action: 'unmanaged' }),
      ];
    }
    localId = candidate;
  }
  claimed.add(localId);
  const group = view.groups.get(localId);
  const link = view.groupLinks.get(localId);
  const base = { localId, remoteId: remote.id, name: group?.displayName ?? remote.displayName };
  if (busy.groups.has(localId)) {
    return [item('Group', remote.id, { ...base, action: 'deferred', detail: deferredDetail })];
  }
  if (!group) {
    if (link?.status === 'imported') {
      const detail = 'linked by an import; not assigned';
      return [item('Group', remote.id, { ...base, action: 'imported', detail })];
    }
    if (!app.provisioning.deleteGroups) {
      const detail = 'not assigned; deleteGroups is off';
      return [item('Group', remote.id, { ...base, action: 'skipped', detail })];
    }
    deletions.tally.wouldDeleteGroups++;
    return [item('Group', remote.id, { ...base, action: 'deprovision', detail: 'delete' })];
  }
  if (adopted && !app.provisioning.createGroups) {
    return [item('Group', remote.id, { ...base, action: 'skipped', detail: 'adopt: createGroups is off' })];
  }
  const members = await membersHeld(store, view, remote, group, progress);
  const snapshot: GroupSnapshot = { displayName: remote.displayName, members };
  let groupItem: ReconciliationItem;
  if (adopted) {
    groupItem = item('Group', remote.id, { ...base, action: 'create', detail: 'adopt', remote: snapshot });
  } else if (remote.displayName !== group.displayName) {
    const detail = `displayName ${JSON.stringify(remote.displayName)} → ${JSON.stringify(group.displayName)}`;
    groupItem = app.provisioning.updateGroups
      ? item('Group', remote.id, { ...base, action: 'update', detail, remote: snapshot })
      : item('Group', remote.id, {
          ...base,
          action: 'skipped',
          detail: `${detail}; updateGroups is off`,
          remote: snapshot,
        });
  } else {
    const stale = link?.status !== 'synced' || link.lastPushed?.displayName !== group.displayName;
    groupItem = item('Group', remote.id, {
      ...base,
      action: 'unchanged',
      state: stale ? 'planned' : 'noted',
      remote: snapshot,
    });
  }
  return [groupItem, ...membershipPlan(view, group, remote.id, members, deletions)];
}

/**
 * A group's member ids as the app holds them. Some targets leave members out of list responses or answer
 * `members: null`; such a group is read on its own, but only when the directory
 * expects members in it, so an empty group costs no call.
 */
async function membersHeld(
  store: DirectoryStore,
  view: DirectoryView,
  remote: ScimGroup,
  group: DirectoryGroup,
  progress: Progress,
): Promise<string[]> {
  if (!view.target.profile.groupMembersReadable) {
    // The app never shows members (AWS IAM Identity Center): the members scimflow wrote stand for them. A member
    // added or removed in the app itself is not seen.
    return (await store.remoteMemberIds(view.app.id, group.id)).flatMap((userId) => {
      const remoteId = view.userLinks.get(userId)?.remoteId;
      return remoteId ? [remoteId] : [];
    });
  }
  if (Array.isArray(remote.members)) return remote.members.map((member) => member.value);
  const expected =
    group.memberIds.some((userId) => view.userLinks.get(userId)?.remoteId) ||
    (await store.remoteMemberIds(view.app.id, group.id)).length > 0;
  if (!expected) return [];
  progress.requests.read++;
  return remoteMemberIds(view.target.client, remote.id);
}

/**
 * The membership changes a group needs, one item per member: add the linked directory members, remove managed
 * users who are not. Removals are counted for the deletion safeguard, but for users the run deprovisions: those
 * are counted once, as users.
 */
export function membershipPlan(
  view: DirectoryView,
  group: DirectoryGroup,
  groupRemoteId: string | null,
  remoteMemberIds: string[],
  deletions: DeletionCounting,
): ReconciliationItem[] {
  const { adds, removes } = membershipDifference(group, remoteMemberIds, view.userLinks, view.userByRemoteId);
  if (adds.length + removes.length === 0) return [];
  const base = { localId: group.id, remoteId: groupRemoteId, name: group.displayName };
  if (!view.app.provisioning.groupMembership) {
    const detail = `members differ (+${adds.length} −${removes.length}); groupMembership is off`;
    return [item('Group', `members:${group.id}`, { ...base, action: 'skipped', detail })];
  }
  deletions.tally.wouldRemoveMemberships += removes.filter((id) => !deletions.leaving.has(id)).length;
  const label = (remoteUserId: string) => {
    const localId = view.userByRemoteId.get(remoteUserId) as string;
    return (
      view.desired.get(localId)?.userName ??
      String(view.userLinks.get(localId)?.lastPushed?.userName ?? localId)
    );
  };
  const member = (remoteUserId: string, change: 'add' | 'remove') =>
    item('Group', `${membersKeyPrefix(group.id)}${remoteUserId}`, {
      ...base,
      action: 'members',
      detail: `${change} ${label(remoteUserId)}`,
    });
  return [...adds.map((id) => member(id, 'add')), ...removes.map((id) => member(id, 'remove'))];
}
