import type {
  DirectoryApp,
  DirectoryGroup,
  ReconciledObject,
  ReconciliationCategory,
  ReconciliationReport,
  ReconciliationStatus,
  RemoteLink,
} from '../directory/model';
import { reconciliationCategories } from '../directory/model';
import { usersInAppScope } from '../directory/scope';
import type {
  DirectoryStore,
  ReconciliationAction,
  ReconciliationItem,
  ReconciliationItemFilter,
  ReconciliationItemState,
  ReconciliationRecord,
} from '../directory/store';
import type { ScimClient } from '../scim/client';
import {
  membershipPatchBatches,
  type AttributeSelection,
  replacementUser,
  userPatchOperations,
} from '../scim/diff';
import { ScimError } from '../scim/errors';
import type { PatchOperation, ScimGroup, ScimUser, ScimUserPayload } from '../scim/schemas';
import type { GroupProvisioning } from './groups';
import { desiredScimGroup, directoryMatchKey, remoteMatchKeys } from './mapping';
import type { TargetCapabilities, Targets } from './targets';
import { attributeSelectionOf, type UserProvisioning } from './users';

/** One run of `reconcileApp`, named by its workflow id. */
export interface ReconcileRun {
  workflowId: string;
  appId: string;
  dryRun: boolean;
  confirmDeletions: boolean;
}

/** Users and groups with an intent queued or running: a run leaves them to their lane and reports them deferred. */
export interface BusyResources {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

export interface RunHooks {
  busy: BusyResources;
  /** Called after every page or batch with where the run stands (activities heartbeat it). */
  onProgress?: (position: Record<string, unknown>) => void;
}

export type DeletionSafeguard = NonNullable<ReconciliationReport['deletionSafeguard']>;

/** What the comparison found: the safeguard, and how many repairs (writes or link updates) it planned. */
export interface Comparison {
  safeguard: DeletionSafeguard;
  planned: number;
}

/** Where a run stands, stored with each page or batch so that a retried activity resumes there. */
interface Progress {
  compare: { phase: 'users' | 'groups' | 'missing' | 'done'; startIndex: number };
  repair: { phase: 'users' | 'groups' | 'members' | 'done'; afterKey: string };
  tally: { appUsers: number; wouldDeprovision: number };
  requests: ReconciliationReport['requests'];
  safeguard: DeletionSafeguard | null;
}

/** Writes in flight at once while repairing. */
export const RECONCILE_CONCURRENCY = 16;
/** Items loaded and checkpointed together while repairing. */
const CHUNK = 256;
/** Objects listed per report category; the counts stay complete. */
const REPORT_LIST_LIMIT = 1000;
const writeCategories: Partial<Record<ReconciliationAction, ReconciliationCategory>> = {
  create: 'created',
  update: 'updated',
  deprovision: 'deprovisioned',
  members: 'membershipsFixed',
};
const passiveActions: ReconciliationAction[] = ['unchanged', 'unmanaged', 'deferred', 'skipped', 'imported'];

/** The directory's side of one app, read once per activity: who should be there, and what is linked. */
interface DirectoryView {
  app: DirectoryApp;
  client: ScimClient;
  /** What the app's switches let scimflow write (updateUsers, roles, permissions). */
  selection: AttributeSelection;
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
  capabilities?: TargetCapabilities;
}

const membersKeyPrefix = (groupId: string) => `members:${groupId}:`;
const isMembershipKey = (key: string) => key.startsWith('members:');
const isDeactivated = (remote: Record<string, unknown>) => String(remote.active).toLowerCase() === 'false';

function item(
  resourceType: 'User' | 'Group',
  key: string,
  fields: Partial<ReconciliationItem> & { name: string; action: ReconciliationAction },
): ReconciliationItem {
  return {
    resourceType,
    key,
    localId: null,
    remoteId: null,
    state: passiveActions.includes(fields.action) ? 'noted' : 'planned',
    detail: null,
    error: null,
    remote: null,
    ...fields,
  };
}

/**
 * Reconciliation of one app with the directory, in bulk and without Temporal:
 * `compare` pages through the app's `/Users` and `/Groups` and records, per object, what to do (a read-only
 * pass); `repair` then does it in batches, users first, then groups, then memberships; `finish` turns the
 * run's items into its report. Every page and batch is checkpointed in the store, so a retried activity
 * resumes where the last one stopped. Objects of the app that no directory record is linked to are reported
 * and never touched.
 */
export class Reconciliation {
  constructor(
    private readonly store: DirectoryStore,
    private readonly targets: Targets,
    private readonly users: UserProvisioning,
    private readonly groups: GroupProvisioning,
  ) {}

