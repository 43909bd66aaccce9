import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { permissionInputSchema, roleInputSchema, rolePatchSchema } from '../../directory/model';
import type { ApiContext } from '../context';
import { idParams, NotFoundError } from '../schemas';

const roleGroupParams = z.object({ id: z.string().min(1), groupId: z.string().min(1) });

/** Permissions, and roles that bundle them and are given to groups. */
export function roleRoutes({ store, planner, dispatcher }: ApiContext): FastifyPluginAsyncZod {
  const requireRole = async (id: string) => {
    const role = await store.getRole(id);
    if (!role) throw new NotFoundError('role', id);
    return role;
  };

  return async (api) => {
    api.post(
      '/api/permissions',
      { schema: { body: permissionInputSchema, tags: ['roles'] } },
      async (request, reply) => {
        const permission = await store.createPermission(request.body);
        return reply.code(201).send({ ...permission, operations: [] });
      },
    );

    api.get('/api/permissions', { schema: { tags: ['roles'] } }, async () => ({
      items: await store.listPermissions(),
    }));

    api.get(
      '/api/permissions/:key',
      { schema: { params: z.object({ key: z.string().min(1) }), tags: ['roles'] } },
      async (request) => {
        const permission = await store.getPermission(request.params.key);
        if (!permission) throw new NotFoundError('permission', request.params.key);
        return permission;
      },
    );

    // Removes the permission from every role and app; users holding it lose the entitlement.
    api.delete(
      '/api/permissions/:key',
      { schema: { params: z.object({ key: z.string().min(1) }), tags: ['roles'] } },
      async (request) => {
        const { key } = request.params;
        const deleted = await store.deletePermission(key);
        if (!deleted) throw new NotFoundError('permission', key);
        const requests = deleted.roleIds.length
          ? await planner.afterRoleChange({ roleIds: deleted.roleIds }, { what: `permission ${key} deleted` })
          : [];
        return { key, deleted: true, operations: await dispatcher.dispatch(requests) };
      },
    );

    api.post('/api/roles', { schema: { body: roleInputSchema, tags: ['roles'] } }, async (request, reply) => {
      const role = await store.createRole(request.body);
      const requests = role.groupIds.length
        ? await planner.afterRoleChange({ roleIds: [role.id] }, { what: `role ${role.name} created` })
        : [];
      return reply.code(201).send({ ...role, operations: await dispatcher.dispatch(requests) });
    });

    api.get('/api/roles', { schema: { tags: ['roles'] } }, async () => ({ items: await store.listRoles() }));

    api.get('/api/roles/:id', { schema: { params: idParams, tags: ['roles'] } }, async (request) =>
      requireRole(request.params.id),
    );

    api.patch(
      '/api/roles/:id',
      { schema: { params: idParams, body: rolePatchSchema, tags: ['roles'] } },
      async (request) => {
        const before = await requireRole(request.params.id);
        const role = await store.updateRole(before.id, request.body);
        if (!role) throw new NotFoundError('role', before.id);
        const changed =
          role.name !== before.name ||
          JSON.stringify(role.permissionKeys) !== JSON.stringify(before.permissionKeys);
        const requests =
          changed && role.groupIds.length
            ? await planner.afterRoleChange({ roleIds: [role.id] }, { what: `role ${role.name} changed` })
            : [];
        return { ...role, operations: await dispatcher.dispatch(requests) };
      },
    );

    api.delete('/api/roles/:id', { schema: { params: idParams, tags: ['roles'] } }, async (request) => {
      const role = await store.deleteRole(request.params.id);
      if (!role) throw new NotFoundError('role', request.params.id);
      // The role is gone, so its former holders are found through the groups that carried it.
      const requests = role.groupIds.length
        ? await planner.afterRoleChange({ groupIds: role.groupIds }, { what: `role ${role.name} deleted` })
        : [];
      return { ...role, deleted: true, operations: await dispatcher.dispatch(requests) };
    });

    /** Gives the role to a group or takes it away; only an actual change issues intents. */
    const changeRoleGroup = async ({ id, groupId }: { id: string; groupId: string }, give: boolean) => {
      const role = await requireRole(id);
      if (!(await store.getGroup(groupId))) throw new NotFoundError('group', groupId);
      const changed = give
        ? await store.assignRoleToGroup(id, groupId)
        : await store.unassignRoleFromGroup(id, groupId);
      const what = `role ${role.name} ${give ? 'given to' : 'taken from'} group ${groupId}`;
      const requests = changed ? await planner.afterRoleChange({ groupIds: [groupId] }, { what }) : [];
      return { ...(await requireRole(id)), operations: await dispatcher.dispatch(requests) };
    };

    api.put(
      '/api/roles/:id/groups/:groupId',
      { schema: { params: roleGroupParams, tags: ['roles'] } },
      (request) => changeRoleGroup(request.params, true),
    );

    api.delete(
      '/api/roles/:id/groups/:groupId',
      { schema: { params: roleGroupParams, tags: ['roles'] } },
      (request) => changeRoleGroup(request.params, false),
    );
  };
}
