import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  idSchema,
  permissionInputSchema,
  permissionKeySchema,
  roleInputSchema,
  rolePatchSchema,
} from '../../directory/model';
import type { ApiContext } from '../context';
import {
  permissionCreatedSchema,
  permissionDeletedSchema,
  permissionListSchema,
  permissionSchema,
  readErrors,
  roleChangeSchema,
  roleDeletedSchema,
  roleListSchema,
  roleSchema,
  writeErrors,
} from '../responses';
import { idParams, NotFoundError } from '../schemas';

const roleGroupParams = z.object({ id: idSchema, groupId: idSchema });
const permissionParams = z.object({ key: permissionKeySchema });

/** Permissions, and roles that bundle them and are given to groups. */
export function roleRoutes({ store, apply }: ApiContext): FastifyPluginAsyncZod {
  const requireRole = async (id: string) => {
    const role = await store.getRole(id);
    if (!role) throw new NotFoundError('role', id);
    return role;
  };

  return async (api) => {
    api.post(
      '/api/permissions',
      {
        schema: {
          body: permissionInputSchema,
          tags: ['roles'],
          response: { 201: permissionCreatedSchema, ...writeErrors(409) },
        },
      },
      async (request, reply) => {
        const permission = await store.createPermission(request.body);
        return reply.code(201).send({ ...permission, operations: [] });
      },
    );

    api.get(
      '/api/permissions',
      { schema: { tags: ['roles'], response: { 200: permissionListSchema, ...readErrors() } } },
      async () => ({
        items: await store.listPermissions(),
      }),
    );

    api.get(
      '/api/permissions/:key',
      {
        schema: {
          params: permissionParams,
          tags: ['roles'],
          response: { 200: permissionSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => {
        const permission = await store.getPermission(request.params.key);
        if (!permission) throw new NotFoundError('permission', request.params.key);
        return permission;
      },
    );

    // Removes the permission from every role and app; users holding it lose the entitlement.
    api.delete(
      '/api/permissions/:key',
      {
        schema: {
          params: permissionParams,
          tags: ['roles'],
          response: { 200: permissionDeletedSchema, ...writeErrors(404) },
        },
      },
      async (request) => {
        const { key } = request.params;
        const { operations } = await apply(async (tx, planner) => {
          const deleted = await tx.deletePermission(key);
          if (!deleted) throw new NotFoundError('permission', key);
          const intents = deleted.roleIds.length
            ? await planner.afterRoleChange(
                { roleIds: deleted.roleIds },
                { what: `permission ${key} deleted` },
              )
            : [];
          return { result: null, plan: { intents } };
        });
        return { key, deleted: true, operations };
      },
    );

    api.post(
      '/api/roles',
      {
        schema: {
          body: roleInputSchema,
          tags: ['roles'],
          response: { 201: roleChangeSchema, ...writeErrors(409) },
        },
      },
      async (request, reply) => {
        const { result: role, operations } = await apply(async (tx, planner) => {
          const role = await tx.createRole(request.body);
          const intents = role.groupIds.length
            ? await planner.afterRoleChange({ roleIds: [role.id] }, { what: `role ${role.name} created` })
            : [];
          return { result: role, plan: { intents } };
        });
        return reply.code(201).send({ ...role, operations });
      },
    );

    api.get(
      '/api/roles',
      { schema: { tags: ['roles'], response: { 200: roleListSchema, ...readErrors() } } },
      async () => ({ items: await store.listRoles() }),
    );

    api.get(
      '/api/roles/:id',
      {
        schema: { params: idParams, tags: ['roles'], response: { 200: roleSchema, ...readErrors(400, 404) } },
      },
      async (request) => requireRole(request.params.id),
    );

    api.patch(
      '/api/roles/:id',
      {
        schema: {
          params: idParams,
          body: rolePatchSchema,
          tags: ['roles'],
          response: { 200: roleChangeSchema, ...writeErrors(404, 409) },
        },
      },
      async (request) => {
        const { id } = request.params;
        const { result: role, operations } = await apply(async (tx, planner) => {
          const before = await tx.getRole(id);
          if (!before) throw new NotFoundError('role', id);
          const role = await tx.updateRole(id, request.body);
          if (!role) throw new NotFoundError('role', id);
          const changed =
            role.name !== before.name ||
            JSON.stringify(role.permissionKeys) !== JSON.stringify(before.permissionKeys);
          const intents =
            changed && role.groupIds.length
              ? await planner.afterRoleChange({ roleIds: [role.id] }, { what: `role ${role.name} changed` })
              : [];
          return { result: role, plan: { intents } };
        });
        return { ...role, operations };
      },
    );

    api.delete(
      '/api/roles/:id',
      {
        schema: {
          params: idParams,
          tags: ['roles'],
          response: { 200: roleDeletedSchema, ...writeErrors(404) },
        },
      },
      async (request) => {
        const { result: role, operations } = await apply(async (tx, planner) => {
          const role = await tx.deleteRole(request.params.id);
          if (!role) throw new NotFoundError('role', request.params.id);
          // The role is gone, so its former holders are found through the groups that carried it.
          const intents = role.groupIds.length
            ? await planner.afterRoleChange(
                { groupIds: role.groupIds },
                { what: `role ${role.name} deleted` },
              )
            : [];
          return { result: role, plan: { intents } };
        });
        return { ...role, deleted: true, operations };
      },
    );

    /** Gives the role to a group or takes it away; only an actual change issues intents. */
    const changeRoleGroup = async ({ id, groupId }: { id: string; groupId: string }, give: boolean) => {
      const { operations } = await apply(async (tx, planner) => {
        const role = await tx.getRole(id);
        if (!role) throw new NotFoundError('role', id);
        if (!(await tx.getGroup(groupId))) throw new NotFoundError('group', groupId);
        const changed = give
          ? await tx.assignRoleToGroup(id, groupId)
          : await tx.unassignRoleFromGroup(id, groupId);
        const what = `role ${role.name} ${give ? 'given to' : 'taken from'} group ${groupId}`;
        const intents = changed ? await planner.afterRoleChange({ groupIds: [groupId] }, { what }) : [];
        return { result: null, plan: { intents } };
      });
      return { ...(await requireRole(id)), operations };
    };

    api.put(
      '/api/roles/:id/groups/:groupId',
      {
        schema: {
          params: roleGroupParams,
          tags: ['roles'],
          response: { 200: roleChangeSchema, ...writeErrors(404) },
        },
      },
      (request) => changeRoleGroup(request.params, true),
    );

    api.delete(
      '/api/roles/:id/groups/:groupId',
      {
        schema: {
          params: roleGroupParams,
          tags: ['roles'],
          response: { 200: roleChangeSchema, ...writeErrors(404) },
        },
      },
      (request) => changeRoleGroup(request.params, false),
    );
  };
}
