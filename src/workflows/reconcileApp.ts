import { ActivityFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ReconciliationReport } from '../directory/model';
import type { ReconcileInput } from '../shared/intents';
import { appWide, retry } from './activities';

const { finishReconciliation } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry,
});

/**
 * Bring an app in line with the directory, scheduled (`reconcile:<appId>`) or on request: compare what the app
 * holds with what the directory says it should hold, page by page; stop there for a dry run, or when the run
 * would deprovision more than the app's threshold without confirmation; otherwise repair, users first, then
 * groups, then memberships; and report. Objects of the app that scimflow does not manage are only reported.
 */
export async function reconcileApp(input: ReconcileInput): Promise<ReconciliationReport> {
  const run = {
    workflowId: workflowInfo().workflowId,
    appId: input.appId,
    dryRun: input.dryRun ?? false,
    confirmDeletions: input.confirmDeletions ?? false,
  };
  try {
    const compare = appWide('compare the app with the directory');
    const { safeguard, planned } = await compare.compareAppWithDirectory(run);
    if (run.dryRun || planned === 0) return await finishReconciliation(run, 'completed');
    if (safeguard.exceeded && !run.confirmDeletions) {
      return await finishReconciliation(run, 'needs-confirmation');
    }
    await appWide('repair the drift: users, groups, memberships').repairDrift(run);
    return await finishReconciliation(run, 'completed');
  } catch (error) {
    const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
    await finishReconciliation(run, 'failed', cause instanceof Error ? cause.message : String(cause));
    throw error;
  }
}
