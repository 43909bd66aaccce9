import type { OperationRecord, OperationStore } from '../store';
import { now } from './conventions';
import { type Db, inTransaction, type Tables } from './tables';

function toOperation(row: Tables['operations']): OperationRecord {
  return {
    sequence: Number(row.sequence),
    workflowId: row.workflow_id ?? '',
    appId: row.app_id,
    intent: row.intent,
    resourceType: row.resource_type as OperationRecord['resourceType'],
    resourceId: row.resource_id,
    laneId: row.lane_id,
    request: JSON.parse(row.request),
    issuedAt: row.issued_at,
    dispatchedAt: row.dispatched_at,
  };
}

/** `operations`, the outbox: a row is undispatched while `dispatched_at` is null. */
export function operationQueries(db: Db): OperationStore {
  return {
    async recordOperation(operation, build) {
      return inTransaction(db, async (trx) => {
        const issuedAt = now();
        // The row is numbered first: the workflow id and the request are built from its number.
        const { sequence } = await trx
          .insertInto('operations')
          .values({
            sequence: undefined,
            workflow_id: null,
            app_id: operation.appId,
            intent: operation.intent,
            resource_type: operation.resourceType,
            resource_id: operation.resourceId,
            lane_id: operation.laneId,
            request: 'null',
            issued_at: issuedAt,
            dispatched_at: null,
          })
          .returning('sequence')
          .executeTakeFirstOrThrow();
        const { workflowId, request } = build(Number(sequence));
        await trx
          .updateTable('operations')
          .set({ workflow_id: workflowId, request: JSON.stringify(request) })
          .where('sequence', '=', Number(sequence))
          .execute();
        return {
          ...operation,
          sequence: Number(sequence),
          workflowId,
          request,
          issuedAt,
          dispatchedAt: null,
        };
      });
    },

    async markOperationDispatched(workflowId) {
      await db
        .updateTable('operations')
        .set({ dispatched_at: now() })
        .where('workflow_id', '=', workflowId)
        .execute();
    },

    async undispatchedOperations(limit, issuedBefore) {
      const rows = await db
        .selectFrom('operations')
        .selectAll()
        .where('dispatched_at', 'is', null)
        .where('issued_at', '<', issuedBefore.toISOString())
        .orderBy('sequence')
        .limit(limit)
        .execute();
      return rows.map(toOperation);
    },

    async hasUndispatchedBefore(laneId, sequence) {
      const row = await db
        .selectFrom('operations')
        .select('sequence')
        .where('dispatched_at', 'is', null)
        .where('lane_id', '=', laneId)
        .where('sequence', '<', sequence)
        .executeTakeFirst();
      return row !== undefined;
    },

    async getOperation(workflowId) {
      const row = await db
        .selectFrom('operations')
        .selectAll()
        .where('workflow_id', '=', workflowId)
        .executeTakeFirst();
      return row ? toOperation(row) : null;
    },

    async undispatchedResourceIds(appId) {
      return db
        .selectFrom('operations')
        .select(['resource_type as resourceType', 'resource_id as resourceId'])
        .distinct()
        .where('app_id', '=', appId)
        .where('dispatched_at', 'is', null)
        .execute();
    },
  };
}