  // ── compare ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Pages through the app and records what each object needs; writes nothing to the app. Cost: one list call
   * per page of users and of groups, plus a `GET /Groups/{id}` for a group whose list entry left its members out
   * while the directory expects some. Answers the deletion safeguard.
   */
  async compare(run: ReconcileRun, hooks: RunHooks): Promise<Comparison> {
    const record = await this.store.beginReconciliation(run);
    const progress = progressOf(record);
    const view = await this.view(run.appId);
    const { pageSize } = view.app.reconcile;
    // Directory records already paired with a remote object in this run (pages read before a retry).
    const claimed = { User: new Set<string>(), Group: new Set<string>() };
    for await (const existing of this.items(run.workflowId, {})) {
      if (existing.localId && !isMembershipKey(existing.key))
        claimed[existing.resourceType].add(existing.localId);
    }

    if (progress.compare.phase === 'users') {
      for await (const page of view.client.listPages('Users', {
        pageSize,
        startIndex: progress.compare.startIndex,
      })) {
        progress.requests.list++;
        const items = page.resources.map((remote) =>
          this.compareUser(view, remote, claimed.User, hooks, progress),
        );
        progress.compare = page.last
          ? { phase: 'groups', startIndex: 1 }
          : { phase: 'users', startIndex: page.nextStartIndex };
        await this.store.saveReconciliationItems(run.workflowId, items, progress);
        hooks.onProgress?.({
          phase: 'compare users',
          startIndex: page.nextStartIndex,
          of: page.totalResults,
        });
      }
    }
    if (progress.compare.phase === 'groups') {
      for await (const page of view.client.listPages('Groups', {
        pageSize,
        startIndex: progress.compare.startIndex,
      })) {
        progress.requests.list++;
        const items: ReconciliationItem[] = [];
        for (const remote of page.resources) {
          items.push(...(await this.compareGroup(view, remote, claimed.Group, hooks, progress)));
        }
        progress.compare = page.last
          ? { phase: 'missing', startIndex: 1 }
          : { phase: 'groups', startIndex: page.nextStartIndex };
        await this.store.saveReconciliationItems(run.workflowId, items, progress);
        hooks.onProgress?.({
          phase: 'compare groups',
          startIndex: page.nextStartIndex,
          of: page.totalResults,
        });
      }
    }
    if (progress.compare.phase === 'missing') {
      const items = this.missing(view, claimed, hooks.busy);
      progress.compare = { phase: 'done', startIndex: 1 };
      progress.safeguard = safeguardOf(view.app, progress.tally);
      await this.store.saveReconciliationItems(run.workflowId, items, progress);
    }
    const counts = await this.store.reconciliationItemCounts(run.workflowId);
    return {
      safeguard: progress.safeguard ?? safeguardOf(view.app, progress.tally),
      planned: counts.reduce((total, { state, count }) => total + (state === 'planned' ? count : 0), 0),
    };
  }

  private compareUser(
    view: DirectoryView,
    remote: ScimUser,
    claimed: Set<string>,
    { busy }: RunHooks,
    progress: Progress,
  ): ReconciliationItem {
    const { app } = view;
    let localId = view.userByRemoteId.get(remote.id);
    const adopted = !localId;
    if (!localId) {
      localId = remoteMatchKeys(app.userMatchAttribute, remote)
        .map((key) => view.unlinkedUsersByKey.get(key))
        .find((candidate) => candidate !== undefined && !claimed.has(candidate));
      if (!localId)
        return item('User', remote.id, { remoteId: remote.id, name: remote.userName, action: 'unmanaged' });
    }
    claimed.add(localId);
    progress.tally.appUsers++;
    const desired = view.desired.get(localId);
    const base = { localId, remoteId: remote.id, name: desired?.userName ?? remote.userName };
    if (busy.users.has(localId)) {
      return item('User', remote.id, {
        ...base,
        action: 'deferred',
        detail: 'an intent for it is queued or running',
      });
    }
    if (desired) {
      // Every managed difference is reported; only those the app's switches allow are written.
      const differs = userPatchOperations(remote, desired, { ...view.selection, core: true }).map(
        (o) => o.path,
      );
      const writable = userPatchOperations(remote, desired, view.selection).map((o) => o.path);
      const unwritten = differs.filter((path) => !writable.includes(path));
      if (adopted) {
        // Found by the app's match attribute, as provisionUser would: link it instead of creating a duplicate.
        if (!app.provisioning.createUsers)
          return item('User', remote.id, { ...base, action: 'skipped', detail: 'adopt: createUsers is off' });
        const detail = `adopt${writable.length ? `; differs: ${writable.join(', ')}` : ''}`;
        return item('User', remote.id, { ...base, action: 'create', detail, remote });
      }
      const link = view.userLinks.get(localId) as RemoteLink;
      if (differs.length === 0) {
        // The app matches; the link only catches up when it remembers something else.
        const stale =
          link.status !== 'synced' ||
          userPatchOperations(link.lastPushed ?? {}, desired, view.selection).length > 0;
        return item('User', remote.id, { ...base, action: 'unchanged', state: stale ? 'planned' : 'noted' });
      }
      if (writable.length === 0) {
        const detail = `differs: ${unwritten.join(', ')}; updateUsers is off`;
        return item('User', remote.id, { ...base, action: 'skipped', detail });
      }
      const detail =
        writable.join(', ') + (unwritten.length ? ` (not ${unwritten.join(', ')}: updateUsers is off)` : '');
      return item('User', remote.id, { ...base, action: 'update', detail, remote });
    }
    const link = view.userLinks.get(localId) as RemoteLink;
    if (link.status === 'imported') {
      return item('User', remote.id, {
        ...base,
        action: 'imported',
        detail: 'linked by an import; in no assigned group',
      });
    }
    if (app.deprovisionMode === 'deactivate' && isDeactivated(remote)) {
      const state = link.status === 'deprovisioned' ? 'noted' : 'planned';
      return item('User', remote.id, {
        ...base,
        action: 'unchanged',
        state,
        detail: 'out of scope, deactivated',
      });
    }
    if (!app.provisioning.deleteUsers) {
      return item('User', remote.id, {
        ...base,
        action: 'skipped',
        detail: 'out of scope; deleteUsers is off',
      });
    }
    progress.tally.wouldDeprovision++;
    return item('User', remote.id, { ...base, action: 'deprovision', detail: app.deprovisionMode, remote });
  }

