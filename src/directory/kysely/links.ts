import type { RemoteLink, ResourceType } from '../model';
import type { LinkStore } from '../store';
import { now, slices } from './conventions';
import type { Db, Tables } from './tables';

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
  };
}
