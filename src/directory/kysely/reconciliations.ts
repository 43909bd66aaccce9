import type { ReconciliationReport, ResourceType } from '../model';
import type {
  ReconciliationAction,
  ReconciliationItem,
  ReconciliationItemState,
  ReconciliationRecord,
  ReconciliationStore,
} from '../store';
import { now, slices } from './conventions';
import { type Db, inTransaction, type Tables } from './tables';

function toReconciliation(row: Tables['reconciliations']): ReconciliationRecord {
  return {
    workflowId: row.workflow_id,
    appId: row.app_id,
    status: row.status as ReconciliationRecord['status'],
    dryRun: row.dry_run === 1,
    confirmDeletions: row.confirm_deletions === 1,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    report: row.report ? (JSON.parse(row.report) as ReconciliationReport) : null,
    progress: row.progress ? JSON.parse(row.progress) : null,
  };
}

function toReconciliationItem(row: Tables['reconciliation_items']): ReconciliationItem {
  return {
    resourceType: row.resource_type as ResourceType,
    key: row.key,
    localId: row.local_id,
    remoteId: row.remote_id,
    name: row.name,
    action: row.action as ReconciliationAction,
    state: row.state as ReconciliationItemState,
    detail: row.detail,
    error: row.error,
    remote: row.remote ? JSON.parse(row.remote) : null,
  };
}

async function readReconciliation(db: Db, workflowId: string): Promise<ReconciliationRecord | null> {
  const row = await db
    .selectFrom('reconciliations')
    .selectAll()
    .where('workflow_id', '=', workflowId)
    .executeTakeFirst();
  return row ? toReconciliation(row) : null;
}

/** `reconciliations` (one row per run) and `reconciliation_items` (a running run's working set). */
export function reconciliationQueries(db: Db): ReconciliationStore {
  return {
    async beginReconciliation(run) {
      await db
        .insertInto('reconciliations')
        .values({
          workflow_id: run.workflowId,
          app_id: run.appId,
          status: 'running',
          dry_run: run.dryRun ? 1 : 0,
          confirm_deletions: run.confirmDeletions ? 1 : 0,
          started_at: now(),
          finished_at: null,
          report: null,
          progress: null,
        })
        .onConflict((oc) => oc.column('workflow_id').doNothing())
        .execute();
      return (await readReconciliation(db, run.workflowId)) as ReconciliationRecord;
    },

    async getReconciliation(workflowId) {
      return readReconciliation(db, workflowId);
    },

    async listReconciliations(appId, limit) {
      const rows = await db
        .selectFrom('reconciliations')
        .selectAll()
        .where('app_id', '=', appId)
        .orderBy('started_at', 'desc')
        .orderBy('workflow_id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toReconciliation);
    },

    async updateReconciliation(workflowId, changes) {
      const set: Partial<Tables['reconciliations']> = {};
      if (changes.status !== undefined) set.status = changes.status;
      if (changes.report !== undefined) set.report = changes.report ? JSON.stringify(changes.report) : null;
      if (changes.progress !== undefined) set.progress = JSON.stringify(changes.progress);
      if (changes.finishedAt !== undefined) set.finished_at = changes.finishedAt;
      if (Object.keys(set).length === 0) return;
      await db.updateTable('reconciliations').set(set).where('workflow_id', '=', workflowId).execute();
    },

    async saveReconciliationItems(workflowId, items, progress) {
      await inTransaction(db, async (trx) => {
        // 11 columns per row: stay well under SQLite's bound-parameter limit.
        for (const slice of slices(items, 80)) {
          await trx
            .insertInto('reconciliation_items')
            .values(
              slice.map((item) => ({
                workflow_id: workflowId,
                resource_type: item.resourceType,
                key: item.key,
                local_id: item.localId,
                remote_id: item.remoteId,
                name: item.name,
                action: item.action,
                state: item.state,
                detail: item.detail,
                error: item.error,
                remote: item.remote ? JSON.stringify(item.remote) : null,
              })),
            )
            .onConflict((oc) =>
              oc.columns(['workflow_id', 'resource_type', 'key']).doUpdateSet((eb) => ({
                local_id: eb.ref('excluded.local_id'),
                remote_id: eb.ref('excluded.remote_id'),
                name: eb.ref('excluded.name'),
                action: eb.ref('excluded.action'),
                state: eb.ref('excluded.state'),
                detail: eb.ref('excluded.detail'),
                error: eb.ref('excluded.error'),
                remote: eb.ref('excluded.remote'),
              })),
            )
            .execute();
        }
        if (progress !== undefined) {
          await trx
            .updateTable('reconciliations')
            .set({ progress: JSON.stringify(progress) })
            .where('workflow_id', '=', workflowId)
            .execute();
        }
      });
    },

    async reconciliationItems(workflowId, filter) {
      let query = db.selectFrom('reconciliation_items').selectAll().where('workflow_id', '=', workflowId);
      if (filter.resourceType) query = query.where('resource_type', '=', filter.resourceType);
      if (filter.keyPrefix) {
        // substr, not LIKE: remote ids may hold LIKE's wildcards.
        const prefix = filter.keyPrefix;
        query = query.where((eb) =>
          eb(eb.fn('substr', ['key', eb.lit(1), eb.lit(prefix.length)]), '=', prefix),
        );
      }
      if (filter.actions) query = query.where('action', 'in', filter.actions);
      if (filter.state) query = query.where('state', '=', filter.state);
      if (filter.afterKey !== undefined) query = query.where('key', '>', filter.afterKey);
      const rows = await query.orderBy('resource_type').orderBy('key').limit(filter.limit).execute();
      return rows.map(toReconciliationItem);
    },

    async reconciliationItemCounts(workflowId) {
      const rows = await db
        .selectFrom('reconciliation_items')
        .select(['action', 'state', (eb) => eb.fn.countAll<number>().as('count')])
        .where('workflow_id', '=', workflowId)
        .groupBy(['action', 'state'])
        .execute();
      return rows.map((row) => ({
        action: row.action as ReconciliationAction,
        state: row.state as ReconciliationItemState,
        count: Number(row.count),
      }));
    },

    async clearReconciliationItems(workflowId) {
      await db.deleteFrom('reconciliation_items').where('workflow_id', '=', workflowId).execute();
    },
  };
}
