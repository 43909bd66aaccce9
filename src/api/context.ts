import type { ScimflowClient } from '../client';
import type { IntentPlanner } from '../directory/intentPlanner';
import type { DirectoryStore } from '../directory/store';
import type { Targets } from '../provisioning/targets';
import type { ReconcileSchedules } from '../temporal/schedules';

export interface ApiContext {
  store: DirectoryStore;
  planner: IntentPlanner;
  scimflow: ScimflowClient;
  targets: Targets;
  /** The apps' reconciliation schedules (and runs started on request). */
  schedules: ReconcileSchedules;
}