  private async compareGroup(
    view: DirectoryView,
    remote: ScimGroup,
    claimed: Set<string>,
    { busy }: RunHooks,
    progress: Progress,
  ): Promise<ReconciliationItem[]> {
    const { app } = view;
    let localId = view.groupByRemoteId.get(remote.id);
    const adopted = !localId;
    if (!localId) {
      // Groups are matched on displayName, as Entra ID does.
      const candidate = view.unlinkedGroupsByName.get(remote.displayName.toLowerCase());
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
      return [
        item('Group', remote.id, {
          ...base,
          action: 'deferred',
          detail: 'an intent for it is queued or running',
        }),
      ];
    }
    if (!group) {
      if (link?.status === 'imported') {
        return [
          item('Group', remote.id, {
            ...base,
            action: 'imported',
            detail: 'linked by an import; not assigned',
          }),
        ];
      }
      if (!app.provisioning.deleteGroups) {
        return [
          item('Group', remote.id, {
            ...base,
            action: 'skipped',
            detail: 'not assigned; deleteGroups is off',
          }),
        ];
      }
      return [item('Group', remote.id, { ...base, action: 'deprovision', detail: 'delete' })];
    }
    if (adopted && !app.provisioning.createGroups) {
      return [item('Group', remote.id, { ...base, action: 'skipped', detail: 'adopt: createGroups is off' })];
    }
    const members = await this.remoteMembers(view, remote, group, progress);
    const snapshot = { displayName: remote.displayName, members };
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
    return [groupItem, ...this.membershipPlan(view, group, remote.id, members)];
  }

  /**
   * A group's member ids as the app holds them. Some targets leave members out of list responses (AWS IAM
   * Identity Center) or answer `members: null`; such a group is read on its own, but only when the directory
   * expects members in it, so an empty group costs no call.
   */
  private async remoteMembers(
    view: DirectoryView,
    remote: ScimGroup,
    group: DirectoryGroup,
    progress: Progress,
  ): Promise<string[]> {
    if (Array.isArray(remote.members)) return remote.members.map((member) => member.value);
    const expected =
      group.memberIds.some((userId) => view.userLinks.get(userId)?.remoteId) ||
      (await this.store.remoteMemberIds(view.app.id, group.id)).length > 0;
    if (!expected) return [];
    progress.requests.read++;
    const full = await view.client.getGroup(remote.id, { withMembers: true });
    return (full.members ?? []).map((member) => member.value);
  }

  /** The membership changes a group needs, one item per member: add the linked directory members, remove managed users who are not. */
  private membershipPlan(
    view: DirectoryView,
    group: DirectoryGroup,
    groupRemoteId: string | null,
    remoteMemberIds: string[],
  ): ReconciliationItem[] {
    const { adds, removes } = membershipDifference(
      group,
      remoteMemberIds,
      view.userLinks,
      view.userByRemoteId,
    );
    if (adds.length + removes.length === 0) return [];
    const label = (remoteUserId: string) => {
      const localId = view.userByRemoteId.get(remoteUserId) as string;
      return (
        view.desired.get(localId)?.userName ??
        String(view.userLinks.get(localId)?.lastPushed?.userName ?? localId)
      );
    };
    if (!view.app.provisioning.groupMembership) {
      const detail = `members differ (+${adds.length} −${removes.length}); groupMembership is off`;
      return [
        item('Group', `members:${group.id}`, {
          localId: group.id,
          remoteId: groupRemoteId,
          name: group.displayName,
          action: 'skipped',
          detail,
        }),
      ];
    }
    const member = (remoteUserId: string, change: 'add' | 'remove') =>
      item('Group', `${membersKeyPrefix(group.id)}${remoteUserId}`, {
        localId: group.id,
        remoteId: groupRemoteId,
        name: group.displayName,
        action: 'members',
        detail: `${change} ${label(remoteUserId)}`,
      });
    return [...adds.map((id) => member(id, 'add')), ...removes.map((id) => member(id, 'remove'))];
  }

  /** Directory records in scope that no remote object was paired with: to be created (or re-created). */
  private missing(
    view: DirectoryView,
    claimed: { User: Set<string>; Group: Set<string> },
    busy: BusyResources,
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
      const key = `local:${localId}`;
      if (busy[resourceType === 'User' ? 'users' : 'groups'].has(localId)) {
        return item(resourceType, key, {
          ...base,
          action: 'deferred',
          detail: `${create}; an intent for it is queued or running`,
        });
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
      items.push(
        plan(
          'User',
          userId,
          desired.userName,
          view.userLinks.get(userId),
          provisioning.createUsers,
          'createUsers',
        ),
      );
    }
    for (const [groupId, group] of view.groups) {
      if (claimed.Group.has(groupId)) continue;
      const groupItem = plan(
        'Group',
        groupId,
        group.displayName,
        view.groupLinks.get(groupId),
        provisioning.createGroups,
        'createGroups',
      );
      items.push({ ...groupItem, remote: { displayName: null, members: [] } });
      if (groupItem.action === 'create') items.push(...this.membershipPlan(view, group, null, []));
    }
    return items;
  }

  // ── repair ───────────────────────────────────────────────────────────────────────────────────────

