import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { ReconciliationReport, ReconciliationStatus } from '../directory/model';
import type { DirectoryStore } from '../directory/store';
import {
  type BusyResources,
  type Comparison,
  type ReconcileRun,
  Reconciliation,
} from '../provisioning/reconciliation';
import type { Targets } from '../provisioning/targets';
import { scimResourceId, scimResourceType } from '../shared/searchAttributes';
import { adapt } from './adapt';
import { isWorkflowRunning, visibilityString } from '../temporal/workflowStatus';

export interface ReconciliationActivityDependencies {
  store: DirectoryStore;
  targets: Targets;
  /** For the visibility queries and run descriptions; the activity context's client when not given. */
  temporal?: () => Client;
  /** Who claims the users and groups a repair creates (`creationClaimant` in ./index). */
  creationClaimant: () => string;
}

/**
 * Activities of `reconcileApp`: bulk work (many objects per activity), heartbeating where it stands. The engine
 * (provisioning/reconciliation/) does the work; these adapters add what only Temporal knows: which users and
 * groups have an intent running, whether another run of the app is open, and the heartbeats.
 */
export function createReconciliationActivities({
  store,
  targets,
  temporal = () => Context.current().client,
  creationClaimant,
}: ReconciliationActivityDependencies) {
  const reconciliation = new Reconciliation(store, targets);
  const heartbeat = (position: unknown) => Context.current().heartbeat(position);

  /**
   * Users and groups of the app whose lanes are at work: an intent still in the outbox, or an intent workflow
   * running (visibility lists the candidates; each is confirmed with the run itself, as visibility may lag).
   * An idle lane waiting for more work is not busy.
   */
  async function busyResources(appId: string): Promise<BusyResources> {
    const busy = { users: new Set<string>(), groups: new Set<string>() };
    const add = (resourceType: string | undefined, resourceId: string | undefined) => {
      if (!resourceId) return;
      if (resourceType === 'User') busy.users.add(resourceId);
      if (resourceType === 'Group') busy.groups.add(resourceId);
    };
    for (const { resourceType, resourceId } of await store.undispatchedResourceIds(appId)) {
      add(resourceType, resourceId);
    }
    const client = temporal();
    const query =
      `ScimAppId = ${visibilityString(appId)} AND ExecutionStatus = 'Running' AND ScimIntent != 'intentLane' ` +
      `AND (ScimResourceType = 'User' OR ScimResourceType = 'Group')`;
    for await (const execution of client.workflow.list({ query })) {
      if (!(await isWorkflowRunning(client, execution.workflowId, execution.runId))) continue;
      add(
        execution.typedSearchAttributes.get(scimResourceType),
        execution.typedSearchAttributes.get(scimResourceId),
      );
    }
    return busy;
  }

  /** Two runs on one app would repair the same drift twice; a run recorded as running that is not is closed. */
  async function refuseOverlap(run: ReconcileRun): Promise<void> {
    for (const other of await store.listReconciliations(run.appId, 20)) {
      if (other.status !== 'running' || other.workflowId === run.workflowId) continue;
      if (await isWorkflowRunning(temporal(), other.workflowId)) {
        throw ApplicationFailure.create({
          type: 'ReconciliationOverlap',
          message: `another reconciliation of this app is running: ${other.workflowId}`,
          nonRetryable: true,
        });
      }
      await reconciliation.finish(other, 'failed', 'the run ended without finishing its report');
    }
  }

  return {
    /** Pages through the app and records what to repair; writes nothing to the app. */
    compareAppWithDirectory: adapt(async (run: ReconcileRun): Promise<Comparison> => {
      if ((await store.getReconciliation(run.workflowId)) === null) await refuseOverlap(run);
      return reconciliation.compare(run, { busy: await busyResources(run.appId), onProgress: heartbeat });
    }),

    /** Repairs what the comparison found, in batches; resumes after the last checkpoint when retried. */
    repairDrift: adapt(async (run: ReconcileRun): Promise<void> =>
      reconciliation.repair(
        run,
        { busy: await busyResources(run.appId), onProgress: heartbeat },
        creationClaimant(),
      ),
    ),

    finishReconciliation: adapt(
      (run: ReconcileRun, status: Exclude<ReconciliationStatus, 'running'>, error?: string) =>
        reconciliation.finish(run, status, error) as Promise<ReconciliationReport>,
    ),
  };
}
