import { randomUUID } from 'node:crypto';
import { DuplicateError } from '../errors';
import type { DirectoryGroup } from '../model';
import { nameKey } from '../names';
import type { GroupStore } from '../store';
import { assertExist, deleted, inserted, now, refusingDuplicates, slices } from './conventions';
import type { StoreDialect } from './dialect';
import { type Db, inTransaction } from './tables';

async function readGroup(db: Db, id: string): Promise<DirectoryGroup | null> {
  const row = await db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  const members = await db.selectFrom('group_members').select('user_id').where('group_id', '=', id).execute();
  return {
    id: row.id,
    displayName: row.display_name,
    memberIds: members.map((member) => member.user_id),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function insertMembers(db: Db, groupId: string, userIds: string[]): Promise<void> {
  for (const slice of slices(userIds)) {
    await db
      .insertInto('group_members')
      .values(slice.map((userId) => ({ group_id: groupId, user_id: userId })))
      .execute();
  }
}

export function groupQueries(db: Db, dialect: StoreDialect): GroupStore {
  const duplicateDisplayName = (displayName: string) => () =>
    new DuplicateError('group', 'displayName', displayName);

  return {
    async createGroup(input) {
      const id = randomUUID();
      const timestamp = now();
      const memberIds = [...new Set(input.memberIds ?? [])];
      await inTransaction(db, async (trx) => {
        await assertExist(trx, 'user', memberIds);
        await refusingDuplicates(
          trx
            .insertInto('groups')
            .values({
              id,
              display_name: input.displayName,
              display_name_key: nameKey(input.displayName),
              created_at: timestamp,
              updated_at: timestamp,
            })
            .execute(),
          dialect.isUniqueViolation,
          duplicateDisplayName(input.displayName),
        );
        await insertMembers(trx, id, memberIds);
      });
      return { id, displayName: input.displayName, memberIds, createdAt: timestamp, updatedAt: timestamp };
    },

    async getGroup(id) {
      return readGroup(db, id);
    },

    async findGroupByDisplayName(displayName) {
      const row = await db
        .selectFrom('groups')
        .select('id')
        .where('display_name_key', '=', nameKey(displayName))
        .executeTakeFirst();
      return row ? readGroup(db, row.id) : null;
    },

    async listGroups({ offset, limit }) {
      const rows = await db
        .selectFrom('groups')
        .select('id')
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute();
      const items: DirectoryGroup[] = [];
      for (const row of rows) {
        const group = await readGroup(db, row.id);
        if (group) items.push(group);
      }
      const { total } = await db
        .selectFrom('groups')
        .select((eb) => eb.fn.countAll<number>().as('total'))
        .executeTakeFirstOrThrow();
      return { items, total: Number(total) };
    },

    async updateGroup(id, patch) {
      return inTransaction(db, async (trx) => {
        const group = await readGroup(trx, id);
        if (!group) return null;
        const renamed = patch.displayName !== undefined && patch.displayName !== group.displayName;
        if (renamed) {
          const displayName = patch.displayName as string;
          await refusingDuplicates(
            trx
              .updateTable('groups')
              .set({ display_name: displayName, display_name_key: nameKey(displayName) })
              .where('id', '=', id)
              .execute(),
            dialect.isUniqueViolation,
            duplicateDisplayName(displayName),
          );
        }
        let added: string[] = [];
        let removed: string[] = [];
        if (patch.memberIds) {
          const desired = [...new Set(patch.memberIds)];
          await assertExist(trx, 'user', desired);
          const current = new Set(group.memberIds);
          const wanted = new Set(desired);
          added = desired.filter((userId) => !current.has(userId));
          removed = group.memberIds.filter((userId) => !wanted.has(userId));
          await insertMembers(trx, id, added);
          for (const slice of slices(removed)) {
            await trx
              .deleteFrom('group_members')
              .where('group_id', '=', id)
              .where('user_id', 'in', slice)
              .execute();
          }
        }
        if (renamed || added.length || removed.length) {
          await trx.updateTable('groups').set({ updated_at: now() }).where('id', '=', id).execute();
        }
        const updated = await readGroup(trx, id);
        return { group: updated as DirectoryGroup, renamed, added, removed };
      });
    },

    async addGroupMember(groupId, userId) {
      const result = await db
        .insertInto('group_members')
        .values({ group_id: groupId, user_id: userId })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return inserted(result);
    },

    async removeGroupMember(groupId, userId) {
      const result = await db
        .deleteFrom('group_members')
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return deleted(result);
    },

    async deleteGroup(id) {
      return inTransaction(db, async (trx) => {
        const group = await readGroup(trx, id);
        if (!group) return null;
        await trx.deleteFrom('groups').where('id', '=', id).execute();
        return group;
      });
    },

    async groupIdsOfUser(userId) {
      const rows = await db
        .selectFrom('group_members')
        .select('group_id')
        .where('user_id', '=', userId)
        .execute();
      return rows.map((row) => row.group_id);
    },
  };
}
