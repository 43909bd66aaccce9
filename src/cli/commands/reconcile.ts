/** `scimflow reconcile <app>`: compare an app with the directory and repair what scimflow manages. */
import { Command } from 'commander';
import { reconciliationCategories } from '../../directory/model';
import { ApiError, type ReconciliationView } from '../apiClient';
import { type Context, EXIT } from '../context';
import { integer } from '../options';
import { type Cell, fields, print, table } from '../output';
import { sleep, startProgress } from '../progress';
import { resolveApp } from '../resolve';

function printReport(c: Context, report: ReconciliationView): void {
  const safeguard = report.deletionSafeguard;
  c.out.out(
    fields([
      ['run', report.workflowId],
      ['status', report.status],
      ['dry run', report.dryRun],
      ['started', report.startedAt],
      ['finished', report.finishedAt],
      [
        'requests',
        `${report.requests?.list ?? 0} list, ${report.requests?.read ?? 0} read, ${report.requests?.write ?? 0} write`,
      ],
      [
        'deletions',
        safeguard &&
          `${safeguard.total} of at most ${safeguard.limit} without confirmation${safeguard.exceeded ? ' (exceeded)' : ''}`,
      ],
      ['error', report.error],
      ['Temporal UI', report.uiUrl],
    ]),
  );
  c.out.out('');
  c.out.out(
    table(
      ['CATEGORY', 'COUNT'],
      reconciliationCategories.map((category) => [category, report.counts[category] ?? 0]),
    ),
  );
  const rows: Cell[][] = [];
  for (const category of reconciliationCategories) {
    for (const object of report.objects?.[category] ?? []) {
      rows.push([category, object.resourceType, object.name, object.remoteId, object.error ?? object.detail]);
    }
  }
  if (rows.length) {
    c.out.out('');
    c.out.out(table(['CATEGORY', 'TYPE', 'NAME', 'REMOTE ID', 'DETAIL'], rows));
  }
  if (report.truncated?.length)
    c.out.out(`(lists cut at 1000: ${report.truncated.join(', ')}; counts are complete)`);
  if (report.status === 'needs-confirmation') {
    c.out.out(
      `\nnothing was written: the run would make more deletions than the app allows without confirmation; ` +
        `run again with --confirm-deletions to go ahead`,
    );
  }
}

async function waitForReport(c: Context, appId: string, workflowId: string, intervalMs: number) {
  const progress = startProgress('reconcile', { enabled: !c.json });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      let report: ReconciliationView | undefined;
      try {
        report = await c.client.apps.reconciliation(appId, workflowId);
      } catch (error) {
        // The run records itself once its workflow has started: a moment after the API answered.
        if (!(error instanceof ApiError && error.status === 404 && Date.now() < deadline)) throw error;
      }
      if (report && report.status !== 'running') return report;
      if (report) {
        const seen = Object.values(report.counts).reduce((sum, n) => sum + n, 0);
        const phase = (report.requests?.write ?? 0) > 0 ? 'repairing' : 'comparing';
        progress.update(
          phase,
          `${seen} objects, ${report.requests?.list ?? 0} pages listed, ${report.requests?.write ?? 0} writes`,
        );
      } else progress.update('starting');
      await sleep(intervalMs);
    }
  } finally {
    progress.stop();
  }
}

export function reconcileCommand(ctx: () => Context): Command {
  return new Command('reconcile')
    .description('compare an app with the directory and repair what scimflow manages')
    .argument('<app>', 'by id or name')
    .option('--dry-run', 'compare and report only: nothing is written to the app')
    .option('--confirm-deletions', 'let a run that would make more deletions than the app allows go ahead')
    .option('--wait', 'wait for the run and print its report')
    .option('--interval <ms>', 'poll every this many milliseconds while waiting', integer(100), 1000)
    .action(
      async (
        ref: string,
        options: { dryRun?: boolean; confirmDeletions?: boolean; wait?: boolean; interval: number },
      ) => {
        const c = ctx();
        const app = await resolveApp(c, ref);
        const started = await c.client.apps.reconcile(app.id, {
          dryRun: Boolean(options.dryRun),
          confirmDeletions: Boolean(options.confirmDeletions),
        });
        if (!options.wait) {
          if (c.json) return print(c, started);
          c.out.out(
            fields([
              ['run', started.workflowId],
              ['dry run', started.dryRun],
              ['report', started.report],
              ['Temporal UI', started.uiUrl],
            ]),
          );
          return;
        }
        const report = await waitForReport(c, app.id, started.workflowId, options.interval);
        if (c.json) print(c, report);
        else printReport(c, report);
        if (report.status === 'failed') c.exit(EXIT.failed);
        if (report.status === 'needs-confirmation') c.exit(EXIT.needsConfirmation);
      },
    );
}