  /**
   * Does what `compare` planned, in batches of writes with bounded concurrency: users first (so that members
   * exist before they are sent), then groups, then memberships against fresh links. Each item is checkpointed,
   * so a retried activity does not repeat finished work. A write the target refuses for good is recorded as an
   * error of that object and the run goes on; a retryable failure (network, 429, 5xx) ends the activity so
   * Temporal retries it.
   */
  async repair(run: ReconcileRun, hooks: RunHooks): Promise<void> {
    const record = await this.store.getReconciliation(run.workflowId);
    if (!record) throw new Error(`reconciliation ${run.workflowId} was not started`);
    const progress = progressOf(record);
    const view = await this.view(run.appId);
    if (progress.repair.phase === 'users') {
      await this.repairUsers(run, view, hooks, progress);
      progress.repair = { phase: 'groups', afterKey: '' };
      await this.store.updateReconciliation(run.workflowId, { progress });
    }
    if (progress.repair.phase === 'groups') {
      await this.repairGroups(run, view, hooks, progress);
      progress.repair = { phase: 'members', afterKey: '' };
      await this.store.updateReconciliation(run.workflowId, { progress });
    }
    if (progress.repair.phase === 'members') {
      await this.repairMembers(run, view, hooks, progress);
      progress.repair = { phase: 'done', afterKey: '' };
      await this.store.updateReconciliation(run.workflowId, { progress });
    }
  }

  private async repairUsers(run: ReconcileRun, view: DirectoryView, hooks: RunHooks, progress: Progress) {
    let done = 0;
    for (;;) {
      const chunk = await this.store.reconciliationItems(run.workflowId, {
        resourceType: 'User',
        state: 'planned',
        limit: CHUNK,
      });
      if (chunk.length === 0) return;
      const { results, retryable } = await settleEach(chunk, RECONCILE_CONCURRENCY, (planned) =>
        // The desired state as read when this activity started; in scope means it has one.
        this.repairUser(view, planned, view.desired.get(planned.localId as string), hooks.busy, progress),
      );
      await this.store.saveReconciliationItems(run.workflowId, results, progress);
      done += results.length;
      hooks.onProgress?.({ phase: 'repair users', done });
      if (retryable) throw retryable;
    }
  }

  private async repairUser(
    view: DirectoryView,
    planned: ReconciliationItem,
    desired: ScimUserPayload | undefined,
    busy: BusyResources,
    progress: Progress,
  ): Promise<ReconciliationItem> {
    const userId = planned.localId as string;
    const appId = view.app.id;
    if (busy.users.has(userId)) {
      return {
        ...planned,
        action: 'deferred',
        state: 'noted',
        detail: `${planned.action}: an intent for it is queued or running`,
      };
    }
    try {
      switch (planned.action) {
        case 'create':
          return await this.createUser(view, planned, desired, progress);
        case 'update':
          return await this.updateUser(view, planned, desired, progress);
        case 'deprovision':
          return await this.deprovisionUser(view, planned, desired, progress);
        default: {
          // Unchanged in the app: the link catches up (what was last written, its status).
          const link = await this.store.getLink(appId, 'User', userId);
          if (link && desired)
            await this.store.saveLink({ ...link, lastPushed: desired, status: 'synced', lastError: null });
          else if (link) await this.store.saveLink({ ...link, status: 'deprovisioned', lastError: null });
          return { ...planned, state: 'noted' };
        }
      }
    } catch (error) {
      if (!(error instanceof ScimError) || error.retryable) throw error;
      await this.users.recordFailure(appId, userId, error.message);
      return { ...planned, state: 'error', error: error.message };
    }
  }

  private async createUser(
    view: DirectoryView,
    planned: ReconciliationItem,
    desired: ScimUserPayload | undefined,
    progress: Progress,
  ): Promise<ReconciliationItem> {
    const { app, client } = view;
    const userId = planned.localId as string;
    if (!desired)
      return { ...planned, action: 'skipped', state: 'noted', detail: 'left the scope meanwhile' };
    const link = await this.store.getLink(app.id, 'User', userId);
    if (planned.remote) {
      const remote = planned.remote as ScimUser;
      await this.linkUser(app.id, userId, remote.id, remote);
      const operations = userPatchOperations(remote, desired, view.selection);
      if (operations.length) {
        await this.writeUser(view, remote.id, operations, remote, desired, progress);
        await this.linkUser(app.id, userId, remote.id, replacementUser(remote, desired, view.selection));
      }
      return {
        ...planned,
        state: 'done',
        detail: operations.length ? `adopted; wrote ${operations.map((o) => o.path).join(', ')}` : 'adopted',
      };
    }
    if (link?.remoteId) {
      // The remote id the run found gone is forgotten; any other was created meanwhile (an earlier attempt).
      if (link.remoteId !== planned.remoteId) return { ...planned, state: 'done', remoteId: link.remoteId };
      await this.users.forgetLink(app.id, userId);
    }
    try {
      progress.requests.write++;
      const created = await client.createUser(desired);
      await this.linkUser(app.id, userId, created.id, desired);
      return { ...planned, state: 'done', remoteId: created.id };
    } catch (error) {
      // It exists already (an answer lost earlier, or created meanwhile): adopt it and write what differs.
      if (!(error instanceof ScimError && error.kind === 'conflict')) throw error;
      progress.requests.read++;
      const found = await this.users.findAndLink(app.id, userId);
      if (!found) throw error;
      if ((await this.users.pushChanges(app.id, userId)).written) progress.requests.write++;
      return {
        ...planned,
        state: 'done',
        remoteId: found.remoteId,
        detail: `${planned.detail}; adopted after 409`,
      };
    }
  }

