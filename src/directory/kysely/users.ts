import { randomUUID } from 'node:crypto';
import { DuplicateError } from '../errors';
import type { DirectoryUser, UserAttributes } from '../model';
import { nameKey } from '../names';
import type { UserStore } from '../store';
import { now, refusingDuplicates, slices } from './conventions';
import type { StoreDialect } from './dialect';
import { type Db, inTransaction, type Tables } from './tables';

function toUser(row: Tables['users']): DirectoryUser {
  return { id: row.id, ...JSON.parse(row.attributes), createdAt: row.created_at, updatedAt: row.updated_at };
}

export function userQueries(db: Db, dialect: StoreDialect): UserStore {
  const duplicateUserName = (userName: string) => () => new DuplicateError('user', 'userName', userName);

  return {
    async createUser(attributes) {
      const timestamp = now();
      const id = randomUUID();
      await refusingDuplicates(
        db
          .insertInto('users')
          .values({
            id,
            user_name: attributes.userName,
            user_name_key: nameKey(attributes.userName),
            attributes: JSON.stringify(attributes),
            created_at: timestamp,
            updated_at: timestamp,
          })
          .execute(),
        dialect.isUniqueViolation,
        duplicateUserName(attributes.userName),
      );
      return { id, ...attributes, createdAt: timestamp, updatedAt: timestamp };
    },

    async getUser(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toUser(row) : null;
    },

    async getUsers(ids) {
      const users: DirectoryUser[] = [];
      for (const slice of slices([...new Set(ids)])) {
        const rows = await db.selectFrom('users').selectAll().where('id', 'in', slice).execute();
        users.push(...rows.map(toUser));
      }
      return users;
    },

    async findUserByUserName(userName) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('user_name_key', '=', nameKey(userName))
        .executeTakeFirst();
      return row ? toUser(row) : null;
    },

    async listUsers({ offset, limit }) {
      const rows = await db
        .selectFrom('users')
        .selectAll()
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute();
      const { total } = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('total'))
        .executeTakeFirstOrThrow();
      return { items: rows.map(toUser), total: Number(total) };
    },

    async updateUser(id, patch) {
      return inTransaction(db, async (trx) => {
        const row = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) return null;
        const before = toUser(row);
        const { id: _id, createdAt: _c, updatedAt: _u, ...current } = before;
        const attributes: UserAttributes = { ...current, ...patch };
        const updatedAt = now();
        // The key is only recomputed on a rename: a duplicate kept by migration 0005 (whose key carries its id)
        // can still be edited, deactivated or deleted.
        const renamed = attributes.userName !== before.userName;
        await refusingDuplicates(
          trx
            .updateTable('users')
            .set({
              user_name: attributes.userName,
              ...(renamed ? { user_name_key: nameKey(attributes.userName) } : {}),
              attributes: JSON.stringify(attributes),
              updated_at: updatedAt,
            })
            .where('id', '=', id)
            .execute(),
          dialect.isUniqueViolation,
          duplicateUserName(attributes.userName),
        );
        return { before, after: { id, ...attributes, createdAt: before.createdAt, updatedAt } };
      });
    },

    async deleteUser(id) {
      return inTransaction(db, async (trx) => {
        const row = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) return null;
        await trx.deleteFrom('users').where('id', '=', id).execute();
        return toUser(row);
      });
    },
  };
}
