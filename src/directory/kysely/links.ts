import type { RemoteLink, ResourceType } from '../model';
import type { CreationClaim, LinkKey, LinkStore } from '../store';
import { inserted, now, slices } from './conventions';
import { type Db, inTransaction, type Tables } from './tables';

type LinkRow = Tables['remote_links'];

function toLink(row: LinkRow): RemoteLink {
  return {
    appId: row.app_id,
    resourceType: row.resource_type as ResourceType,
    localId: row.local_id,
    remoteId: row.remote_id,
    lastPushed: row.last_pushed ? JSON.parse(row.last_pushed) : null,
    status: row.status as RemoteLink['status'],
    lastError: row.last_error,
    updatedAt: row.updated_at,
  };
}

async function readLink(
  db: Db,
  appId: string,
  resourceType: ResourceType,
  localId: string,
): Promise<RemoteLink | null> {
  const row = await db
    .selectFrom('remote_links')
    .selectAll()
    .where('app_id', '=', appId)
    .where('resource_type', '=', resourceType)
    .where('local_id', '=', localId)
    .executeTakeFirst();
  return row ? toLink(row) : null;
}

async function linkedRemoteId(db: Db, key: LinkKey): Promise<string | null> {
  return (await readLink(db, key.appId, key.resourceType, key.localId))?.remoteId ?? null;
}

/**
 * Takes the claim when it is free, ours, a sibling's that has been quiet long enough, or expired. The writes decide,
 * not a read: an INSERT that ignores conflicts takes a free key, and an UPDATE conditional on the holder, its age or
 * the expiry takes a claim over, so two claimants in two processes cannot both win, whatever the isolation level. `lookFirst` is whether a
 * claim was there before (its POST may have landed).
 */
async function takeClaim(
  db: Db,
  key: LinkKey,
  claimant: string,
  ttlMs: number,
  sibling?: { prefix: string; quietMs: number },
): Promise<CreationClaim> {
  const claimedAt = new Date();
  const row = {
    app_id: key.appId,
    resource_type: key.resourceType,
    local_id: key.localId,
    claimant,
    claimed_at: claimedAt.toISOString(),
    expires_at: new Date(claimedAt.getTime() + ttlMs).toISOString(),
  };
  const insert = await db
    .insertInto('creation_claims')
    .values(row)
    .onConflict((oc) => oc.columns(['app_id', 'resource_type', 'local_id']).doNothing())
    .executeTakeFirst();
  if (inserted(insert)) return { outcome: 'claimed', lookFirst: false };
  const takeover = await db
    .updateTable('creation_claims')
    .set({ claimant, claimed_at: row.claimed_at, expires_at: row.expires_at })
    .where('app_id', '=', key.appId)
    .where('resource_type', '=', key.resourceType)
    .where('local_id', '=', key.localId)
    .where((eb) =>
      eb.or([
        eb('claimant', '=', claimant),
        eb('expires_at', '<=', row.claimed_at),
        ...(sibling
          ? [
              eb.and([
                eb(
                  eb.fn('substr', ['claimant', eb.lit(1), eb.lit(sibling.prefix.length)]),
                  '=',
                  sibling.prefix,
                ),
                eb('claimed_at', '<=', new Date(claimedAt.getTime() - sibling.quietMs).toISOString()),
              ]),
            ]
          : []),
      ]),
    )
    .executeTakeFirst();
  if (Number(takeover.numUpdatedRows) > 0) return { outcome: 'claimed', lookFirst: true };
  const holder = await db
    .selectFrom('creation_claims')
    .select(['claimant', 'expires_at'])
    .where('app_id', '=', key.appId)
    .where('resource_type', '=', key.resourceType)
    .where('local_id', '=', key.localId)
    .executeTakeFirst();
  // Gone between the statements (only where a transaction sees others' commits, as PostgreSQL's read committed
  // does): the holder let go, so the key is free again.
  if (!holder) return takeClaim(db, key, claimant, ttlMs, sibling);
  return { outcome: 'busy', claimant: holder.claimant, expiresAt: holder.expires_at };
}

async function releaseClaim(db: Db, key: LinkKey, claimant: string): Promise<void> {
  await db
    .deleteFrom('creation_claims')
    .where('app_id', '=', key.appId)
    .where('resource_type', '=', key.resourceType)
    .where('local_id', '=', key.localId)
    .where('claimant', '=', claimant)
    .execute();
}