  private async updateUser(
    view: DirectoryView,
    planned: ReconciliationItem,
    desired: ScimUserPayload | undefined,
    progress: Progress,
  ): Promise<ReconciliationItem> {
    const remote = planned.remote as ScimUser;
    const userId = planned.localId as string;
    if (!desired)
      return { ...planned, action: 'skipped', state: 'noted', detail: 'left the scope meanwhile' };
    const operations = userPatchOperations(remote, desired, view.selection);
    if (operations.length === 0) return { ...planned, action: 'unchanged', state: 'noted' };
    try {
      await this.writeUser(view, remote.id, operations, remote, desired, progress);
    } catch (error) {
      // Deleted in the app since the page was read: create it anew.
      if (!(error instanceof ScimError && error.kind === 'not-found')) throw error;
      return this.createUser(
        view,
        { ...planned, action: 'create', remote: null, detail: 're-create: gone from the app' },
        desired,
        progress,
      );
    }
    await this.linkUser(view.app.id, userId, remote.id, replacementUser(remote, desired, view.selection));
    return { ...planned, state: 'done', detail: operations.map((operation) => operation.path).join(', ') };
  }

  private async deprovisionUser(
    view: DirectoryView,
    planned: ReconciliationItem,
    desired: ScimUserPayload | undefined,
    progress: Progress,
  ): Promise<ReconciliationItem> {
    const { app } = view;
    const userId = planned.localId as string;
    const remote = planned.remote as ScimUser;
    if (desired) return { ...planned, action: 'skipped', state: 'noted', detail: 'back in scope meanwhile' };
    progress.requests.write++;
    if (app.deprovisionMode === 'delete') {
      await this.users.delete(app.id, userId);
      return { ...planned, state: 'done', detail: 'deleted' };
    }
    const { gone } = await this.users.deactivate(app.id, userId, { asFound: remote });
    if (gone)
      return { ...planned, action: 'unchanged', state: 'noted', detail: 'gone from the app meanwhile' };
    return { ...planned, state: 'done', detail: 'deactivated' };
  }

  /** Records the user's remote id and what the app now holds, the base of later diffs. */
  private async linkUser(
    appId: string,
    userId: string,
    remoteId: string,
    lastPushed: Record<string, unknown>,
  ) {
    await this.store.saveLink({
      appId,
      resourceType: 'User',
      localId: userId,
      remoteId,
      lastPushed,
      status: 'synced',
      lastError: null,
    });
  }

  /** PATCH with only the differences, or, for targets without PATCH, a PUT of what the page showed with the managed attributes set. */
  private async writeUser(
    view: DirectoryView,
    remoteId: string,
    operations: ReturnType<typeof userPatchOperations>,
    current: ScimUser,
    desired: ScimUserPayload,
    progress: Progress,
  ): Promise<void> {
    progress.requests.write++;
    if ((await this.capabilities(view)).patch) await view.client.patchUser(remoteId, operations);
    else
      await view.client.replaceUser(
        remoteId,
        replacementUser(current, desired, view.selection) as ScimUserPayload,
      );
  }

  private async repairGroups(run: ReconcileRun, view: DirectoryView, hooks: RunHooks, progress: Progress) {
    let done = 0;
    for await (const planned of this.items(run.workflowId, { resourceType: 'Group', state: 'planned' })) {
      if (isMembershipKey(planned.key)) continue;
      let result: ReconciliationItem;
      try {
        result = await this.repairGroup(view, planned, hooks.busy, progress);
      } catch (error) {
        if (!(error instanceof ScimError) || error.retryable) throw error;
        await this.groups.recordFailure(view.app.id, planned.localId as string, error.message);
        result = { ...planned, state: 'error', error: error.message };
      }
      await this.store.saveReconciliationItems(run.workflowId, [result], progress);
      hooks.onProgress?.({ phase: 'repair groups', done: ++done });
    }
  }

  private async repairGroup(
    view: DirectoryView,
    planned: ReconciliationItem,
    busy: BusyResources,
    progress: Progress,
  ): Promise<ReconciliationItem> {
    const { app, client } = view;
    const groupId = planned.localId as string;
    if (busy.groups.has(groupId)) {
      return {
        ...planned,
        action: 'deferred',
        state: 'noted',
        detail: `${planned.action}: an intent for it is queued or running`,
      };
    }
    const group = await this.store.getGroup(groupId);
    const assigned = view.groups.has(groupId) && group !== null;
    const link = await this.store.getLink(app.id, 'Group', groupId);
    const linkTo = (remoteId: string, displayName: string) =>
      this.store.saveLink({
        appId: app.id,
        resourceType: 'Group',
        localId: groupId,
        remoteId,
        lastPushed: { displayName },
        status: 'synced',
        lastError: null,
      });

    if (planned.action === 'deprovision') {
      if (assigned)
        return { ...planned, action: 'skipped', state: 'noted', detail: 'assigned again meanwhile' };
      progress.requests.write++;
      await this.groups.delete(app.id, groupId);
      return { ...planned, state: 'done', detail: 'deleted' };
    }
    if (!assigned || !group)
      return { ...planned, action: 'skipped', state: 'noted', detail: 'unassigned meanwhile' };
    const snapshot = (planned.remote ?? { members: [] }) as { displayName: string | null; members: string[] };

    if (planned.action === 'create' && planned.remote && !planned.key.startsWith('local:')) {
      // Adopt the remote group of the same displayName; its members are compared in the members phase.
      await this.store.forgetRemoteMembershipsOfGroup(app.id, groupId);
      await linkTo(planned.remoteId as string, snapshot.displayName ?? group.displayName);
      if (snapshot.displayName !== group.displayName && app.provisioning.updateGroups) {
        await this.renameGroup(view, planned.remoteId as string, group, snapshot.members, progress);
        await linkTo(planned.remoteId as string, group.displayName);
      }
      return { ...planned, state: 'done', detail: 'adopted' };
    }
    if (planned.action === 'create') {
      if (link?.remoteId) {
        if (link.remoteId !== planned.remoteId) return { ...planned, state: 'done', remoteId: link.remoteId };
        await this.groups.forgetLink(app.id, groupId);
      }
      try {
        progress.requests.write++;
        const { remoteId } = await this.groups.createAndLink(app.id, groupId);
        return {
          ...planned,
          state: 'done',
          remoteId,
          remote: { displayName: group.displayName, members: [] },
        };
      } catch (error) {
        if (!(error instanceof ScimError && error.kind === 'conflict')) throw error;
        progress.requests.read += 2;
        const found = await this.groups.findAndLink(app.id, groupId);
        if (!found) throw error;
        const members = ((await client.getGroup(found.remoteId, { withMembers: true })).members ?? []).map(
          (m) => m.value,
        );
        return {
          ...planned,
          state: 'done',
          remoteId: found.remoteId,
          detail: `${planned.detail}; adopted after 409`,
          remote: { displayName: group.displayName, members },
        };
      }
    }
    if (planned.action === 'update') {
      try {
        await this.renameGroup(view, planned.remoteId as string, group, snapshot.members, progress);
      } catch (error) {
        if (!(error instanceof ScimError && error.kind === 'not-found')) throw error;
        return this.repairGroup(
          view,
          {
            ...planned,
            action: 'create',
            key: planned.key,
            remote: null,
            detail: 're-create: gone from the app',
          },
          busy,
          progress,
        );
      }
      await linkTo(planned.remoteId as string, group.displayName);
      return { ...planned, state: 'done' };
    }
    // Unchanged in the app: the link catches up.
    if (link?.remoteId) await linkTo(link.remoteId, group.displayName);
    return { ...planned, state: 'noted' };
  }

