import type { Client } from '@temporalio/client';
import type { PlannedChange } from '../directory/changes';
import type { IntentPlanner } from '../directory/intentPlanner';
import type { DirectoryQueries, DirectoryStore } from '../directory/store';
import type { Targets } from '../provisioning/targets';
import type { DispatchedIntent, IntentDispatcher } from '../shared/intents';
import type { ReconcileSchedules } from '../temporal/schedules';
import type { OperationQueries } from './operations';

/**
 * Applies a directory change and records the intents it issues in one transaction (`change` must use only `tx`
 * and `planner`), then hands the intents over: a change is never committed without its intents, nor its intents
 * without it. A change that would take away too much in an app throws `DeletionsNeedConfirmationError` (nothing
 * committed) unless `confirmDeletions`.
 */
export type ApplyChange = <T>(
  change: (tx: DirectoryQueries, planner: IntentPlanner) => Promise<PlannedChange<T>>,
  options?: { confirmDeletions?: boolean },
) => Promise<{ result: T; operations: DispatchedIntent[] }>;

export interface ApiContext {
  store: DirectoryStore;
  /** Every directory change that may issue intents goes through here. */
  apply: ApplyChange;
  /** Starts the intents a change issues (outbox, then lanes). */
  dispatcher: IntentDispatcher;
  /** What the API answers about intents and where the Temporal UI shows them. */
  operations: OperationQueries;
  temporal: Client;
  targets: Targets;
  /** The apps' reconciliation schedules (and runs started on request). */
  schedules: ReconcileSchedules;
}
