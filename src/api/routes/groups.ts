import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { groupInputSchema, groupPatchSchema } from '../../directory/model';
import type { ApiContext } from '../context';
import { idParams, memberParams, NotFoundError, pageQuery } from '../schemas';

export function groupRoutes({ store, planner, dispatcher }: ApiContext): FastifyPluginAsyncZod {
  const requireGroup = async (id: string) => {
    const group = await store.getGroup(id);
    if (!group) throw new NotFoundError('group', id);
    return group;
  };
  const withApps = async <T extends { id: string }>(group: T) => ({
    ...group,
    appIds: await store.appIdsAssignedGroup(group.id),
  });

  return async (api) => {
    api.post(
      '/api/groups',
      { schema: { body: groupInputSchema, tags: ['groups'] } },
      async (request, reply) => {
        // A new group is assigned to no app yet: nothing to provision until it is.
        const group = await store.createGroup(request.body);
        return reply.code(201).send({ ...group, appIds: [], operations: [] });
      },
    );

    api.get(
      '/api/groups',
      { schema: { querystring: pageQuery.extend({ displayName: z.string().optional() }), tags: ['groups'] } },
      async (request) => {
        const { displayName, offset, limit } = request.query;
        if (displayName !== undefined) {
          const group = await store.findGroupByDisplayName(displayName);
          return { items: group ? [await withApps(group)] : [], total: group ? 1 : 0, offset: 0, limit };
        }
        const page = await store.listGroups({ offset, limit });
        return { items: await Promise.all(page.items.map(withApps)), total: page.total, offset, limit };
      },
    );

    api.get('/api/groups/:id', { schema: { params: idParams, tags: ['groups'] } }, async (request) =>
      withApps(await requireGroup(request.params.id)),
    );

    api.patch(
      '/api/groups/:id',
      { schema: { params: idParams, body: groupPatchSchema, tags: ['groups'] } },
      async (request) => {
        const current = await requireGroup(request.params.id);
        const change = await planner.before([
          ...new Set([...current.memberIds, ...(request.body.memberIds ?? [])]),
        ]);
        const update = await store.updateGroup(current.id, request.body);
        if (!update) throw new NotFoundError('group', current.id);
        const membersChanged = update.added.length > 0 || update.removed.length > 0;
        const requests = await change.intentsFor({
          reason: 'removed-from-group',
          renamedGroupIds: update.renamed ? [current.id] : [],
          membershipChanges: membersChanged
            ? [{ groupId: current.id, userIds: [...update.added, ...update.removed] }]
            : [],
        });
        return { ...(await withApps(update.group)), operations: await dispatcher.dispatch(requests) };
      },
    );

    api.delete('/api/groups/:id', { schema: { params: idParams, tags: ['groups'] } }, async (request) => {
      const group = await requireGroup(request.params.id);
      const appIds = await store.appIdsAssignedGroup(group.id);
      const change = await planner.before(group.memberIds);
      await store.deleteGroup(group.id);
      const requests = await change.intentsFor({
        reason: 'group-deleted',
        unassigned: appIds.map((appId) => ({ appId, groupId: group.id })),
      });
      return { ...group, appIds, deleted: true, operations: await dispatcher.dispatch(requests) };
    });

    /** Adds or removes one member; only an actual change issues intents. */
    const changeMembership = async (
      { id, userId }: { id: string; userId: string },
      membership: 'join' | 'leave',
    ) => {
      await requireGroup(id);
      if (!(await store.getUser(userId))) throw new NotFoundError('user', userId);
      const change = await planner.before([userId]);
      const leaving = membership === 'leave';
      const changed = leaving
        ? await store.removeGroupMember(id, userId)
        : await store.addGroupMember(id, userId);
      const requests = changed
        ? await change.intentsFor({
            reason: leaving ? 'removed-from-group' : undefined,
            membershipChanges: [{ groupId: id, userIds: [userId] }],
          })
        : [];
      return { ...(await withApps(await requireGroup(id))), operations: await dispatcher.dispatch(requests) };
    };

    api.put(
      '/api/groups/:id/members/:userId',
      { schema: { params: memberParams, tags: ['groups'] } },
      (request) => changeMembership(request.params, 'join'),
    );

    api.delete(
      '/api/groups/:id/members/:userId',
      { schema: { params: memberParams, tags: ['groups'] } },
      (request) => changeMembership(request.params, 'leave'),
    );
  };
}
