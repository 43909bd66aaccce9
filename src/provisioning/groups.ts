import { createHash } from 'node:crypto';
import { CreationInProgressError, RecordGoneError } from './errors';
import type { DirectoryApp, DirectoryGroup, ProvisioningSwitches, RemoteLink } from '../directory/model';
import { nameKey } from '../directory/names';
import { isGroupInAppScope } from '../directory/scope';
import type { DirectoryStore } from '../directory/store';
import { runLimited } from './concurrency';
import { CREATION_CLAIM_TTL_MS, creationHere, groupKey, Links, userKey } from './links';
import { desiredScimGroup } from './mapping';
import { createOrAdopt, deleteLinked, memberWrites, renameRemoteGroup } from './remoteWrites';
import type { Target, Targets } from './targets';
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

/**
 * How often a bulk call looks again at members whose creation another path holds. Overlapping groups assigned at
 * once meet at the same users all the time; their creators are mostly in this process and wake the waiters at once
 * (`creationHere`), so this only paces the wait for claims held by other processes.
 */
const CLAIM_POLL_MS = 500;
/** How often a claim held elsewhere is asked again before it expires (its holder may let go without a link). */
const CLAIM_RECHECK_MS = 5_000;

/**
 * The members in a fixed order that starts at a place of the group's own: groups assigned at once and sharing
 * members then mostly reach different members first, and find the shared ones already linked, instead of all
 * contending for the same ones in the same order.
 */