  private async renameGroup(
    view: DirectoryView,
    remoteId: string,
    group: DirectoryGroup,
    remoteMembers: string[],
    progress: Progress,
  ): Promise<void> {
    progress.requests.write++;
    if ((await this.capabilities(view)).patch) {
      await view.client.patchGroup(remoteId, [
        { op: 'replace', path: 'displayName', value: group.displayName },
      ]);
    } else {
      // A PUT replaces the members too: send the ones the app holds, the ones scimflow does not manage included.
      await view.client.replaceGroup(remoteId, {
        ...desiredScimGroup(group),
        members: remoteMembers.map((value) => ({ value })),
      });
    }
  }

  /**
   * Brings each assigned group's members in line, against the members the app was seen to hold and the links
   * as they are now (users created by this run included): batched PATCH add/remove of only the differences
   * (a PUT of the whole list for targets without PATCH), then `remote_memberships` follows.
   */
  private async repairMembers(run: ReconcileRun, view: DirectoryView, hooks: RunHooks, progress: Progress) {
    const { app, client } = view;
    if (!app.provisioning.groupMembership) return;
    const userLinks = new Map<string, RemoteLink>();
    const userByRemoteId = new Map<string, string>();
    for (const link of await this.store.listLinks(app.id)) {
      if (link.resourceType !== 'User' || !link.remoteId) continue;
      userLinks.set(link.localId, link);
      userByRemoteId.set(link.remoteId, link.localId);
    }
    for await (const groupItem of this.items(run.workflowId, {
      resourceType: 'Group',
      afterKey: progress.repair.afterKey,
    })) {
      if (!groupItem.localId || isMembershipKey(groupItem.key)) continue;
      const groupId = groupItem.localId as string;
      const snapshot = groupItem.remote as { displayName: string | null; members: string[] } | null;
      const group = await this.store.getGroup(groupId);
      const remoteGroupId = (await this.store.getLink(app.id, 'Group', groupId))?.remoteId;
      const eligible =
        snapshot &&
        group &&
        view.groups.has(groupId) &&
        remoteGroupId &&
        groupItem.state !== 'error' &&
        !['deferred', 'deprovision', 'imported'].includes(groupItem.action) &&
        !hooks.busy.groups.has(groupId);
      if (eligible && remoteGroupId) {
        const remoteMembers = new Set(snapshot.members);
        const { adds, removes } = membershipDifference(group, [...remoteMembers], userLinks, userByRemoteId);
        const planned = await this.store.reconciliationItems(run.workflowId, {
          resourceType: 'Group',
          keyPrefix: membersKeyPrefix(groupId),
          limit: 1_000_000,
        });
        // What the compare pass planned is superseded by what is done now, against fresh links.
        const superseded = planned
          .filter((p) => p.state === 'planned')
          .map((p) => ({ ...p, state: 'noted' as const, detail: `${p.detail}; not needed any more` }));
        await this.store.saveReconciliationItems(run.workflowId, superseded);
        const label = (remoteUserId: string) => {
          const userLink = userLinks.get(userByRemoteId.get(remoteUserId) as string);
          return String(userLink?.lastPushed?.userName ?? remoteUserId);
        };
        const memberItem = (
          remoteUserId: string,
          change: 'add' | 'remove',
          state: ReconciliationItemState,
          error: string | null,
        ) =>
          item('Group', `${membersKeyPrefix(groupId)}${remoteUserId}`, {
            localId: groupId,
            remoteId: remoteGroupId,
            name: group.displayName,
            action: 'members',
            state,
            error,
            detail: `${change} ${label(remoteUserId)}`,
          });
        const batches = (await this.capabilities(view)).patch
          ? patchBatches(adds, removes, app.membershipBatchSize)
          : adds.length + removes.length > 0
            ? [{ operations: null, adds, removes }]
            : [];
        for (const batch of batches) {
          let error: string | null = null;
          try {
            progress.requests.write++;
            if (batch.operations) await client.patchGroup(remoteGroupId, batch.operations);
            else {
              const removed = new Set(batch.removes);
              const members = [...[...remoteMembers].filter((id) => !removed.has(id)), ...batch.adds];
              await client.replaceGroup(remoteGroupId, {
                ...desiredScimGroup(group),
                members: members.map((value) => ({ value })),
              });
            }
            batch.adds.forEach((id) => remoteMembers.add(id));
            batch.removes.forEach((id) => remoteMembers.delete(id));
          } catch (failure) {
            if (!(failure instanceof ScimError) || failure.retryable) throw failure;
            error = failure.message;
          }
          const state = error ? 'error' : 'done';
          const items = [
            ...batch.adds.map((id) => memberItem(id, 'add', state, error)),
            ...batch.removes.map((id) => memberItem(id, 'remove', state, error)),
            // The group's snapshot follows each batch, so a retry does not send a batch twice.
            { ...groupItem, remote: { ...snapshot, members: [...remoteMembers] } },
          ];
          await this.store.saveReconciliationItems(run.workflowId, items, progress);
          hooks.onProgress?.({
            phase: 'repair members',
            group: group.displayName,
            members: remoteMembers.size,
          });
        }
        await this.keepRemoteMembershipsInStep(app.id, groupId, remoteMembers, userByRemoteId);
      }
      progress.repair.afterKey = groupItem.key;
      await this.store.updateReconciliation(run.workflowId, { progress });
      hooks.onProgress?.({ phase: 'repair members', afterKey: groupItem.key });
    }
  }

