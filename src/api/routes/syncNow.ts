import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idSchema } from '../../directory/model';
import { isUserInAppScope } from '../../directory/scope';
import type { DirectoryQueries } from '../../directory/store';
import type { IntentRequest } from '../../shared/intents';
import type { ApiContext } from '../context';
import { dispatchedIntentSchema, writeErrors } from '../responses';
import { NotFoundError } from '../schemas';

const syncParams = z.object({
  id: idSchema,
  resourceType: z.enum(['User', 'Group']),
  localId: idSchema,
});

const syncAnswer = z.object({
  appId: z.string(),
  resourceType: z.enum(['User', 'Group']),
  localId: z.string(),
  operations: z.array(dispatchedIntentSchema),
});
const notInScopeBody = z
  .object({ error: z.literal('not-in-scope'), message: z.string() })
  .describe('The user or group is not in the app’s scope: nothing starts');

/** An object that provisioning on demand cannot bring into the app: it is not in the app's scope. */
export class NotInScopeError extends Error {
  constructor(what: string) {
    super(`${what} is not in the app's scope (no assigned group holds it): nothing to provision`);
    this.name = 'NotInScopeError';
  }
}

/**
 * The intent that brings one object of an app in line now, as the directory has it: a user in the app's scope is
 * provisioned (created, or found and adopted) when the app does not hold it yet, every attribute pushed again when
 * it does;
 * an assigned group is created with its members, or its members brought in line. An object out of scope is
 * refused: deprovisioning stays with the changes (and reconciliations) that put it out.
 */
async function intentFor(
  tx: DirectoryQueries,
  appId: string,
  resourceType: 'User' | 'Group',
  localId: string,
): Promise<IntentRequest> {
  const app = await tx.getApp(appId);
  if (!app) throw new NotFoundError('app', appId);
  const link = await tx.getLink(appId, resourceType, localId);
  const held = Boolean(link?.remoteId);
  if (resourceType === 'User') {
    const user = await tx.getUser(localId);
    if (!user) throw new NotFoundError('user', localId);
    if (!(await isUserInAppScope(tx, appId, user))) throw new NotInScopeError(`user ${localId}`);
    const intent = held && link?.status !== 'deprovisioned' ? 'updateUser' : 'provisionUser';
    if (link && intent === 'updateUser') {
      // Pushing only what changed since the last write would find nothing to do: the app may have been edited (or
      // the user deleted there) behind scimflow's back. Forgetting what was written makes the push write every
      // attribute the directory has (never removing one: nothing counts as written), and a user gone from the app
      // is created again. Values the app keeps its own way stay skipped.
      await tx.saveLink({ appId, resourceType, localId, status: link.status, lastPushed: {} });
    }
    return {
      intent,
      input: { appId, userId: localId },
      summary: `${intent} ${user.userName} → ${app.name} (on demand)`,
    };
  }
  const group = await tx.getGroup(localId);
  if (!group) throw new NotFoundError('group', localId);
  if (!(await tx.assignedGroupIds(appId)).includes(localId)) throw new NotInScopeError(`group ${localId}`);
  const intent = held ? 'syncGroupMembership' : 'createGroup';
  return {
    intent,
    input: { appId, groupId: localId },
    summary: `${intent} ${group.displayName} → ${app.name} (on demand)`,
  };
}

/**
 * Provisioning on demand (Entra's "provision on demand"): one user or group of one app brought in line now, rather
 * than at the next change or reconciliation. The intent runs on the object's lane like any other.
 */
export function syncNowRoutes({ apply }: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    api.post(
      '/api/apps/:id/links/:resourceType/:localId/sync',
      {
        schema: {
          params: syncParams,
          tags: ['apps'],
          response: { 200: syncAnswer, 409: notInScopeBody, ...writeErrors(404) },
        },
      },
      async (request, reply) => {
        const { id, resourceType, localId } = request.params;
        try {
          const { operations } = await apply(async (tx) => ({
            result: null,
            plan: { intents: [await intentFor(tx, id, resourceType, localId)] },
          }));
          return { appId: id, resourceType, localId, operations };
        } catch (error) {
          if (!(error instanceof NotInScopeError)) throw error;
          return reply.code(409).send({ error: 'not-in-scope' as const, message: error.message });
        }
      },
    );
  };
}
