import { CreationInProgressError, RecordGoneError } from './errors';
import type { DirectoryApp, DirectoryGroup, ProvisioningSwitches } from '../directory/model';
import { isGroupInAppScope } from '../directory/scope';
import type { DirectoryStore } from '../directory/store';
import { runLimited } from './concurrency';
import { groupKey, Links } from './links';
import { desiredScimGroup } from './mapping';
import { deleteLinked, memberWrites, renameRemoteGroup } from './remoteWrites';
import type { Targets } from './targets';
import type { UserProvisioning } from './users';

export interface GroupPlan {
  appName: string;
  switches: ProvisioningSwitches;
  /** null when the group is gone from the directory */
  displayName: string | null;
  inScope: boolean;
  remoteId: string | null;
  memberCount: number;
}

export interface MembershipChange {
  added: number;
  removed: number;
  requests: number;
}

/** How many members are provisioned at once while a group is being created. */
const MEMBER_PROVISIONING_CONCURRENCY = 16;

/** Provisioning of one group into one app. No Temporal in here. */
export class GroupProvisioning {
  private readonly links: Links;

  constructor(
    private readonly store: DirectoryStore,
    private readonly targets: Targets,
    private readonly users: UserProvisioning,
  ) {
    this.links = new Links(store);
  }

  async plan(appId: string, groupId: string): Promise<GroupPlan> {
    const app = await this.targets.app(appId);
    const group = await this.store.getGroup(groupId);
    const link = await this.store.getLink(appId, 'Group', groupId);
    return {
      appName: app.name,
      switches: app.provisioning,
      displayName: group?.displayName ?? null,
      inScope: group ? await isGroupInAppScope(this.store, appId, groupId) : false,
      remoteId: link?.remoteId ?? null,
      memberCount: group?.memberIds.length ?? 0,
    };
  }

  /** Groups are matched on displayName, as Entra ID does; a hit is adopted instead of created again. */
  async findAndLink(appId: string, groupId: string): Promise<{ remoteId: string } | null> {
    const { app, group } = await this.load(appId, groupId);
    const remote = await this.targets.clientFor(app).findGroupByDisplayName(group.displayName);
    if (!remote) return null;
    await this.links.groupLinked(groupKey(appId, groupId), remote.id, remote.displayName);
    return { remoteId: remote.id };
  }

  /**
   * POSTs the group, empty, and links it, under a creation claim (`Links.createOnce`): a group another path linked
   * meanwhile is adopted, and one whose earlier creation may have landed is looked up first.
   */
  async createAndLink(appId: string, groupId: string, claimant: string): Promise<{ remoteId: string }> {
    const { app, group } = await this.load(appId, groupId);
    const key = groupKey(appId, groupId);
    return this.links.createOnce(key, claimant, {
      linked: (remoteId) => ({ remoteId }),
      find: () => this.findAndLink(appId, groupId),
      create: async () => {
        const created = await this.targets.clientFor(app).createGroup(desiredScimGroup(group));
        await this.links.groupLinked(key, created.id, group.displayName);
        return { remoteId: created.id };
      },
    });
  }

  /**
   * Gives every member of the group a remote id: adopted when the target already has the user, created when
   * the app allows creating users. Members already linked cost nothing, so a retried call resumes where the
   * previous one stopped. A member another path is creating right now is left for the retry (its creator will
   * have linked it by then): the others are done first, then `CreationInProgressError` ends the call.
   * `onProgress` is called after each member, for heartbeats.
   */
  async provisionMembers(
    appId: string,
    groupId: string,
    claimant: string,
    options: { onProgress?: (done: number) => void } = {},
  ): Promise<{ linked: number; created: number; adopted: number; skipped: number }> {
    const { app, group } = await this.load(appId, groupId);
    const members = await this.store.getUsers(group.memberIds);
    const alreadyLinked = new Set(
      (await this.store.getLinks(appId, 'User', group.memberIds))
        .filter((l) => l.remoteId)
        .map((l) => l.localId),
    );
    const counts = { linked: alreadyLinked.size, created: 0, adopted: 0, skipped: 0 };
    const pending = members
      .filter((member) => member.active && !alreadyLinked.has(member.id))
      .sort((a, b) => a.id.localeCompare(b.id));
    const inProgress: CreationInProgressError[] = [];
    let done = 0;
    const { failure } = await runLimited(pending, MEMBER_PROVISIONING_CONCURRENCY, async (member) => {
      if (await this.users.findAndLink(appId, member.id)) counts.adopted++;
      else if (!app.provisioning.createUsers) counts.skipped++;
      else {
        try {
          // Created meanwhile (by the member's own provisioning, or an earlier attempt whose answer was lost):
          // adopted.
          const { adopted } = await this.users.createOrAdopt(appId, member.id, claimant);
          counts[adopted ? 'adopted' : 'created']++;
        } catch (error) {
          if (!(error instanceof CreationInProgressError)) throw error;
          inProgress.push(error);
        }
      }
      options.onProgress?.(++done);
    });
    if (failure) throw failure.error;
    if (inProgress.length) throw inProgress[0];
    return counts;
  }

