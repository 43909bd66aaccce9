import type { Client } from '@temporalio/client';
import type { IntentPlanner } from '../directory/intentPlanner';
import type { DirectoryStore } from '../directory/store';
import type { Targets } from '../provisioning/targets';
import type { IntentDispatcher } from '../shared/intents';
import type { ReconcileSchedules } from '../temporal/schedules';
import type { OperationQueries } from './operations';

export interface ApiContext {
  store: DirectoryStore;
  planner: IntentPlanner;
  /** Starts the intents a change issues (outbox, then lanes). */
  dispatcher: IntentDispatcher;
  /** What the API answers about intents and where the Temporal UI shows them. */
  operations: OperationQueries;
  temporal: Client;
  targets: Targets;
  /** The apps' reconciliation schedules (and runs started on request). */
  schedules: ReconcileSchedules;
}
