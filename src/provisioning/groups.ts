import { RecordGoneError } from './errors';
import type { DirectoryApp, DirectoryGroup, ProvisioningSwitches } from '../directory/model';
import { isGroupInAppScope } from '../directory/scope';
import type { DirectoryStore } from '../directory/store';
import type { ScimClient } from '../scim/client';
import { membershipPatchBatches } from '../scim/diff';
import { ScimError } from '../scim/errors';
import { desiredScimGroup } from './mapping';
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
  constructor(
    private readonly store: DirectoryStore,
    private readonly targets: Targets,
    private readonly users: UserProvisioning,
  ) {}

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
    // Members of an adopted group are not known yet: the membership sync adds the directory's members, and
    // a group that already holds them just sees an idempotent add.
    await this.store.forgetRemoteMembershipsOfGroup(appId, groupId);
    await this.store.saveLink({
      appId,
      resourceType: 'Group',
      localId: groupId,
      remoteId: remote.id,
      lastPushed: { displayName: remote.displayName },
      status: 'synced',
      lastError: null,
    });
    return { remoteId: remote.id };
  }

  async createAndLink(appId: string, groupId: string): Promise<{ remoteId: string }> {
    const { app, group } = await this.load(appId, groupId);
    const created = await this.targets.clientFor(app).createGroup(desiredScimGroup(group));
    await this.store.forgetRemoteMembershipsOfGroup(appId, groupId);
    await this.store.saveLink({
      appId,
      resourceType: 'Group',
      localId: groupId,
      remoteId: created.id,
      lastPushed: { displayName: group.displayName },
      status: 'synced',
      lastError: null,
    });
    return { remoteId: created.id };
  }

  /**
   * Gives every member of the group a remote id: adopted when the target already has the user, created when
   * the app allows creating users. Members already linked cost nothing, so a retried call resumes where the
   * previous one stopped. `onProgress` is called after each member, for heartbeats.
   */
  async provisionMembers(
    appId: string,
    groupId: string,
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
    let done = 0;
    let next = 0;
    const worker = async () => {
      while (next < pending.length) {
        const member = pending[next++];
        const found = await this.users.findAndLink(appId, member.id);
        if (found) counts.adopted++;
        else if (app.provisioning.createUsers) {
          try {
            await this.users.createAndLink(appId, member.id);
            counts.created++;
          } catch (error) {
            // Created meanwhile by the member's own provisioning, or by an earlier attempt whose answer was lost.
            if (!(error instanceof ScimError && error.kind === 'conflict')) throw error;
            if (!(await this.users.findAndLink(appId, member.id))) throw error;
            counts.adopted++;
          }
        } else counts.skipped++;
        options.onProgress?.(++done);
      }
    };
    await Promise.all(Array.from({ length: MEMBER_PROVISIONING_CONCURRENCY }, worker));
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
    const client = this.targets.clientFor(app);
    let requests = 0;
    if ((await this.targets.capabilities(app, client)).patch) {
      const addIds = toAdd.map((userId) => desired.get(userId) as string);
      const removeIds = toRemove.flatMap((userId) =>
        removable.has(userId) ? [removable.get(userId) as string] : [],
      );
      for (const operations of membershipPatchBatches(addIds, removeIds, app.membershipBatchSize)) {
        await client.patchGroup(groupLink.remoteId, operations);
        requests++;
      }
    } else {
      const displayName = group?.displayName ?? String(groupLink.lastPushed?.displayName ?? '');
      const removed = new Set(removable.values());
      const kept = (await this.remoteMemberIdsOf(client, groupLink.remoteId)).filter(
        (id) => !removed.has(id),
      );
      await client.replaceGroup(groupLink.remoteId, {
        ...desiredScimGroup({ id: groupId, displayName }),
        members: [...new Set([...kept, ...desired.values()])].map((value) => ({ value })),
      });
      requests++;
    }
    await this.store.addRemoteMembers(appId, groupId, toAdd);
    await this.store.removeRemoteMembers(appId, groupId, toRemove);
    return { added: toAdd.length, removed: toRemove.length, requests };
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
    const client = this.targets.clientFor(app);
    const patch = (await this.targets.capabilities(app, client)).patch;
    let joined = 0;
    for (const groupLink of groupLinks) {
      if (!groupLink.remoteId) continue;
      if (patch) {
        await client.patchGroup(groupLink.remoteId, [
          { op: 'add', path: 'members', value: [{ value: userLink.remoteId }] },
        ]);
        await this.store.addRemoteMembers(appId, groupLink.localId, [userId]);
      } else {
        await this.syncMembers(appId, groupLink.localId);
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
    const client = this.targets.clientFor(app);
    if ((await this.targets.capabilities(app, client)).patch) {
      await client.patchGroup(link.remoteId, [
        { op: 'replace', path: 'displayName', value: group.displayName },
      ]);
    } else {
      await client.replaceGroup(link.remoteId, {
        ...desiredScimGroup(group),
        members: (await this.remoteMemberIdsOf(client, link.remoteId)).map((value) => ({ value })),
      });
    }
    await this.store.saveLink({
      ...link,
      lastPushed: { displayName: group.displayName },
      status: 'synced',
      lastError: null,
    });
    return { written: true };
  }

  /** Deletes the remote group; one already gone (404) counts as deleted. Forgets the link and memberships. */
  async delete(appId: string, groupId: string): Promise<{ written: boolean }> {
    const app = await this.targets.app(appId);
    const link = await this.store.getLink(appId, 'Group', groupId);
    if (!link?.remoteId) return { written: false };
    try {
      await this.targets.clientFor(app).deleteGroup(link.remoteId);
    } catch (error) {
      if (!(error instanceof ScimError && error.kind === 'not-found')) throw error;
    }
    await this.forgetLink(appId, groupId);
    return { written: true };
  }

  async forgetLink(appId: string, groupId: string): Promise<void> {
    await this.store.forgetRemoteMembershipsOfGroup(appId, groupId);
    await this.store.deleteLink(appId, 'Group', groupId);
  }

  /**
   * A PUT replaces the whole member list, so targets without PATCH get what they hold now, members scimflow does
   * not manage included, changed only where scimflow means to change it.
   */
  private async remoteMemberIdsOf(client: ScimClient, remoteId: string): Promise<string[]> {
    return ((await client.getGroup(remoteId, { withMembers: true })).members ?? []).map(
      (member) => member.value,
    );
  }

  async recordFailure(appId: string, groupId: string, message: string): Promise<void> {
    await this.store.saveLink({
      appId,
      resourceType: 'Group',
      localId: groupId,
      status: 'failed',
      lastError: message,
    });
  }

  private async load(appId: string, groupId: string): Promise<{ app: DirectoryApp; group: DirectoryGroup }> {
    const app = await this.targets.app(appId);
    const group = await this.store.getGroup(groupId);
    if (!group) throw new RecordGoneError('group', groupId);
    return { app, group };
  }
}
