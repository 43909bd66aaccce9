import { randomUUID } from 'node:crypto';
import { DuplicateError } from '../errors';
import type { EffectiveAccess, Permission, Role } from '../model';
import { nameKey } from '../names';
import type { RoleStore } from '../store';
import { assertExist, deleted, inserted, now, refusingDuplicates, slices } from './conventions';
import type { StoreDialect } from './dialect';
import { type Db, inTransaction, type Tables } from './tables';

function toPermission(row: Tables['permissions']): Permission {
  return {
    key: row.key,
    ...(row.description !== null ? { description: row.description } : {}),
    createdAt: row.created_at,
  };
}

async function readRole(db: Db, id: string): Promise<Role | null> {
  const row = await db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  const permissions = await db
    .selectFrom('role_permissions')
    .select('permission_key')
    .where('role_id', '=', id)
    .orderBy('permission_key')
    .execute();
  const groups = await db.selectFrom('role_groups').select('group_id').where('role_id', '=', id).execute();
  return {
    id: row.id,
    name: row.name,
    permissionKeys: permissions.map((p) => p.permission_key),
    groupIds: groups.map((g) => g.group_id),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function insertRolePermissions(db: Db, roleId: string, keys: string[]): Promise<void> {
  for (const slice of slices(keys)) {
    await db
      .insertInto('role_permissions')
      .values(slice.map((key) => ({ role_id: roleId, permission_key: key })))
      .execute();
  }
}

export function roleQueries(db: Db, dialect: StoreDialect): RoleStore {
  const duplicateRoleName = (name: string) => () => new DuplicateError('role', 'name', name);

  return {
    async createPermission(input) {
      const createdAt = now();
      // The key is the permission's primary key.
      await refusingDuplicates(
        db
          .insertInto('permissions')
          .values({ key: input.key, description: input.description ?? null, created_at: createdAt })
          .execute(),
        (error) => dialect.isUniqueViolation(error) || dialect.isPrimaryKeyViolation(error),
        () => new DuplicateError('permission', 'key', input.key),
      );
      return { ...input, createdAt };
    },

    async listPermissions() {
      const rows = await db.selectFrom('permissions').selectAll().orderBy('key').execute();
      return rows.map(toPermission);
    },

    async getPermission(key) {
      const row = await db.selectFrom('permissions').selectAll().where('key', '=', key).executeTakeFirst();
      return row ? toPermission(row) : null;
    },

    async deletePermission(key) {
      return inTransaction(db, async (trx) => {
        const row = await trx
          .selectFrom('permissions')
          .select('key')
          .where('key', '=', key)
          .executeTakeFirst();
        if (!row) return null;
        const holders = await trx
          .selectFrom('role_permissions')
          .select('role_id')
          .where('permission_key', '=', key)
          .execute();
        await trx.deleteFrom('permissions').where('key', '=', key).execute();
        return { roleIds: holders.map((holder) => holder.role_id) };
      });
    },

    async createRole(input) {
      const id = randomUUID();
      const timestamp = now();
      const permissionKeys = [...new Set(input.permissionKeys ?? [])];
      const groupIds = [...new Set(input.groupIds ?? [])];
      await inTransaction(db, async (trx) => {
        await assertExist(trx, 'permission', permissionKeys);
        await assertExist(trx, 'group', groupIds);
        await refusingDuplicates(
          trx
            .insertInto('roles')
            .values({
              id,
              name: input.name,
              name_key: nameKey(input.name),
              created_at: timestamp,
              updated_at: timestamp,
            })
            .execute(),
          dialect.isUniqueViolation,
          duplicateRoleName(input.name),
        );
        await insertRolePermissions(trx, id, permissionKeys);
        for (const slice of slices(groupIds)) {
          await trx
            .insertInto('role_groups')
            .values(slice.map((groupId) => ({ role_id: id, group_id: groupId })))
            .execute();
        }
      });
      return { id, name: input.name, permissionKeys, groupIds, createdAt: timestamp, updatedAt: timestamp };
    },

    async getRole(id) {
      return readRole(db, id);
    },

    async listRoles() {
      const rows = await db.selectFrom('roles').select('id').orderBy('created_at').orderBy('id').execute();
      const roles: Role[] = [];
      for (const row of rows) {
        const role = await readRole(db, row.id);
        if (role) roles.push(role);
      }
      return roles;
    },

    async updateRole(id, patch) {
      return inTransaction(db, async (trx) => {
        const role = await readRole(trx, id);
        if (!role) return null;
        if (patch.name !== undefined && patch.name !== role.name) {
          await refusingDuplicates(
            trx
              .updateTable('roles')
              .set({ name: patch.name, name_key: nameKey(patch.name) })
              .where('id', '=', id)
              .execute(),
            dialect.isUniqueViolation,
            duplicateRoleName(patch.name),
          );
        }
        if (patch.permissionKeys) {
          const keys = [...new Set(patch.permissionKeys)];
          await assertExist(trx, 'permission', keys);
          await trx.deleteFrom('role_permissions').where('role_id', '=', id).execute();
          await insertRolePermissions(trx, id, keys);
        }
        await trx.updateTable('roles').set({ updated_at: now() }).where('id', '=', id).execute();
        return readRole(trx, id);
      });
    },

    async deleteRole(id) {
      return inTransaction(db, async (trx) => {
        const role = await readRole(trx, id);
        if (!role) return null;
        await trx.deleteFrom('roles').where('id', '=', id).execute();
        return role;
      });
    },

    async assignRoleToGroup(roleId, groupId) {
      const result = await db
        .insertInto('role_groups')
        .values({ role_id: roleId, group_id: groupId })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return inserted(result);
    },

    async unassignRoleFromGroup(roleId, groupId) {
      const result = await db
        .deleteFrom('role_groups')
        .where('role_id', '=', roleId)
        .where('group_id', '=', groupId)
        .executeTakeFirst();
      return deleted(result);
    },

    async userIdsHoldingRoles(roleIds) {
      const userIds = new Set<string>();
      for (const slice of slices([...new Set(roleIds)])) {
        const rows = await db
          .selectFrom('role_groups')
          .innerJoin('group_members', 'group_members.group_id', 'role_groups.group_id')
          .select('group_members.user_id')
          .distinct()
          .where('role_groups.role_id', 'in', slice)
          .execute();
        rows.forEach((row) => userIds.add(row.user_id));
      }
      return [...userIds];
    },

    async effectiveAccess(userIds) {
      const access = new Map<string, { roles: Set<string>; permissions: Set<string> }>();
      for (const userId of userIds) access.set(userId, { roles: new Set(), permissions: new Set() });
      for (const slice of slices([...new Set(userIds)])) {
        const rows = await db
          .selectFrom('group_members')
          .innerJoin('role_groups', 'role_groups.group_id', 'group_members.group_id')
          .innerJoin('roles', 'roles.id', 'role_groups.role_id')
          .leftJoin('role_permissions', 'role_permissions.role_id', 'roles.id')
          .select(['group_members.user_id', 'roles.name', 'role_permissions.permission_key'])
          .where('group_members.user_id', 'in', slice)
          .execute();
        for (const row of rows) {
          const entry = access.get(row.user_id);
          entry?.roles.add(row.name);
          if (row.permission_key) entry?.permissions.add(row.permission_key);
        }
      }
      return new Map<string, EffectiveAccess>(
        [...access].map(([userId, entry]) => [
          userId,
          { roles: [...entry.roles].sort(), permissions: [...entry.permissions].sort() },
        ]),
      );
    },
  };
}