  /** `remote_memberships` records which linked users the remote group holds, so later intents diff against it. */
  private async keepRemoteMembershipsInStep(
    appId: string,
    groupId: string,
    remoteMembers: Set<string>,
    userByRemoteId: Map<string, string>,
  ): Promise<void> {
    const held = new Set(
      [...remoteMembers].flatMap((id) => (userByRemoteId.has(id) ? [userByRemoteId.get(id) as string] : [])),
    );
    const recorded = new Set(await this.store.remoteMemberIds(appId, groupId));
    await this.store.addRemoteMembers(
      appId,
      groupId,
      [...held].filter((id) => !recorded.has(id)),
    );
    await this.store.removeRemoteMembers(
      appId,
      groupId,
      [...recorded].filter((id) => !held.has(id)),
    );
  }

  // ── report ───────────────────────────────────────────────────────────────────────────────────────

  /** Ends the run: its report is built from its items, stored, and the items are let go. Idempotent. */
  async finish(
    run: ReconcileRun,
    status: Exclude<ReconciliationStatus, 'running'>,
    error?: string,
  ): Promise<ReconciliationReport> {
    let record = await this.store.getReconciliation(run.workflowId);
    if (!record) {
      // A run that failed before it began (e.g. another one was running) is recorded all the same.
      record = await this.store
        .getApp(run.appId)
        .then((app) => (app ? this.store.beginReconciliation(run) : null));
      // The app was deleted meanwhile, and its runs with it.
      if (!record) return emptyReport(run, status, error ?? 'the app was deleted during the run');
    }
    if (record.report && record.status !== 'running') return record.report;
    const report = await reconciliationReport(this.store, { ...record, status }, error ?? null);
    await this.store.updateReconciliation(run.workflowId, { status, report, finishedAt: report.finishedAt });
    await this.store.clearReconciliationItems(run.workflowId);
    return report;
  }

  // ── helpers ──────────────────────────────────────────────────────────────────────────────────────

