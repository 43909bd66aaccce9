import type { AssignmentStore } from '../store';
import { deleted, inserted } from './conventions';
import type { Db } from './tables';

/** `app_groups`, and through `group_members` whom each app holds. */
export function assignmentQueries(db: Db): AssignmentStore {
  return {
    async assignGroup(appId, groupId) {
      const result = await db
        .insertInto('app_groups')
        .values({ app_id: appId, group_id: groupId })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return inserted(result);
    },

    async unassignGroup(appId, groupId) {
      const result = await db
        .deleteFrom('app_groups')
        .where('app_id', '=', appId)
        .where('group_id', '=', groupId)
        .executeTakeFirst();
      return deleted(result);
    },

    async assignedGroupIds(appId) {
      const rows = await db.selectFrom('app_groups').select('group_id').where('app_id', '=', appId).execute();
      return rows.map((row) => row.group_id);
    },

    async appIdsAssignedGroup(groupId) {
      const rows = await db
        .selectFrom('app_groups')
        .select('app_id')
        .where('group_id', '=', groupId)
        .execute();
      return rows.map((row) => row.app_id);
    },

    async appIdsHoldingUser(userId) {
      const rows = await db
        .selectFrom('app_groups')
        .innerJoin('group_members', 'group_members.group_id', 'app_groups.group_id')
        .select('app_groups.app_id')
        .distinct()
        .where('group_members.user_id', '=', userId)
        .execute();
      return rows.map((row) => row.app_id);
    },

    async assignedGroupIdsOfUser(appId, userId) {
      const rows = await db
        .selectFrom('app_groups')
        .innerJoin('group_members', 'group_members.group_id', 'app_groups.group_id')
        .select('app_groups.group_id')
        .where('app_groups.app_id', '=', appId)
        .where('group_members.user_id', '=', userId)
        .execute();
      return rows.map((row) => row.group_id);
    },

    async userIdsHeldByApp(appId) {
      const rows = await db
        .selectFrom('app_groups')
        .innerJoin('group_members', 'group_members.group_id', 'app_groups.group_id')
        .select('group_members.user_id')
        .distinct()
        .where('app_groups.app_id', '=', appId)
        .execute();
      return rows.map((row) => row.user_id);
    },
  };
}
