import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { groupInputSchema, groupPatchSchema } from '../../directory/model';
import type { ApiContext } from '../context';
import {
  groupChangeSchema,
  groupDeletedSchema,
  groupPageSchema,
  groupSchema,
  readErrors,
  writeErrors,
} from '../responses';
import { confirmDeletionsQuery, idParams, memberParams, NotFoundError, pageQuery } from '../schemas';

export function groupRoutes({ store, apply }: ApiContext): FastifyPluginAsyncZod {
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
      {
        schema: {
          body: groupInputSchema,
          tags: ['groups'],
          response: { 201: groupChangeSchema, ...writeErrors(409) },
        },
      },
      async (request, reply) => {
        // A new group is assigned to no app yet: nothing to provision until it is.
        const group = await store.createGroup(request.body);
        return reply.code(201).send({ ...group, appIds: [], operations: [] });
      },
    );

    api.get(
      '/api/groups',
      {
        schema: {
          querystring: pageQuery.extend({ displayName: groupInputSchema.shape.displayName.optional() }),
          tags: ['groups'],
          response: { 200: groupPageSchema, ...readErrors(400) },
        },
      },
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

    api.get(
      '/api/groups/:id',
      {
        schema: {
          params: idParams,
          tags: ['groups'],
          response: { 200: groupSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => withApps(await requireGroup(request.params.id)),
    );

    api.patch(
      '/api/groups/:id',
      {
        schema: {
          params: idParams,
          querystring: confirmDeletionsQuery,
          body: groupPatchSchema,
          tags: ['groups'],
          response: { 200: groupChangeSchema, ...writeErrors(404, 409) },
        },
      },
      async (request) => {
        const { id } = request.params;
        const { result, operations } = await apply(async (tx, planner) => {
          const current = await tx.getGroup(id);
          if (!current) throw new NotFoundError('group', id);
          const change = await planner.before([
            ...new Set([...current.memberIds, ...(request.body.memberIds ?? [])]),
          ]);
          const update = await tx.updateGroup(id, request.body);
          if (!update) throw new NotFoundError('group', id);
          const membersChanged = update.added.length > 0 || update.removed.length > 0;
          const plan = await change.planFor({
            reason: 'removed-from-group',
            renamedGroupIds: update.renamed ? [id] : [],
            membershipChanges: membersChanged
              ? [{ groupId: id, joined: update.added, left: update.removed }]
              : [],
          });
          return { result: update.group, plan };
        }, request.query);
        return { ...(await withApps(result)), operations };
      },
    );

    api.delete(
      '/api/groups/:id',
      {
        schema: {
          params: idParams,
          querystring: confirmDeletionsQuery,
          tags: ['groups'],
          response: { 200: groupDeletedSchema, ...writeErrors(404, 409) },
        },
      },
      async (request) => {
        const { id } = request.params;
        const { result, operations } = await apply(async (tx, planner) => {
          const group = await tx.getGroup(id);
          if (!group) throw new NotFoundError('group', id);
          const appIds = await tx.appIdsAssignedGroup(id);
          const change = await planner.before(group.memberIds);
          await tx.deleteGroup(id);
          const plan = await change.planFor({
            reason: 'group-deleted',
            unassigned: appIds.map((appId) => ({ appId, groupId: id })),
          });
          return { result: { ...group, appIds }, plan };
        }, request.query);
        return { ...result, deleted: true, operations };
      },
    );

    /** Adds or removes one member; only an actual change issues intents. */
    const changeMembership = async (
      { id, userId }: { id: string; userId: string },
      membership: 'join' | 'leave',
      options: { confirmDeletions: boolean },
    ) => {
      const { operations } = await apply(async (tx, planner) => {
        if (!(await tx.getGroup(id))) throw new NotFoundError('group', id);
        if (!(await tx.getUser(userId))) throw new NotFoundError('user', userId);
        const change = await planner.before([userId]);
        const leaving = membership === 'leave';
        const changed = leaving
          ? await tx.removeGroupMember(id, userId)
          : await tx.addGroupMember(id, userId);
        const plan = changed
          ? await change.planFor({
              reason: leaving ? 'removed-from-group' : undefined,
              membershipChanges: [{ groupId: id, [leaving ? 'left' : 'joined']: [userId] }],
            })
          : { intents: [] };
        return { result: null, plan };
      }, options);
      return { ...(await withApps(await requireGroup(id))), operations };
    };

    api.put(
      '/api/groups/:id/members/:userId',
      {
        schema: {
          params: memberParams,
          tags: ['groups'],
          response: { 200: groupChangeSchema, ...writeErrors(404) },
        },
      },
      (request) => changeMembership(request.params, 'join', { confirmDeletions: false }),
    );

    api.delete(
      '/api/groups/:id/members/:userId',
      {
        schema: {
          params: memberParams,
          querystring: confirmDeletionsQuery,
          tags: ['groups'],
          response: { 200: groupChangeSchema, ...writeErrors(404, 409) },
        },
      },
      (request) => changeMembership(request.params, 'leave', request.query),
    );
  };
}
