import { deletionLimit, totalDeletions } from '../../directory/deletionGuard';
import type { DirectoryApp, RemoteLink } from '../../directory/model';
import type { ReconciliationItem } from '../../directory/store';
import type { ScimGroup, ScimUser } from '../../scim/schemas';
import { classifyGroup, membershipPlan } from './classifyGroup';
import { classifyUser } from './classifyUser';
import { deferredDetail, isMembershipKey, item, localKey, runItems } from './items';
import {
  type BusyResources,
  type Comparison,
  type DeletionCounting,
  type DeletionSafeguard,
  type Progress,
  progressOf,
  type ReconcileRun,
  type RunHooks,
  type RunServices,
} from './types';
import { type DirectoryView, loadView } from './view';

/**
 * Pages through the app and records what each object needs; writes nothing to the app. Cost: one list call per
 * page of users and of groups, plus a `GET /Groups/{id}` for a group whose list entry left its members out while
 * the directory expects some. Answers the deletion safeguard.
 */
export async function compare(
  services: RunServices,
  run: ReconcileRun,
  hooks: RunHooks,
): Promise<Comparison> {
  const { store } = services;
  const progress = progressOf(await store.beginReconciliation(run));
  const view = await loadView(services, run.appId);
  const { pageSize } = view.app.reconcile;
  // Directory records already paired with a remote object in this run (pages read before a retry), and the users
  // it would deprovision.
  const claimed = { User: new Set<string>(), Group: new Set<string>() };
  const deletions = { tally: progress.tally, leaving: new Set<string>() };
  const noteLeaving = (planned: ReconciliationItem) => {
    if (planned.resourceType === 'User' && planned.action === 'deprovision' && planned.remoteId)
      deletions.leaving.add(planned.remoteId);
  };
  for await (const existing of runItems(store, run.workflowId, {})) {
    if (existing.localId && !isMembershipKey(existing.key))
      claimed[existing.resourceType].add(existing.localId);
    noteLeaving(existing);
  }

  /** One walk through the app's list pages from the stored position; each page saved with the position after it. */
  const comparePages = async <T extends 'Users' | 'Groups'>(
    resourceType: T,
    then: Progress['compare']['phase'],
    classify: (resources: (T extends 'Users' ? ScimUser : ScimGroup)[]) => Promise<ReconciliationItem[]>,
  ) => {
    const phase = progress.compare.phase;
    const { startIndex, cursor } = progress.compare;
    for await (const page of view.target.client.listPages(resourceType, { pageSize, startIndex, cursor })) {
      progress.requests.list++;
      const items = await classify(page.resources);
      progress.compare = page.last
        ? { phase: then, startIndex: 1 }
        : { phase, startIndex: page.nextStartIndex, cursor: page.nextCursor };
      await store.saveReconciliationItems(run.workflowId, items, progress);
      hooks.onProgress?.({
        phase: `compare ${phase}`,
        startIndex: page.nextStartIndex,
        of: page.totalResults,
      });
    }
  };
  if (progress.compare.phase === 'users') {
    await comparePages('Users', 'groups', async (users) => {
      const items = users.map((remote) => classifyUser(view, remote, claimed.User, hooks.busy, progress));
      items.forEach(noteLeaving);
      return items;
    });
  }
  if (progress.compare.phase === 'groups') {
    await comparePages('Groups', 'missing', async (groups) => {
      const items: ReconciliationItem[] = [];
      for (const remote of groups) {
        items.push(
          ...(await classifyGroup(store, view, remote, claimed.Group, hooks.busy, progress, deletions)),
        );
      }
      return items;
    });
  }
  if (progress.compare.phase === 'missing') {
    const items = missing(view, claimed, hooks.busy, deletions);
    progress.compare = { phase: 'done', startIndex: 1 };
    progress.safeguard = safeguardOf(view.app, progress.tally);
    await store.saveReconciliationItems(run.workflowId, items, progress);
  }
  const counts = await store.reconciliationItemCounts(run.workflowId);
  return {
    safeguard: progress.safeguard ?? safeguardOf(view.app, progress.tally),
    planned: counts.reduce((total, { state, count }) => total + (state === 'planned' ? count : 0), 0),
  };
}

/** Directory records in scope that no remote object was paired with: to be created (or re-created). */
function missing(
  view: DirectoryView,
  claimed: { User: Set<string>; Group: Set<string> },
  busy: BusyResources,
  deletions: DeletionCounting,
): ReconciliationItem[] {
  const { provisioning } = view.app;
  const items: ReconciliationItem[] = [];
  const plan = (
    resourceType: 'User' | 'Group',
    localId: string,
    name: string,
    link: RemoteLink | undefined,
    allowed: boolean,
    switchName: string,
  ) => {
    const base = { localId, remoteId: link?.remoteId ?? null, name };
    const create = link?.remoteId ? 're-create: gone from the app' : 'create';
    const key = localKey(localId);
    if (busy[resourceType === 'User' ? 'users' : 'groups'].has(localId)) {
      return item(resourceType, key, { ...base, action: 'deferred', detail: `${create}; ${deferredDetail}` });
    }
    if (!allowed)
      return item(resourceType, key, {
        ...base,
        action: 'skipped',
        detail: `${create}; ${switchName} is off`,
      });
    return item(resourceType, key, { ...base, action: 'create', detail: create });
  };
  for (const [userId, desired] of view.desired) {
    if (claimed.User.has(userId)) continue;
    const link = view.userLinks.get(userId);
    items.push(plan('User', userId, desired.userName, link, provisioning.createUsers, 'createUsers'));
  }
  for (const [groupId, group] of view.groups) {
    if (claimed.Group.has(groupId)) continue;
    const link = view.groupLinks.get(groupId);
    const groupItem = plan(
      'Group',
      groupId,
      group.displayName,
      link,
      provisioning.createGroups,
      'createGroups',
    );
    items.push({ ...groupItem, remote: { displayName: null, members: [] } });
    if (groupItem.action === 'create') items.push(...membershipPlan(view, group, null, [], deletions));
  }
  return items;
}

/**
 * Whether the run would make more deletions — users deprovisioned, groups deleted, members removed (a leaver's
 * removals come with its deprovisioning) — than the app's threshold lets a change make without confirmation: the
 * same limit as the API's.
 */
function safeguardOf(app: DirectoryApp, tally: Progress['tally']): DeletionSafeguard {
  const total = totalDeletions({
    users: tally.wouldDeprovision,
    groups: tally.wouldDeleteGroups,
    memberships: tally.wouldRemoveMemberships,
  });
  const limit = deletionLimit(app.reconcile.deletionThreshold, tally.appUsers);
  return {
    wouldDeprovision: tally.wouldDeprovision,
    wouldDeleteGroups: tally.wouldDeleteGroups,
    wouldRemoveMemberships: tally.wouldRemoveMemberships,
    total,
    appUsers: tally.appUsers,
    limit,
    exceeded: total > limit,
  };
}
