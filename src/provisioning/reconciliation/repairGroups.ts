import type { DirectoryGroup } from '../../directory/model';
import type { ReconciliationItem } from '../../directory/store';
import { CreationInProgressError } from '../errors';
import { groupKey } from '../links';
import {
  createOrAdopt,
  refusedForGood,
  remoteMemberIds,
  renameRemoteGroup,
  unlessGone,
} from '../remoteWrites';
import {
  deferred,
  deferredToCreator,
  type GroupSnapshot,
  isLocalKey,
  isMembershipKey,
  noted,
  runItems,
} from './items';
import { counted, type RepairPass } from './types';

/**
 * Creates (or adopts), renames and deletes the groups the comparison planned, one at a time, each checkpointed
 * with its outcome. Their members follow in the members phase. Groups are created under the pass's creation
 * claims; one that another path is creating is deferred to it.
 */
export async function repairGroups(pass: RepairPass): Promise<void> {
  const { services, run, view, hooks, progress } = pass;
  let done = 0;
  const planned = runItems(services.store, run.workflowId, { resourceType: 'Group', state: 'planned' });
  for await (const groupItem of planned) {
    if (isMembershipKey(groupItem.key)) continue;
    let result: ReconciliationItem;
    try {
      result = await repairGroup(pass, groupItem);
    } catch (error) {
      if (error instanceof CreationInProgressError) result = deferredToCreator(groupItem, error);
      else if (refusedForGood(error)) {
        await services.links.failed(groupKey(view.app.id, groupItem.localId as string), error.message);
        result = { ...groupItem, state: 'error', error: error.message };
      } else throw error;
    }
    await services.store.saveReconciliationItems(run.workflowId, [result], progress);
    hooks.onProgress?.({ phase: 'repair groups', done: ++done });
  }
}

async function repairGroup(pass: RepairPass, planned: ReconciliationItem): Promise<ReconciliationItem> {
  const { services, view, progress } = pass;
  const { store, groups, links } = services;
  const { app } = view;
  const key = groupKey(app.id, planned.localId as string);
  if (pass.hooks.busy.groups.has(key.localId)) return deferred(planned);
  const group = await store.getGroup(key.localId);
  const assigned = view.groups.has(key.localId) && group !== null;

  if (planned.action === 'deprovision') {
    if (assigned) return noted(planned, 'skipped', 'assigned again meanwhile');
    progress.requests.write++;
    await groups.delete(app.id, key.localId);
    return { ...planned, state: 'done', detail: 'deleted' };
  }
  if (!assigned || !group) return noted(planned, 'skipped', 'unassigned meanwhile');
  const snapshot = (planned.remote ?? { members: [] }) as GroupSnapshot;
  const remoteId = planned.remoteId as string;

  if (planned.action === 'create' && planned.remote && !isLocalKey(planned.key)) {
    // Adopt the remote group of the same displayName; its members are compared in the members phase.
    await links.groupLinked(key, remoteId, snapshot.displayName ?? group.displayName);
    if (snapshot.displayName !== group.displayName && app.provisioning.updateGroups) {
      await rename(pass, remoteId, group, snapshot.members);
      await links.synced(key, remoteId, { displayName: group.displayName });
    }
    return { ...planned, state: 'done', detail: 'adopted' };
  }
  if (planned.action === 'create') {
    const createdMeanwhile = await links.forgetGone(key, planned.remoteId);
    if (createdMeanwhile) return { ...planned, state: 'done', remoteId: createdMeanwhile };
    const { linked, adopted } = await createOrAdopt(
      counted(progress, 'write', () => groups.createAndLink(app.id, key.localId, pass.claimant)),
      // The look-up, and the read of the adopted group's members.
      counted(progress, 'read', () => groups.findAndLink(app.id, key.localId), 2),
    );
    if (!adopted) {
      const remote: GroupSnapshot = { displayName: group.displayName, members: [] };
      return { ...planned, state: 'done', remoteId: linked.remoteId, remote };
    }
    // Adopted after a 409: the members phase compares the members it holds.
    const members = await remoteMemberIds(view.target.client, linked.remoteId);
    const remote: GroupSnapshot = { displayName: group.displayName, members };
    const detail = `${planned.detail}; adopted after 409`;
    return { ...planned, state: 'done', remoteId: linked.remoteId, detail, remote };
  }
  if (planned.action === 'update') {
    if ((await unlessGone(() => rename(pass, remoteId, group, snapshot.members))) === 'gone') {
      // Deleted in the app since the page was read: create it anew.
      const detail = 're-create: gone from the app';
      return repairGroup(pass, { ...planned, action: 'create', remote: null, detail });
    }
    await links.synced(key, remoteId, { displayName: group.displayName });
    return { ...planned, state: 'done' };
  }
  // Unchanged in the app: the link catches up.
  const link = await store.getLink(app.id, 'Group', key.localId);
  if (link?.remoteId) await links.synced(key, link.remoteId, { displayName: group.displayName });
  return { ...planned, state: 'noted' };
}

/** A rename, with the members the page showed (a PUT replaces them too, unmanaged ones included). */
async function rename(
  { view, progress }: RepairPass,
  remoteId: string,
  group: DirectoryGroup,
  membersAsFound: string[],
): Promise<void> {
  progress.requests.write++;
  await renameRemoteGroup(view.target, remoteId, group, membersAsFound);
}
