import type { DirectoryGroup, RemoteLink } from '../../directory/model';
import type { DirectoryStore, ReconciliationItem, ReconciliationItemState } from '../../directory/store';
import { memberWrites, refusedForGood } from '../remoteWrites';
import { type GroupSnapshot, isMembershipKey, item, membersKeyPrefix, runItems } from './items';
import type { RepairPass } from './types';
import { membershipDifference } from './view';

/** The app's linked users, both ways, as they are now (users created by this run included). */
interface UserLinks {
  byLocalId: Map<string, RemoteLink>;
  byRemoteId: Map<string, string>;
}

/**
 * Brings each assigned group's members in line, against the members the app was seen to hold and the links as
 * they are now (users created by this run included): batched PATCH add/remove of only the differences (a PUT of
 * the whole list for targets without PATCH), then `remote_memberships` follows. Each group is checkpointed when
 * done, and its snapshot after each batch, so a retry sends no batch twice.
 */
export async function repairMembers(pass: RepairPass): Promise<void> {
  const { services, run, view, hooks, progress } = pass;
  const { store } = services;
  const { app } = view;
  if (!app.provisioning.groupMembership) return;
  const users: UserLinks = { byLocalId: new Map(), byRemoteId: new Map() };
  for (const link of await store.listLinks(app.id)) {
    if (link.resourceType !== 'User' || !link.remoteId) continue;
    users.byLocalId.set(link.localId, link);
    users.byRemoteId.set(link.remoteId, link.localId);
  }
  const groupItems = runItems(store, run.workflowId, {
    resourceType: 'Group',
    afterKey: progress.repair.afterKey,
  });
  for await (const groupItem of groupItems) {
    if (!groupItem.localId || isMembershipKey(groupItem.key)) continue;
    const groupId = groupItem.localId;
    const snapshot = groupItem.remote as GroupSnapshot | null;
    const group = await store.getGroup(groupId);
    const remoteGroupId = (await store.getLink(app.id, 'Group', groupId))?.remoteId;
    const eligible =
      snapshot &&
      group &&
      view.groups.has(groupId) &&
      remoteGroupId &&
      groupItem.state !== 'error' &&
      !['deferred', 'deprovision', 'imported'].includes(groupItem.action) &&
      !hooks.busy.groups.has(groupId);
    if (eligible && remoteGroupId) {
      await repairGroupMembers(pass, { groupItem, snapshot, group, remoteGroupId }, users);
    }
    progress.repair.afterKey = groupItem.key;
    await store.updateReconciliation(run.workflowId, { progress });
    hooks.onProgress?.({ phase: 'repair members', afterKey: groupItem.key });
  }
}

async function repairGroupMembers(
  { services: { store }, run, view, hooks, progress }: RepairPass,
  subject: {
    groupItem: ReconciliationItem;
    snapshot: GroupSnapshot;
    group: DirectoryGroup;
    remoteGroupId: string;
  },
  users: UserLinks,
): Promise<void> {
  const { groupItem, snapshot, group, remoteGroupId } = subject;
  const remoteMembers = new Set(snapshot.members);
  const { adds, removes } = membershipDifference(
    group,
    [...remoteMembers],
    users.byLocalId,
    users.byRemoteId,
  );
  const planned = await store.reconciliationItems(run.workflowId, {
    resourceType: 'Group',
    keyPrefix: membersKeyPrefix(group.id),
    limit: 1_000_000,
  });
  // What the compare pass planned is superseded by what is done now, against fresh links.
  const superseded = planned
    .filter((p) => p.state === 'planned')
    .map((p) => ({ ...p, state: 'noted' as const, detail: `${p.detail}; not needed any more` }));
  await store.saveReconciliationItems(run.workflowId, superseded);
  const label = (remoteUserId: string) => {
    const userLink = users.byLocalId.get(users.byRemoteId.get(remoteUserId) as string);
    return String(userLink?.lastPushed?.userName ?? remoteUserId);
  };
  const memberItem = (
    remoteUserId: string,
    change: 'add' | 'remove',
    state: ReconciliationItemState,
    error: string | null,
  ) =>
    item('Group', `${membersKeyPrefix(group.id)}${remoteUserId}`, {
      localId: group.id,
      remoteId: remoteGroupId,
      name: group.displayName,
      action: 'members',
      state,
      error,
      detail: `${change} ${label(remoteUserId)}`,
    });
  const change = { add: adds, remove: removes };
  for (const write of await memberWrites(view.target, remoteGroupId, group, change, [...remoteMembers])) {
    let error: string | null = null;
    try {
      progress.requests.write++;
      await write.send();
      write.add.forEach((id) => remoteMembers.add(id));
      write.remove.forEach((id) => remoteMembers.delete(id));
    } catch (failure) {
      if (!refusedForGood(failure)) throw failure;
      error = failure.message;
    }
    const state = error ? 'error' : 'done';
    const items = [
      ...write.add.map((id) => memberItem(id, 'add', state, error)),
      ...write.remove.map((id) => memberItem(id, 'remove', state, error)),
      // The group's snapshot follows each batch, so a retry does not send a batch twice.
      { ...groupItem, remote: { ...snapshot, members: [...remoteMembers] } },
    ];
    await store.saveReconciliationItems(run.workflowId, items, progress);
    hooks.onProgress?.({ phase: 'repair members', group: group.displayName, members: remoteMembers.size });
  }
  await keepRemoteMembershipsInStep(store, view.app.id, group.id, remoteMembers, users.byRemoteId);
}

/** `remote_memberships` records which linked users the remote group holds, so later intents diff against it. */
async function keepRemoteMembershipsInStep(
  store: DirectoryStore,
  appId: string,
  groupId: string,
  remoteMembers: Set<string>,
  userByRemoteId: Map<string, string>,
): Promise<void> {
  const held = new Set(
    [...remoteMembers].flatMap((id) => (userByRemoteId.has(id) ? [userByRemoteId.get(id) as string] : [])),
  );
  const recorded = new Set(await store.remoteMemberIds(appId, groupId));
  await store.addRemoteMembers(
    appId,
    groupId,
    [...held].filter((id) => !recorded.has(id)),
  );
  await store.removeRemoteMembers(
    appId,
    groupId,
    [...recorded].filter((id) => !held.has(id)),
  );
}