  /**
   * Brings the remote group's members in line with the directory, writing only the difference from what
   * scimflow last wrote, in PATCHes of at most the app's batch size. Members without a remote id yet are left
   * for their own provisioning, which joins them to their groups: a member is never sent before it exists.
   */
  async syncMembers(appId: string, groupId: string): Promise<MembershipChange> {
    const app = await this.targets.app(appId);
    const group = await this.store.getGroup(groupId);
    const groupLink = await this.store.getLink(appId, 'Group', groupId);
    if (!groupLink?.remoteId) throw new Error(`group ${groupId} has no remote link in app ${appId}`);
    const memberIds = group?.memberIds ?? [];
    const memberLinks = await this.store.getLinks(appId, 'User', memberIds);
    const desired = new Map(
      memberLinks.filter((l) => l.remoteId).map((l) => [l.localId, l.remoteId as string]),
    );
    const current = new Set(await this.store.remoteMemberIds(appId, groupId));
    const toAdd = [...desired.keys()].filter((userId) => !current.has(userId));
    const toRemove = [...current].filter((userId) => !desired.has(userId));
    if (toAdd.length === 0 && toRemove.length === 0) return { added: 0, removed: 0, requests: 0 };

    const removedLinks = await this.store.getLinks(appId, 'User', toRemove);
    const removable = new Map(
      removedLinks.filter((l) => l.remoteId).map((l) => [l.localId, l.remoteId as string]),
    );
    const displayName = group?.displayName ?? String(groupLink.lastPushed?.displayName ?? '');
    const writes = await memberWrites(
      this.targets.connect(app),
      groupLink.remoteId,
      { id: groupId, displayName },
      {
        add: toAdd.map((userId) => desired.get(userId) as string),
        remove: toRemove.flatMap((userId) =>
          removable.has(userId) ? [removable.get(userId) as string] : [],
        ),
        wanted: [...desired.values()],
      },
    );
    for (const write of writes) await write.send();
    await this.store.addRemoteMembers(appId, groupId, toAdd);
    await this.store.removeRemoteMembers(appId, groupId, toRemove);
    return { added: toAdd.length, removed: toRemove.length, requests: writes.length };
  }

  /** Adds one freshly provisioned user to the app's remote groups it belongs to in the directory. */
  async joinUserToGroups(appId: string, userId: string): Promise<{ joined: number }> {
    const app = await this.targets.app(appId);
    const userLink = await this.store.getLink(appId, 'User', userId);
    if (!userLink?.remoteId) return { joined: 0 };
    const groupIds = await this.store.assignedGroupIdsOfUser(appId, userId);
    const already = new Set(await this.store.remoteGroupIdsOfUser(appId, userId));
    const groupLinks = await this.store.getLinks(
      appId,
      'Group',
      groupIds.filter((id) => !already.has(id)),
    );
    const target = this.targets.connect(app);
    // A PUT sends the whole member list: a target without PATCH has the group's membership synced instead.
    const patch = (await target.capabilities()).patch;
    let joined = 0;
    for (const groupLink of groupLinks) {
      if (!groupLink.remoteId) continue;
      if (!patch) await this.syncMembers(appId, groupLink.localId);
      else {
        const group = { id: groupLink.localId, displayName: String(groupLink.lastPushed?.displayName ?? '') };
        const change = { add: [userLink.remoteId], remove: [] };
        for (const write of await memberWrites(target, groupLink.remoteId, group, change)) await write.send();
        await this.store.addRemoteMembers(appId, groupLink.localId, [userId]);
      }
      joined++;
    }
    return { joined };
  }

  async rename(appId: string, groupId: string): Promise<{ written: boolean }> {
    const { app, group } = await this.load(appId, groupId);
    const link = await this.store.getLink(appId, 'Group', groupId);
    if (!link?.remoteId) throw new Error(`group ${groupId} has no remote link in app ${appId}`);
    if (link.lastPushed?.displayName === group.displayName) return { written: false };
    await renameRemoteGroup(this.targets.connect(app), link.remoteId, group);
    await this.links.synced(link, link.remoteId, { displayName: group.displayName });
    return { written: true };
  }

  /** Deletes the remote group; one already gone (404) counts as deleted. Forgets the link and memberships. */
  async delete(appId: string, groupId: string): Promise<{ written: boolean }> {
    const client = this.targets.clientFor(await this.targets.app(appId));
    const link = await this.store.getLink(appId, 'Group', groupId);
    return deleteLinked(this.links, link, (remoteId) => client.deleteGroup(remoteId));
  }

  /** After a 404 on a linked id: the group was deleted remotely, so the next step creates it anew. */
  async forgetLink(appId: string, groupId: string): Promise<void> {
    await this.links.forget(groupKey(appId, groupId));
  }

  async recordFailure(appId: string, groupId: string, message: string): Promise<void> {
    await this.links.failed(groupKey(appId, groupId), message);
  }

  private async load(appId: string, groupId: string): Promise<{ app: DirectoryApp; group: DirectoryGroup }> {
    const app = await this.targets.app(appId);
    const group = await this.store.getGroup(groupId);
    if (!group) throw new RecordGoneError('group', groupId);
    return { app, group };
  }
}