  private async view(appId: string): Promise<DirectoryView> {
    const app = await this.targets.app(appId);
    const inScope = await usersInAppScope(this.store, appId);
    const desired = await this.users.desiredStates(
      app,
      inScope.map((user) => user.id),
    );
    const view: DirectoryView = {
      app,
      client: this.targets.clientFor(app),
      selection: attributeSelectionOf(app),
      desired,
      userLinks: new Map(),
      userByRemoteId: new Map(),
      unlinkedUsersByKey: new Map(),
      groups: new Map(),
      groupLinks: new Map(),
      groupByRemoteId: new Map(),
      unlinkedGroupsByName: new Map(),
    };
    for (const link of await this.store.listLinks(appId)) {
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
    for (const groupId of await this.store.assignedGroupIds(appId)) {
      const group = await this.store.getGroup(groupId);
      if (!group) continue;
      view.groups.set(groupId, group);
      if (!view.groupLinks.get(groupId)?.remoteId)
        view.unlinkedGroupsByName.set(group.displayName.toLowerCase(), groupId);
    }
    return view;
  }

  /** Asked only when a write is due: a run that finds nothing to repair makes no call beyond its list pages. */
  private async capabilities(view: DirectoryView): Promise<TargetCapabilities> {
    view.capabilities ??= await this.targets.capabilities(view.app, view.client);
    return view.capabilities;
  }

  private async *items(workflowId: string, filter: Omit<ReconciliationItemFilter, 'limit'>) {
    for (const resourceType of filter.resourceType ? [filter.resourceType] : (['Group', 'User'] as const)) {
      let afterKey = filter.afterKey ?? '';
      for (;;) {
        const page = await this.store.reconciliationItems(workflowId, {
          ...filter,
          resourceType,
          afterKey,
          limit: 1000,
        });
        yield* page;
        if (page.length < 1000) break;
        afterKey = page[page.length - 1].key;
      }
    }
  }
}

/**
 * Which members a group needs added (linked directory members the app's group lacks) and removed (users
 * scimflow manages that the app's group holds but the directory's does not). Members scimflow does not manage
 * stay where they are.
 */
function membershipDifference(
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

/** `membershipPatchBatches`, each batch with the member ids it carries. */
function patchBatches(adds: string[], removes: string[], size: number) {
  const batches: { operations: PatchOperation[]; adds: string[]; removes: string[] }[] = [];
  for (let i = 0; i < adds.length; i += size) {
    const slice = adds.slice(i, i + size);
    batches.push({ operations: membershipPatchBatches(slice, [], size)[0], adds: slice, removes: [] });
  }
  for (let i = 0; i < removes.length; i += size) {
    const slice = removes.slice(i, i + size);
    batches.push({ operations: membershipPatchBatches([], slice, size)[0], adds: [], removes: slice });
  }
  return batches;
}

function safeguardOf(app: DirectoryApp, tally: Progress['tally']): DeletionSafeguard {
  const { percent, count } = app.reconcile.deletionThreshold;
  const limit = Math.min(count, Math.floor((tally.appUsers * percent) / 100));
  return {
    wouldDeprovision: tally.wouldDeprovision,
    appUsers: tally.appUsers,
    limit,
    exceeded: tally.wouldDeprovision > limit,
  };
}

function progressOf(record: ReconciliationRecord): Progress {
  const stored = (record.progress ?? {}) as Partial<Progress>;
  return {
    compare: stored.compare ?? { phase: 'users', startIndex: 1 },
    repair: stored.repair ?? { phase: 'users', afterKey: '' },
    tally: stored.tally ?? { appUsers: 0, wouldDeprovision: 0 },
    requests: stored.requests ?? { list: 0, read: 0, write: 0 },
    safeguard: stored.safeguard ?? null,
  };
}

function emptyReport(
  run: ReconcileRun,
  status: ReconciliationStatus,
  error: string | null,
): ReconciliationReport {
  return {
    workflowId: run.workflowId,
    appId: run.appId,
    status,
    dryRun: run.dryRun,
    confirmDeletions: run.confirmDeletions,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    counts: Object.fromEntries(
      reconciliationCategories.map((category) => [category, 0]),
    ) as ReconciliationReport['counts'],
    objects: {},
    truncated: [],
    deletionSafeguard: null,
    requests: { list: 0, read: 0, write: 0 },
    error,
  };
}

/**
 * A run's report from its items: what was done (or, for a dry run or a run stopped by the safeguard, what would
 * have been done), counted per category with the first objects of each. Also serves a run still going.
 */
export async function reconciliationReport(
  store: DirectoryStore,
  record: ReconciliationRecord,
  error: string | null = null,
): Promise<ReconciliationReport> {
  if (record.report && record.status !== 'running') return record.report;
  const progress = progressOf(record);
  // A dry run, or one stopped before repairing, reports what it planned; the others what they did.
  const executed =
    !record.dryRun && record.status !== 'needs-confirmation' && progress.compare.phase === 'done';
  const wanted: ReconciliationItemState = executed ? 'done' : 'planned';
  const report = emptyReport(record, record.status, error);
  report.startedAt = record.startedAt;
  report.finishedAt = record.status === 'running' ? null : new Date().toISOString();
  report.deletionSafeguard = progress.safeguard;
  report.requests = progress.requests;
  for (const { action, state, count } of await store.reconciliationItemCounts(record.workflowId)) {
    const category = categoryOf(action, state, wanted);
    if (category) report.counts[category] += count;
  }
  for (const category of reconciliationCategories) {
    if (category === 'unchanged' || report.counts[category] === 0) continue;
    const action = (Object.keys(writeCategories) as ReconciliationAction[]).find(
      (a) => writeCategories[a] === category,
    );
    const filter: ReconciliationItemFilter =
      category === 'errors'
        ? { state: 'error', limit: REPORT_LIST_LIMIT + 1 }
        : action
          ? { actions: [action], state: wanted, limit: REPORT_LIST_LIMIT + 1 }
          : { actions: [category as ReconciliationAction], limit: REPORT_LIST_LIMIT + 1 };
    const items = (await store.reconciliationItems(record.workflowId, filter)).filter(
      (i) => category === 'errors' || i.state !== 'error',
    );
    if (items.length > REPORT_LIST_LIMIT) report.truncated.push(category);
    report.objects[category] = items.slice(0, REPORT_LIST_LIMIT).map(objectOf);
  }
  return report;
}

function categoryOf(
  action: ReconciliationAction,
  state: ReconciliationItemState,
  wanted: ReconciliationItemState,
): ReconciliationCategory | null {
  if (state === 'error') return 'errors';
  const write = writeCategories[action];
  if (write) return state === wanted ? write : null;
  return action as ReconciliationCategory;
}

function objectOf(reconciled: ReconciliationItem): ReconciledObject {
  return {
    resourceType: reconciled.resourceType,
    id: reconciled.localId,
    remoteId: reconciled.remoteId,
    name: reconciled.name,
    ...(reconciled.detail ? { detail: reconciled.detail } : {}),
    ...(reconciled.error ? { error: reconciled.error } : {}),
  };
}

/**
 * Runs `work` over items, `limit` at a time, and answers every result. A retryable failure stops new items
 * from starting and is answered after those in flight have finished; the items it left are answered unchanged
 * (still planned), so they are tried again.
 */
async function settleEach<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<T>,
): Promise<{ results: T[]; retryable: unknown }> {
  const results = [...items];
  let next = 0;
  let retryable: unknown;
  const lane = async () => {
    while (retryable === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index]);
      } catch (error) {
        retryable ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return { results, retryable };
}
