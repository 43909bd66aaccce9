import { z } from 'zod';
import { isWorkflowRunning } from '../../temporal/workflowStatus';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ReconciliationRecord } from '../../directory/store';
import { reconciliationReport } from '../../provisioning/reconciliation';
import type { ApiContext } from '../context';
import {
  importStartedSchema,
  readErrors,
  reconcileStartedSchema,
  reconciliationListSchema,
  reconciliationReportSchema,
  scheduleSchema,
  writeErrors,
} from '../responses';
import { idParams, NotFoundError, workflowIdSchema } from '../schemas';

const reconcileBody = z
  .object({
    /** Compare and report only; nothing is written to the app. */
    dryRun: z.boolean().default(false),
    /** Let a run that would deprovision more than the app's threshold go ahead. */
    confirmDeletions: z.boolean().default(false),
  })
  .strict();

const importBody = z
  .object({
    users: z.boolean().default(true),
    groups: z.boolean().default(false),
    memberships: z.boolean().default(true),
  })
  .strict();

const reportParams = idParams.extend({ workflowId: workflowIdSchema });
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(20) });

/**
 * Reconciliation and import: run a reconciliation now, pause or resume an app's schedule, read the reports,
 * start an import from the app.
 */
export function reconciliationRoutes({
  store,
  dispatcher,
  operations,
  temporal,
  schedules,
}: ApiContext): FastifyPluginAsyncZod {
  const requireApp = async (id: string) => {
    const app = await store.getApp(id);
    if (!app) throw new NotFoundError('app', id);
    return app;
  };
  const summary = async (record: ReconciliationRecord) => {
    const { objects: _objects, ...report } = await reconciliationReport(store, record);
    return { ...report, uiUrl: operations.uiUrl(record.workflowId) };
  };

  return async (api) => {
    api.post(
      '/api/apps/:id/reconcile',
      {
        schema: {
          params: idParams,
          body: reconcileBody.nullish(),
          tags: ['reconciliation'],
          response: { 202: reconcileStartedSchema, ...writeErrors(404, 409) },
        },
      },
      async (request, reply) => {
        const app = await requireApp(request.params.id);
        const options = request.body ?? reconcileBody.parse({});
        for (const record of await store.listReconciliations(app.id, 20)) {
          if (record.status === 'running' && (await isWorkflowRunning(temporal, record.workflowId))) {
            return reply.code(409).send({
              error: 'conflict',
              message: `a reconciliation of this app is running: ${record.workflowId}`,
              workflowId: record.workflowId,
            });
          }
        }
        const workflowId = await schedules.runNow(app, options);
        return reply.code(202).send({
          workflowId,
          appId: app.id,
          ...options,
          report: `/api/apps/${app.id}/reconciliations/${encodeURIComponent(workflowId)}`,
          uiUrl: operations.uiUrl(workflowId),
        });
      },
    );

    api.get(
      '/api/apps/:id/schedule',
      {
        schema: {
          params: idParams,
          tags: ['reconciliation'],
          response: { 200: scheduleSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => {
        const app = await requireApp(request.params.id);
        const schedule = await schedules.describe(app.id);
        if (!schedule) throw new NotFoundError('schedule of app', app.id);
        return schedule;
      },
    );

    for (const [action, paused] of [
      ['pause', true],
      ['resume', false],
    ] as const) {
      api.post(
        `/api/apps/:id/schedule/${action}`,
        {
          schema: {
            params: idParams,
            tags: ['reconciliation'],
            response: { 200: scheduleSchema, ...writeErrors(404) },
          },
        },
        async (request) => {
          const app = await requireApp(request.params.id);
          return schedules.setPaused(
            app,
            paused,
            `${paused ? 'paused' : 'resumed'} through the scimflow API`,
          );
        },
      );
    }

    api.get(
      '/api/apps/:id/reconciliations',
      {
        schema: {
          params: idParams,
          querystring: listQuery,
          tags: ['reconciliation'],
          response: { 200: reconciliationListSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => {
        const app = await requireApp(request.params.id);
        const records = await store.listReconciliations(app.id, request.query.limit);
        return { items: await Promise.all(records.map(summary)) };
      },
    );

    api.get(
      '/api/apps/:id/reconciliations/:workflowId',
      {
        schema: {
          params: reportParams,
          tags: ['reconciliation'],
          response: { 200: reconciliationReportSchema, ...readErrors(400, 404) },
        },
      },
      async (request) => {
        const app = await requireApp(request.params.id);
        const record = await store.getReconciliation(request.params.workflowId);
        if (!record || record.appId !== app.id) {
          throw new NotFoundError('reconciliation', request.params.workflowId);
        }
        return { ...(await reconciliationReport(store, record)), uiUrl: operations.uiUrl(record.workflowId) };
      },
    );

    api.post(
      '/api/apps/:id/import',
      {
        schema: {
          params: idParams,
          body: importBody.nullish(),
          tags: ['reconciliation'],
          response: { 202: importStartedSchema, ...writeErrors(404) },
        },
      },
      async (request, reply) => {
        const app = await requireApp(request.params.id);
        const options = request.body ?? importBody.parse({});
        const brings = [options.users && 'users', options.groups && 'groups'].filter(Boolean).join(' and ');
        const operations = await dispatcher.dispatch([
          {
            intent: 'importFromApp',
            input: { appId: app.id, ...options },
            summary: `importFromApp ${brings || 'nothing'} ← ${app.name}`,
          },
        ]);
        return reply
          .code(202)
          .send({ workflowId: operations[0].workflowId, appId: app.id, ...options, operations });
      },
    );
  };
}
