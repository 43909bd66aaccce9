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
    closedAt: row.closed_at,
    deliveryAttempts: Number(row.delivery_attempts),
    lastDeliveryError: row.last_delivery_error,
  };
}

/**
 * `operations`, the outbox: a row is undispatched while `dispatched_at` is null, leased while delivered, and open
 * until `closed_at` (its run seen closed): a lane's next row starts only when every earlier one is closed.
 */
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
            lease_until: null,
            delivery_attempts: 0,
            last_delivery_error: null,
            closed_at: null,
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
          closedAt: null,
          deliveryAttempts: 0,
          lastDeliveryError: null,
        };
      });
    },

    async leaseOperation(sequence, leaseMs) {
      const at = new Date();
      // One conditional UPDATE decides, so two deliverers (threads or processes) never both win the lease.
      const result = await db
        .updateTable('operations')
        .set((eb) => ({
          lease_until: new Date(at.getTime() + leaseMs).toISOString(),
          delivery_attempts: eb('delivery_attempts', '+', 1),
        }))
        .where('sequence', '=', sequence)
        .where('dispatched_at', 'is', null)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', at.toISOString())]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async releaseOperation(sequence, error) {
      await db
        .updateTable('operations')
        .set({ lease_until: null, last_delivery_error: error })
        .where('sequence', '=', sequence)
        .execute();
    },

    async markOperationDispatched(sequence) {
      await db
        .updateTable('operations')
        .set({ dispatched_at: now(), lease_until: null })
        .where('sequence', '=', sequence)
        .execute();
    },

    async markOperationClosed(sequence) {
      await db
        .updateTable('operations')
        .set({ closed_at: now() })
        .where('sequence', '=', sequence)
        .where('closed_at', 'is', null)
        .execute();
    },

    async deliverableOperations(limit) {
      const rows = await db
        .selectFrom('operations as o')
        .selectAll('o')
        .where('o.dispatched_at', 'is', null)
        .where((eb) => eb.or([eb('o.lease_until', 'is', null), eb('o.lease_until', '<', now())]))
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('operations as earlier')
                .select('earlier.sequence')
                .whereRef('earlier.lane_id', '=', 'o.lane_id')
                .whereRef('earlier.sequence', '<', 'o.sequence')
                .where('earlier.closed_at', 'is', null),
            ),
          ),
        )
        .orderBy('o.sequence')
        .limit(limit)
        .execute();
      return rows.map(toOperation);
    },

    async openOperationBefore(laneId, sequence) {
      const row = await db
        .selectFrom('operations')
        .selectAll()
        .where('lane_id', '=', laneId)
        .where('closed_at', 'is', null)
        .where('sequence', '<', sequence)
        .orderBy('sequence')
        .limit(1)
        .executeTakeFirst();
      return row ? toOperation(row) : null;
    },

    async awaitedOperations(limit) {
      // From the few undelivered rows to their lanes, not from every delivered row ever (most are never marked
      // closed: only a successor asks). A delivered row always precedes its lane's undelivered ones.
      const rows = await db
        .selectFrom('operations')
        .selectAll()
        .where('dispatched_at', 'is not', null)
        .where('closed_at', 'is', null)
        .where('lane_id', 'in', (eb) =>
          eb
            .selectFrom('operations as later')
            .select('later.lane_id')
            .where('later.dispatched_at', 'is', null),
        )
        .orderBy('sequence')
        .limit(limit)
        .execute();
      return rows.map(toOperation);
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

    async outboxBacklog() {
      // The undispatched rows only, found through `operations_undispatched`: as cheap as the outbox is short.
      const row = await db
        .selectFrom('operations')
        .select((eb) => [eb.fn.countAll().as('depth'), eb.fn.min('issued_at').as('oldest')])
        .where('dispatched_at', 'is', null)
        .executeTakeFirst();
      return { depth: Number(row?.depth ?? 0), oldestIssuedAt: row?.oldest ?? null };
    },
  };
}
