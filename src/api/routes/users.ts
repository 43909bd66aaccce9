import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { userAttributesSchema, userPatchSchema } from '../../directory/model';
import type { ApiContext } from '../context';
import {
  readErrors,
  userChangeSchema,
  userDeletedSchema,
  userPageSchema,
  userWithAccessSchema,
  writeErrors,
} from '../responses';
import { confirmDeletionsQuery, idParams, NotFoundError, pageQuery } from '../schemas';

export function userRoutes({ store, apply }: ApiContext): FastifyPluginAsyncZod {
  const requireUser = async (id: string) => {
    const user = await store.getUser(id);
    if (!user) throw new NotFoundError('user', id);
    return user;
  };
  const withGroups = async <T extends { id: string }>(user: T) => ({
    ...user,
    groupIds: await store.groupIdsOfUser(user.id),
  });
  /** The user's effective roles (of all their groups) and the union of those roles' permissions. */
  const withAccess = async <T extends { id: string }>(user: T) => {
    const access = (await store.effectiveAccess([user.id])).get(user.id);
    return {
      ...(await withGroups(user)),
      roles: access?.roles ?? [],
      permissions: access?.permissions ?? [],
    };
  };

  return async (api) => {
    api.post(
      '/api/users',
      {
        schema: {
          body: userAttributesSchema,
          tags: ['users'],
          response: { 201: userChangeSchema, ...writeErrors(409) },
        },
      },
      async (request, reply) => {
        const user = await store.createUser(request.body);
        // A new user belongs to no group yet, so no app is affected until it joins an assigned group.
        return reply.code(201).send({ ...(await withGroups(user)), operations: [] });
      },
    );

    api.get(
      '/api/users',
      {
        schema: {
          // A look-up is held to what a userName may be: a control character is a 400, not a miss.
          querystring: pageQuery.extend({ userName: userAttributesSchema.shape.userName.optional() }),
          tags: ['users'],
          response: { 200: userPageSchema, ...readErrors(400) },
        },
      },
      async (request) => {
        const { userName, offset, limit } = request.query;
        if (userName !== undefined) {
          const user = await store.findUserByUserName(userName);
          return { items: user ? [await withGroups(user)] : [], total: user ? 1 : 0, offset: 0, limit };
        }
        const page = await store.listUsers({ offset, limit });
        return { items: await Promise.all(page.items.map(withGroups)), total: page.total, offset, limit };
      },
    );

    api.get(
      '/api/users/:id',
      {
        schema: {
          params: idParams,
          tags: ['users'],
          response: { 200: userWithAccessSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => withAccess(await requireUser(request.params.id)),
    );

    api.patch(
      '/api/users/:id',
      {
        schema: {
          params: idParams,
          querystring: confirmDeletionsQuery,
          body: userPatchSchema,
          tags: ['users'],
          response: { 200: userChangeSchema, ...writeErrors(404, 409) },
        },
      },
      async (request) => {
        const { id } = request.params;
        const { result, operations } = await apply(async (tx, planner) => {
          const change = await planner.before([id]);
          const updated = await tx.updateUser(id, request.body);
          if (!updated) throw new NotFoundError('user', id);
          const { updatedAt: _before, ...beforeAttributes } = updated.before;
          const { updatedAt: _after, ...afterAttributes } = updated.after;
          const changed = JSON.stringify(beforeAttributes) !== JSON.stringify(afterAttributes);
          const plan = await change.planFor({
            // Editing a user never changes its groups: it leaves an app's scope only by being deactivated.
            reason: updated.after.active ? undefined : 'user-deactivated',
            updatedUserIds: changed ? [id] : [],
          });
          return { result: updated.after, plan };
        }, request.query);
        return { ...(await withGroups(result)), operations };
      },
    );

    api.delete(
      '/api/users/:id',
      {
        schema: {
          params: idParams,
          querystring: confirmDeletionsQuery,
          tags: ['users'],
          response: { 200: userDeletedSchema, ...writeErrors(404, 409) },
        },
      },
      async (request) => {
        const { id } = request.params;
        const { result, operations } = await apply(async (tx, planner) => {
          const groupIds = await tx.groupIdsOfUser(id);
          const change = await planner.before([id]);
          const user = await tx.deleteUser(id);
          if (!user) throw new NotFoundError('user', id);
          const plan = await change.planFor({
            reason: 'user-deleted',
            membershipChanges: groupIds.map((groupId) => ({ groupId, left: [id] })),
          });
          return { result: { ...user, groupIds }, plan };
        }, request.query);
        return { ...result, deleted: true, operations };
      },
    );
  };
}
