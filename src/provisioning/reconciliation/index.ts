import type { ReconciliationReport, ReconciliationStatus } from '../../directory/model';
import type { DirectoryStore } from '../../directory/store';
import { GroupProvisioning } from '../groups';
import { Links } from '../links';
import type { Targets } from '../targets';
import { UserProvisioning } from '../users';
import { compare } from './compare';
import { repairGroups } from './repairGroups';
import { repairMembers } from './repairMembers';
import { repairUsers } from './repairUsers';
import { finish } from './report';
import { type Comparison, progressOf, type ReconcileRun, type RunHooks, type RunServices } from './types';
import { loadView } from './view';

export { reconciliationReport } from './report';
export { RECONCILE_CONCURRENCY } from './repairUsers';
export type { BusyResources, Comparison, ReconcileRun } from './types';

/**
 * Reconciliation of one app with the directory, in bulk and without Temporal, in the order of its story:
 * `compare` pages through the app's `/Users` and `/Groups` and records, per object, what to do (a read-only pass,
 * compare.ts, classifyUser.ts, classifyGroup.ts); `repair` then does it in batches, users first
 * (repairUsers.ts), then groups (repairGroups.ts), then memberships (repairMembers.ts); `finish` turns the run's
 * items into its report (report.ts). Every page and batch is checkpointed in the store, so a retried activity
 * resumes where the last one stopped. Objects of the app that no directory record is linked to are reported
 * and never touched.
 */
export class Reconciliation {
  private readonly services: RunServices;

  constructor(store: DirectoryStore, targets: Targets) {
    const users = new UserProvisioning(store, targets);
    const groups = new GroupProvisioning(store, targets, users);
    this.services = { store, targets, users, groups, links: new Links(store) };
  }

  /** Pages through the app and records what each object needs; writes nothing to the app. */
  compare(run: ReconcileRun, hooks: RunHooks): Promise<Comparison> {
    return compare(this.services, run, hooks);
  }

  /**
   * Does what `compare` planned, in batches of writes with bounded concurrency: users first (so that members
   * exist before they are sent), then groups, then memberships against fresh links. Each item is checkpointed,
   * so a retried activity does not repeat finished work. A write the target refuses for good is recorded as an
   * error of that object and the run goes on; a retryable failure (network, 429, 5xx) ends the activity so
   * Temporal retries it. `claimant` claims the users and groups it creates (the same for every retry of the
   * activity), so that nothing else creates them at once; one another path is creating is deferred to it.
   */
  async repair(run: ReconcileRun, hooks: RunHooks, claimant: string): Promise<void> {
    const { store } = this.services;
    const record = await store.getReconciliation(run.workflowId);
    if (!record) throw new Error(`reconciliation ${run.workflowId} was not started`);
    const progress = progressOf(record);
    const pass = {
      services: this.services,
      run,
      view: await loadView(this.services, run.appId),
      hooks,
      progress,
      claimant,
    };
    if (progress.repair.phase === 'users') {
      await repairUsers(pass);
      progress.repair = { phase: 'groups', afterKey: '' };
      await store.updateReconciliation(run.workflowId, { progress });
    }
    if (progress.repair.phase === 'groups') {
      await repairGroups(pass);
      progress.repair = { phase: 'members', afterKey: '' };
      await store.updateReconciliation(run.workflowId, { progress });
    }
    if (progress.repair.phase === 'members') {
      await repairMembers(pass);
      progress.repair = { phase: 'done', afterKey: '' };
      await store.updateReconciliation(run.workflowId, { progress });
    }
  }

  /** Ends the run: its report is built from its items, stored, and the items are let go. Idempotent. */
  finish(
    run: ReconcileRun,
    status: Exclude<ReconciliationStatus, 'running'>,
    error?: string,
  ): Promise<ReconciliationReport> {
    return finish(this.services.store, run, status, error);
  }
}
