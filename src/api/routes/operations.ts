import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { intentNames } from '../../shared/intents';
import type { ApiContext } from '../context';
import { listedStatuses } from '../operations';
import { NotFoundError } from '../schemas';

const operationQuery = z.object({
  appId: z.string().optional(),
  resourceId: z.string().optional(),
  intent: z.enum(intentNames).optional(),
  status: z.enum(listedStatuses).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function operationRoutes({ operations }: ApiContext): FastifyPluginAsyncZod {
  return async (api) => {
    api.get(
      '/api/operations',
      { schema: { querystring: operationQuery, tags: ['operations'] } },
      async (request) => ({
        items: await operations.list(request.query),
      }),
    );

    api.get(
      '/api/operations/:workflowId',
      { schema: { params: z.object({ workflowId: z.string().min(1) }), tags: ['operations'] } },
      async (request) => {
        const operation = await operations.get(request.params.workflowId);
        if (!operation) throw new NotFoundError('operation', request.params.workflowId);
        return operation;
      },
    );
  };
}
