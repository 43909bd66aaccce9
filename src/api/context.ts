import type { ScimflowClient } from '../client';
import type { IntentPlanner } from '../directory/intentPlanner';
import type { DirectoryStore } from '../directory/store';
import type { Targets } from '../provisioning/targets';

export interface ApiContext {
  store: DirectoryStore;
  planner: IntentPlanner;
  scimflow: ScimflowClient;
  targets: Targets;
}