/** `remote_links` and `remote_memberships`: what scimflow wrote to each app, which outlives the directory record. */
export function linkQueries(db: Db): LinkStore {
  return {
    async getLink(appId, resourceType, localId) {
      return readLink(db, appId, resourceType, localId);
    },

    async getLinks(appId, resourceType, localIds) {
      const links: RemoteLink[] = [];
      for (const slice of slices([...new Set(localIds)])) {
        const rows = await db
          .selectFrom('remote_links')
          .selectAll()
          .where('app_id', '=', appId)
          .where('resource_type', '=', resourceType)
          .where('local_id', 'in', slice)
          .execute();
        links.push(...rows.map(toLink));
      }
      return links;
    },

    async listLinks(appId) {
      const rows = await db
        .selectFrom('remote_links')
        .selectAll()
        .where('app_id', '=', appId)
        .orderBy('resource_type')
        .orderBy('updated_at')
        .execute();
      return rows.map(toLink);
    },

    /** Creates the link, or updates the fields the update names (and always its status). */
    async saveLink(update) {
      const row: LinkRow = {
        app_id: update.appId,
        resource_type: update.resourceType,
        local_id: update.localId,
        remote_id: update.remoteId ?? null,
        last_pushed: update.lastPushed ? JSON.stringify(update.lastPushed) : null,
        status: update.status,
        last_error: update.lastError ?? null,
        updated_at: now(),
      };
      const changes: Partial<LinkRow> = { updated_at: row.updated_at };
      if (update.remoteId !== undefined) changes.remote_id = row.remote_id;
      if (update.lastPushed !== undefined) changes.last_pushed = row.last_pushed;
      changes.status = row.status;
      if (update.lastError !== undefined) changes.last_error = row.last_error;
      await db
        .insertInto('remote_links')
        .values(row)
        .onConflict((oc) => oc.columns(['app_id', 'resource_type', 'local_id']).doUpdateSet(changes))
        .execute();
      const saved = await readLink(db, update.appId, update.resourceType, update.localId);
      if (!saved) throw new Error('remote link vanished while being saved');
      return saved;
    },

    async deleteLink(appId, resourceType, localId) {
      await db
        .deleteFrom('remote_links')
        .where('app_id', '=', appId)
        .where('resource_type', '=', resourceType)
        .where('local_id', '=', localId)
        .execute();
      // What the app managed of that object says nothing of the next one created for it.
      await db
        .deleteFrom('app_managed_attributes')
        .where('app_id', '=', appId)
        .where('resource_type', '=', resourceType)
        .where('local_id', '=', localId)
        .execute();
    },

    async claimCreation(key, claimant, ttlMs, sibling) {
      return inTransaction(db, async (trx) => {
        const remoteId = await linkedRemoteId(trx, key);
        if (remoteId) return { outcome: 'linked', remoteId };
        const claim = await takeClaim(trx, key, claimant, ttlMs, sibling);
        if (claim.outcome !== 'claimed') return claim;
        // A holder links before it lets go, so a link saved since the first read means the object exists. Under
        // SQLite's write lock nothing can have changed; where statements see others' commits, this closes the gap.
        const linkedMeanwhile = await linkedRemoteId(trx, key);
        if (!linkedMeanwhile) return claim;
        await releaseClaim(trx, key, claimant);
        return { outcome: 'linked', remoteId: linkedMeanwhile };
      });
    },

    async releaseCreationClaim(key, claimant) {
      await releaseClaim(db, key, claimant);
    },

    async expireCreationClaim(key, claimant) {
      await db
        .updateTable('creation_claims')
        .set({ expires_at: new Date().toISOString() })
        .where('app_id', '=', key.appId)
        .where('resource_type', '=', key.resourceType)
        .where('local_id', '=', key.localId)
        .where('claimant', '=', claimant)
        .execute();
    },

    async hasCreationClaim(key) {
      const row = await db
        .selectFrom('creation_claims')
        .select('claimant')
        .where('app_id', '=', key.appId)
        .where('resource_type', '=', key.resourceType)
        .where('local_id', '=', key.localId)
        .executeTakeFirst();
      return row !== undefined;
    },

    async remoteMemberIds(appId, groupId) {
      const rows = await db
        .selectFrom('remote_memberships')
        .select('user_id')
        .where('app_id', '=', appId)
        .where('group_id', '=', groupId)
        .execute();
      return rows.map((row) => row.user_id);
    },

    async addRemoteMembers(appId, groupId, userIds) {
      for (const slice of slices(userIds)) {
        await db
          .insertInto('remote_memberships')
          .values(slice.map((userId) => ({ app_id: appId, group_id: groupId, user_id: userId })))
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
    },

    async removeRemoteMembers(appId, groupId, userIds) {
      for (const slice of slices(userIds)) {
        await db
          .deleteFrom('remote_memberships')
          .where('app_id', '=', appId)
          .where('group_id', '=', groupId)
          .where('user_id', 'in', slice)
          .execute();
      }
    },

    async remoteGroupIdsOfUser(appId, userId) {
      const rows = await db
        .selectFrom('remote_memberships')
        .select('group_id')
        .where('app_id', '=', appId)
        .where('user_id', '=', userId)
        .execute();
      return rows.map((row) => row.group_id);
    },

    async forgetRemoteMembershipsOfUser(appId, userId) {
      await db
        .deleteFrom('remote_memberships')
        .where('app_id', '=', appId)
        .where('user_id', '=', userId)
        .execute();
    },

    async forgetRemoteMembershipsOfGroup(appId, groupId) {
      await db
        .deleteFrom('remote_memberships')
        .where('app_id', '=', appId)
        .where('group_id', '=', groupId)
        .execute();
    },

    async markMemberWritesInFlight(appId, groupId, userIds) {
      for (const slice of slices(userIds)) {
        await db
          .insertInto('member_writes_in_flight')
          .values(slice.map((userId) => ({ app_id: appId, group_id: groupId, user_id: userId })))
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
    },

    async settleMemberWrites(appId, groupId, userIds) {
      for (const slice of slices(userIds)) {
        await db
          .deleteFrom('member_writes_in_flight')
          .where('app_id', '=', appId)
          .where('group_id', '=', groupId)
          .where('user_id', 'in', slice)
          .execute();
      }
    },

    async memberWritesInFlightOfUser(appId, userId) {
      const rows = await db
        .selectFrom('member_writes_in_flight')
        .select('group_id')
        .where('app_id', '=', appId)
        .where('user_id', '=', userId)
        .execute();
      return rows.map((row) => row.group_id);
    },

    async memberWritesInFlightToGroup(appId, groupId) {
      const rows = await db
        .selectFrom('member_writes_in_flight')
        .select('user_id')
        .where('app_id', '=', appId)
        .where('group_id', '=', groupId)
        .execute();
      return rows.map((row) => row.user_id);
    },
  };
}
