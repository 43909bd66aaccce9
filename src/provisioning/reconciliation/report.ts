import type {
  ReconciledObject,
  ReconciliationCategory,
  ReconciliationReport,
  ReconciliationStatus,
} from '../../directory/model';
import { reconciliationCategories } from '../../directory/model';
import type {
  DirectoryStore,
  ReconciliationAction,
  ReconciliationItem,
  ReconciliationItemFilter,
  ReconciliationItemState,
  ReconciliationRecord,
} from '../../directory/store';
import { progressOf, type ReconcileRun } from './types';

/** Objects listed per report category; the counts stay complete. */
const REPORT_LIST_LIMIT = 1000;
const writeCategories: Partial<Record<ReconciliationAction, ReconciliationCategory>> = {
  create: 'created',
  update: 'updated',
  deprovision: 'deprovisioned',
  members: 'membershipsFixed',
};

/** Ends the run: its report is built from its items, stored, and the items are let go. Idempotent. */
export async function finish(
  store: DirectoryStore,
  run: ReconcileRun,
  status: Exclude<ReconciliationStatus, 'running'>,
  error?: string,
): Promise<ReconciliationReport> {
  let record = await store.getReconciliation(run.workflowId);
  if (!record) {
    // A run that failed before it began (e.g. another one was running) is recorded all the same.
    record = await store.getApp(run.appId).then((app) => (app ? store.beginReconciliation(run) : null));
    // The app was deleted meanwhile, and its runs with it.
    if (!record) return emptyReport(run, status, error ?? 'the app was deleted during the run');
  }
  if (record.report && record.status !== 'running') return record.report;
  const report = await reconciliationReport(store, { ...record, status }, error ?? null);
  await store.updateReconciliation(run.workflowId, { status, report, finishedAt: report.finishedAt });
  await store.clearReconciliationItems(run.workflowId);
  return report;
}

/**
 * A run's report from its items: what was done (or, for a dry run or a run stopped by the safeguard, what would
 * have been done), counted per category with the first objects of each. Also serves a run still going.
 */
export async function reconciliationReport(
  store: DirectoryStore,
  record: ReconciliationRecord,
  error: string | null = null,
): Promise<ReconciliationReport> {
  if (record.report && record.status !== 'running') return record.report;
  const progress = progressOf(record);
  // A dry run, or one stopped before repairing, reports what it planned; the others what they did.
  const executed =
    !record.dryRun && record.status !== 'needs-confirmation' && progress.compare.phase === 'done';
  const wanted: ReconciliationItemState = executed ? 'done' : 'planned';
  const report = emptyReport(record, record.status, error);
  report.startedAt = record.startedAt;
  report.finishedAt = record.status === 'running' ? null : new Date().toISOString();
  report.deletionSafeguard = progress.safeguard;
  report.requests = progress.requests;
  report.appManagedAttributes = await store.appManagedSummary(record.appId);
  for (const { action, state, count } of await store.reconciliationItemCounts(record.workflowId)) {
    const category = categoryOf(action, state, wanted);
    if (category) report.counts[category] += count;
  }
  for (const category of reconciliationCategories) {
    if (category === 'unchanged' || report.counts[category] === 0) continue;
    const action = (Object.keys(writeCategories) as ReconciliationAction[]).find(
      (a) => writeCategories[a] === category,
    );
    const filter: ReconciliationItemFilter =
      category === 'errors'
        ? { state: 'error', limit: REPORT_LIST_LIMIT + 1 }
        : action
          ? { actions: [action], state: wanted, limit: REPORT_LIST_LIMIT + 1 }
          : { actions: [category as ReconciliationAction], limit: REPORT_LIST_LIMIT + 1 };
    const items = (await store.reconciliationItems(record.workflowId, filter)).filter(
      (i) => category === 'errors' || i.state !== 'error',
    );
    if (items.length > REPORT_LIST_LIMIT) report.truncated.push(category);
    report.objects[category] = items.slice(0, REPORT_LIST_LIMIT).map(objectOf);
  }
  return report;
}

function emptyReport(
  run: ReconcileRun,
  status: ReconciliationStatus,
  error: string | null,
): ReconciliationReport {
  return {
    workflowId: run.workflowId,
    appId: run.appId,
    status,
    dryRun: run.dryRun,
    confirmDeletions: run.confirmDeletions,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    counts: Object.fromEntries(
      reconciliationCategories.map((category) => [category, 0]),
    ) as ReconciliationReport['counts'],
    objects: {},
    truncated: [],
    deletionSafeguard: null,
    requests: { list: 0, read: 0, write: 0 },
    appManagedAttributes: [],
    error,
  };
}

function categoryOf(
  action: ReconciliationAction,
  state: ReconciliationItemState,
  wanted: ReconciliationItemState,
): ReconciliationCategory | null {
  if (state === 'error') return 'errors';
  const write = writeCategories[action];
  if (write) return state === wanted ? write : null;
  return action as ReconciliationCategory;
}

function objectOf(reconciled: ReconciliationItem): ReconciledObject {
  return {
    resourceType: reconciled.resourceType,
    id: reconciled.localId,
    remoteId: reconciled.remoteId,
    name: reconciled.name,
    ...(reconciled.detail ? { detail: reconciled.detail } : {}),
    ...(reconciled.error ? { error: reconciled.error } : {}),
  };
}
