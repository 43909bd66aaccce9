import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { idSchema } from '../../directory/model';
import { intentNames } from '../../shared/intents';
import type { ApiContext } from '../context';
import { operationViewSchema, readErrors } from '../responses';
import { listedStatuses } from '../operations';
import { NotFoundError, workflowIdSchema } from '../schemas';

/**
 * The filters become a Temporal visibility query: ids are held to the id charset here, so a NUL byte or a quote is
 * a 400 before any call to Temporal (which would refuse it only after its retries).
 */
const operationQuery = z.object({
  appId: idSchema.optional(),
  resourceId: idSchema.optional(),
  intent: z.enum(intentNames).optional(),
  status: z.enum(listedStatuses).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function operationRoutes({ operations }: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    api.get(
      '/api/operations',
      {
        schema: {
          querystring: operationQuery,
          tags: ['operations'],
          response: { 200: z.object({ items: z.array(operationViewSchema) }), ...readErrors(400) },
        },
      },
      async (request) => ({
        items: await operations.list(request.query),
      }),
    );

    api.get(
      '/api/operations/:workflowId',
      {
        schema: {
          params: z.object({ workflowId: workflowIdSchema }),
          tags: ['operations'],
          response: { 200: operationViewSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => {
        const operation = await operations.get(request.params.workflowId);
        if (!operation) throw new NotFoundError('operation', request.params.workflowId);
        return operation;
      },
    );
  };
}