function startingAt(sortedIds: string[], groupId: string): string[] {
  if (sortedIds.length === 0) return sortedIds;
  const offset = createHash('sha256').update(groupId).digest().readUInt32BE(0) % sortedIds.length;
  return [...sortedIds.slice(offset), ...sortedIds.slice(0, offset)];
}

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

  /**
   * Groups are matched on displayName, as Entra ID does; a hit is adopted instead of created again. The app's
   * groups are looked up in a listing shared by this process's group creations when one page holds them all
   * (100 groups assigned at once cost one request), otherwise with a filtered GET; `fresh` always asks the target.
   */
  async findAndLink(
    appId: string,
    groupId: string,
    options: { fresh?: boolean } = {},
  ): Promise<{ remoteId: string } | null> {
    const { app, group } = await this.load(appId, groupId);
    const target = this.targets.connect(app);
    const listing = options.fresh ? null : await this.targets.remoteIndex(app).groupsFor(target);
    const remote = listing
      ? listing.take(nameKey(group.displayName), groupId)
      : await target.client.findGroupByDisplayName(group.displayName);
    if (!remote) return null;
    await this.links.groupLinked(groupKey(appId, groupId), remote.id, remote.displayName);
    return { remoteId: remote.id };
  }

  /**
   * POSTs the group, empty, and links it, under a creation claim (`Links.createOnce`): a group another path linked
   * meanwhile is adopted, and one whose earlier creation may have landed is looked up first (with a filtered
   * GET: a listing may predate that creation). A 409 means the group exists although the listing did not show
   * it: the listing is dropped, and the group found with a filtered GET is adopted.
   */
  async createAndLink(appId: string, groupId: string, claimant: string): Promise<{ remoteId: string }> {
    const { app, group } = await this.load(appId, groupId);
    const key = groupKey(appId, groupId);
    const { linked } = await createOrAdopt(
      () =>
        this.links.createOnce(key, claimant, app.timeoutMs, {
          linked: (remoteId) => ({ remoteId }),
          find: () => this.findAndLink(appId, groupId, { fresh: true }),
          create: async () => {
            const created = await this.targets.clientFor(app).createGroup(desiredScimGroup(group));
            await this.links.groupLinked(key, created.id, group.displayName);
            return { remoteId: created.id };
          },
        }),
      () => {
        this.targets.remoteIndex(app).forgetGroups();
        return this.findAndLink(appId, groupId, { fresh: true });
      },
    );
    return linked;
  }

  /**
   * Gives every member of the group a remote id: adopted when the target already has the user, created when
   * the app allows creating users. Members already linked cost nothing, so a retried call resumes where the
   * previous one stopped. Many members to find are looked up in one listing of the app's users, shared by the
   * bulk calls of this process, when that costs fewer requests than a filtered GET each (`UserProvisioning.
   * listingFor`). A member another path is creating right now (another group's call holding the same user) is
   * waited for once the others are done, and adopted when its creator has linked it; only a claim that outlives
   * `CREATION_CLAIM_TTL_MS` ends the call with `CreationInProgressError` (retried). `onProgress` is called after
   * each member and while waiting, for heartbeats.
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
    const pending = startingAt(
      members
        .filter((member) => member.active && !alreadyLinked.has(member.id))
        .map((member) => member.id)
        .sort((a, b) => a.localeCompare(b)),
      groupId,
    );
    const target = this.targets.connect(app);
    const listing = await this.users.listingFor(target, pending.length);
    const creations = this.targets.bulkCreations(app);
    const busy = new Map<string, CreationInProgressError>();
    let done = 0;
    const provision = async (userId: string) => {
      // Another call of this process creating the member (a group sharing it) links it for this one too: wait for
      // it, then a read says so, without a claim of our own that would only find it busy or linked.
      await creationHere(userKey(appId, userId));
      if ((await this.store.getLink(appId, 'User', userId))?.remoteId) {
        busy.delete(userId);
        counts.adopted++;
        options.onProgress?.(++done);
        return;
      }
      const result = await creations.run(() => this.users.provisionInBulk(target, userId, claimant, listing));
      if (result.outcome === 'busy') busy.set(userId, result.claim);
      else {
        busy.delete(userId);
        counts[result.outcome]++;
        options.onProgress?.(++done);
      }
    };
    const { failure } = await runLimited(pending, MEMBER_PROVISIONING_CONCURRENCY, provision);
    if (failure) throw failure.error;
    await this.awaitClaimedMembers(
      target,
      busy,
      async (userIds) => {
        const settled = await runLimited(userIds, MEMBER_PROVISIONING_CONCURRENCY, provision);
        if (settled.failure) throw settled.failure.error;
      },
      (adopted) => {
        counts.adopted += adopted;
        done += adopted;
      },
      () => options.onProgress?.(done),
    );
    return counts;
  }

  /**
   * Waits for the members whose creation claim another path holds (`busy`), within the same call: each is adopted
   * as soon as its creator has linked it (no request), or tried again (`retry`) when its claim has expired, when
   * the holder may have let go without a link, or when this process's own creation of it has ended. After
   * `CREATION_CLAIM_TTL_MS` (by which time every claim seen busy has expired, unless its holder took it anew) the
   * first claim still held ends the call. `adopted` is told of each member adopted, and heartbeats go on.
   */
  private async awaitClaimedMembers(
    target: Target,
    busy: Map<string, CreationInProgressError>,
    retry: (userIds: string[]) => Promise<void>,
    adopted: (count: number) => void,
    onProgress: () => void,
  ): Promise<void> {
    const appId = target.app.id;
    const deadline = Date.now() + CREATION_CLAIM_TTL_MS;
    let lastRecheck = Date.now();
    const heldHere = new Set<string>();
    while (busy.size > 0) {
      const ownCreations = [...busy.keys()].flatMap((userId) => {
        const creation = creationHere(userKey(appId, userId));
        if (creation) heldHere.add(userId);
        return creation ? [creation] : [];
      });
      // Woken when this process's creations of them have all ended, or after the poll interval.
      await Promise.race([sleep(CLAIM_POLL_MS), ...(ownCreations.length ? [Promise.all(ownCreations)] : [])]);
      const links = await this.store.getLinks(appId, 'User', [...busy.keys()]);
      const linked = links.filter((link) => link.remoteId).map((link) => link.localId);
      for (const userId of linked) busy.delete(userId);
      if (linked.length) adopted(linked.length);
      const now = Date.now();
      const recheckAll = now - lastRecheck >= CLAIM_RECHECK_MS || now >= deadline;
      if (recheckAll) lastRecheck = now;
      // Asked again: an expired claim, a creation of this process that ended without a link, and now and then
      // every claim (a holder elsewhere may have let go without a link, after a POST refused for good).
      const again = [...busy.entries()].flatMap(([userId, claim]) =>
        recheckAll ||
        Date.parse(claim.holder.expiresAt) <= now ||
        (heldHere.has(userId) && !creationHere(userKey(appId, userId)))
          ? [userId]
          : [],
      );
      if (again.length) await retry(again);
      if (Date.now() >= deadline && busy.size > 0) throw [...busy.values()][0];
      onProgress();
    }
  }

  /**
   * Brings the remote group's members in line with the directory, writing only the difference from what
   * scimflow last wrote, in PATCHes of at most the app's batch size. Members without a remote id yet are left
   * for their own provisioning, which joins them to their groups: a member is never sent before it exists.
   * Those are answered (`unprovisioned`: active, never linked, and the app creates users), since a member that
   * another group's bulk provisioning is creating is joined by it to that group only: the caller issues each a
   * provisionUser intent, which waits for a creation under way and joins the user to all its groups.
   */
  async syncMembers(appId: string, groupId: string): Promise<MembershipChange & { unprovisioned: string[] }> {
    const app = await this.targets.app(appId);
    const groupLink = await this.store.getLink(appId, 'Group', groupId);
    if (!groupLink?.remoteId) throw new Error(`group ${groupId} has no remote link in app ${appId}`);
    const remoteGroupId = groupLink.remoteId;
    const { group, desired, unprovisioned } = await this.desiredMembers(app, groupId);
    const displayName = group?.displayName ?? String(groupLink.lastPushed?.displayName ?? '');
    const first = await this.writeMembers(app, { id: groupId, displayName }, remoteGroupId, desired);
    // The members were read before the writes. A user who joined since then may have been added by its own join
    // (on its lane, recorded) before this sync's remove reached the app, and the record no longer says so: read
    // again (only when it removed someone), and add back whoever it removed and is a member now, whatever the
    // record says.
    const now = first.removedUserIds.length ? await this.desiredMembers(app, groupId) : undefined;
    const removedButWanted = first.removedUserIds.filter((userId) => now?.desired.has(userId));
    const again =
      now && removedButWanted.length
        ? await this.writeMembers(
            app,
            { id: groupId, displayName },
            remoteGroupId,
            now.desired,
            removedButWanted,
          )
        : { added: 0, removed: 0, requests: 0 };
    return {
      added: first.added + again.added,
      removed: first.removed + again.removed,
      requests: first.requests + again.requests,
      unprovisioned,
    };
  }

  /** The group's members that have a remote id (user id → remote id), and those still to be provisioned. */
  private async desiredMembers(app: DirectoryApp, groupId: string) {
    const group = await this.store.getGroup(groupId);
    const memberIds = group?.memberIds ?? [];
    const memberLinks = await this.store.getLinks(app.id, 'User', memberIds);
    const desired = new Map(
      memberLinks.filter((l) => l.remoteId).map((l) => [l.localId, l.remoteId as string]),
    );
    const unprovisioned = await this.unprovisionedMembers(app, memberIds, memberLinks);
    return { group, desired, unprovisioned };
  }

  private async unprovisionedMembers(
    app: DirectoryApp,
    memberIds: string[],
    memberLinks: RemoteLink[],
  ): Promise<string[]> {
    if (!app.provisioning.createUsers) return [];
    const linked = new Set(memberLinks.map((link) => link.localId));
    const candidates = memberIds.filter((userId) => !linked.has(userId));
    if (candidates.length === 0) return [];
    return (await this.store.getUsers(candidates)).filter((user) => user.active).map((user) => user.id);
  }

  /**
   * Sends what differs between `desired` (user id → remote id) and what scimflow last wrote to the group; members
   * in `unsure` are sent whatever the record says of them.
   */
  private async writeMembers(
    app: DirectoryApp,
    group: { id: string; displayName: string },
    remoteGroupId: string,
    desired: Map<string, string>,
    alsoUnsure: string[] = [],
  ): Promise<MembershipChange & { removedUserIds: string[] }> {
    const appId = app.id;
    const groupId = group.id;
    // Writes a dying process may have left on the wire make those members unsure, whatever the record says:
    // removed if unwanted, sent again if wanted.
    const inFlight = await this.store.memberWritesInFlightToGroup(appId, groupId);
    const unsure = new Set([...inFlight, ...alsoUnsure]);
    const recorded = await this.store.remoteMemberIds(appId, groupId);
    const confirmed = new Set(recorded.filter((userId) => !unsure.has(userId)));
    const toAdd = [...desired.keys()].filter((userId) => !confirmed.has(userId));
    const toRemove = [...new Set([...recorded, ...inFlight])].filter((userId) => !desired.has(userId));
    if (toAdd.length === 0 && toRemove.length === 0)
      return { added: 0, removed: 0, requests: 0, removedUserIds: [] };

    const removedLinks = await this.store.getLinks(appId, 'User', toRemove);
    const removable = new Map(
      removedLinks.filter((l) => l.remoteId).map((l) => [l.localId, l.remoteId as string]),
    );
    const writes = await memberWrites(this.targets.connect(app), remoteGroupId, group, {
      add: toAdd.map((userId) => desired.get(userId) as string),
      remove: toRemove.flatMap((userId) => (removable.has(userId) ? [removable.get(userId) as string] : [])),
      wanted: [...desired.values()],
    });
    await this.store.markMemberWritesInFlight(appId, groupId, [...toAdd, ...toRemove]);
    for (const write of writes) await write.send();
    await this.store.addRemoteMembers(appId, groupId, toAdd);
    await this.store.removeRemoteMembers(appId, groupId, toRemove);
    await this.store.settleMemberWrites(appId, groupId, [...new Set([...inFlight, ...toAdd, ...toRemove])]);
    return {
      added: toAdd.length,
      removed: toRemove.length,
      requests: writes.length,
      removedUserIds: toRemove,
    };
  }

  /**
   * Adds one freshly provisioned user to the app's remote groups it belongs to in the directory. Each add is marked
   * in flight before its PATCH and settled after it is recorded, so a process that dies with the PATCH on the wire
   * leaves a mark the retry of this step (or the group's next sync) settles: added again if the user is still a
   * member, removed if it has left meanwhile.
   */
  async joinUserToGroups(appId: string, userId: string): Promise<{ joined: number }> {
    const app = await this.targets.app(appId);
    const userLink = await this.store.getLink(appId, 'User', userId);
    const remoteUserId = userLink?.remoteId;
    if (!remoteUserId) return { joined: 0 };
    const groupIds = await this.store.assignedGroupIdsOfUser(appId, userId);
    const inFlight = new Set(await this.store.memberWritesInFlightOfUser(appId, userId));
    const already = new Set(await this.store.remoteGroupIdsOfUser(appId, userId));
    const target = this.targets.connect(app);
    // A PUT sends the whole member list: a target without PATCH has the group's membership synced instead.
    const patch = await target.patches('groups');
    const links = await this.store.getLinks(appId, 'Group', [...new Set([...groupIds, ...inFlight])]);
    const send = async (groupLink: RemoteLink, change: { add: string[]; remove: string[] }) => {
      const group = { id: groupLink.localId, displayName: String(groupLink.lastPushed?.displayName ?? '') };
      for (const write of await memberWrites(target, groupLink.remoteId as string, group, change)) {
        await write.send();
      }
    };
    let joined = 0;
    for (const groupLink of links.filter((link) => link.remoteId)) {
      const groupId = groupLink.localId;
      if (!patch) {
        if (groupIds.includes(groupId)) joined++;
        await this.syncMembers(appId, groupId);
        await this.store.settleMemberWrites(appId, groupId, [userId]);
        continue;
      }
      if (!groupIds.includes(groupId)) {
        // An add of an earlier attempt may have landed after the user left: take it back.
        await send(groupLink, { add: [], remove: [remoteUserId] });
        await this.store.removeRemoteMembers(appId, groupId, [userId]);
        await this.store.settleMemberWrites(appId, groupId, [userId]);
        continue;
      }
      if (already.has(groupId) && !inFlight.has(groupId)) continue;
      await this.store.markMemberWritesInFlight(appId, groupId, [userId]);
      await send(groupLink, { add: [remoteUserId], remove: [] });
      await this.store.addRemoteMembers(appId, groupId, [userId]);
      await this.store.settleMemberWrites(appId, groupId, [userId]);
      // The user may have left the group since its groups were read above, and that leave's membership sync (on
      // the group's lane, not the user's) may have run before the add was marked, finding nothing to remove.
      // Read after recording: either that sync saw the mark or the record and removes the member, or this sees
      // the leave.
      if (!(await this.store.assignedGroupIdsOfUser(appId, userId)).includes(groupId)) {
        await send(groupLink, { add: [], remove: [remoteUserId] });
        await this.store.removeRemoteMembers(appId, groupId, [userId]);
        continue;
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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
