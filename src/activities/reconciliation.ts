import { ApplicationFailure, Context } from '@temporalio/activity';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { ScimflowClient } from '../client';
import { IntentPlanner } from '../directory/intentPlanner';
import type { ReconciliationReport, ReconciliationStatus } from '../directory/model';
import type { DirectoryStore } from '../directory/store';
import { GroupProvisioning } from '../provisioning/groups';
import {
  AppImport,
  type ImportProgress,
  type ImportReport,
  type ImportRequest,
} from '../provisioning/import';
import {
  type BusyResources,
  type Comparison,
  type ReconcileRun,
  Reconciliation,
} from '../provisioning/reconciliation';
import type { Targets } from '../provisioning/targets';
import { UserProvisioning } from '../provisioning/users';
import { scimResourceId, scimResourceType } from '../shared/searchAttributes';

/** How `createActivities` turns errors into the typed failures workflows branch on (see activities/index.ts). */
type Adapt = <Args extends unknown[], Result>(
  run: (...args: Args) => Promise<Result>,
) => (...args: Args) => Promise<Result>;

const quoted = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Activities of `reconcileApp` and `importFromApp`: bulk work (many objects per activity), heartbeating where
 * it stands. The engines (provisioning/reconciliation.ts, provisioning/import.ts) do the work; these adapters
 * add what only Temporal knows: which users and groups have an intent running, and the heartbeats.
 */
export function createReconciliationActivities(
  { store, targets, scimflow }: { store: DirectoryStore; targets: Targets; scimflow?: ScimflowClient },
  adapt: Adapt,
) {
  const users = new UserProvisioning(store, targets);
  const groups = new GroupProvisioning(store, targets, users);
  const reconciliation = new Reconciliation(store, targets, users, groups);
  const temporal = (): Client => scimflow?.temporal ?? Context.current().client;
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
      `ScimAppId = ${quoted(appId)} AND ExecutionStatus = 'Running' AND ScimIntent != 'intentLane' ` +
      `AND (ScimResourceType = 'User' OR ScimResourceType = 'Group')`;
    for await (const execution of client.workflow.list({ query })) {
      try {
        const description = await client.workflow.getHandle(execution.workflowId, execution.runId).describe();
        if (description.status.name !== 'RUNNING') continue;
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) continue;
        throw error;
      }
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
      let running = false;
      try {
        running =
          (await temporal().workflow.getHandle(other.workflowId).describe()).status.name === 'RUNNING';
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
      if (running) {
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
      reconciliation.repair(run, { busy: await busyResources(run.appId), onProgress: heartbeat }),
    ),

    finishReconciliation: adapt(
      (run: ReconcileRun, status: Exclude<ReconciliationStatus, 'running'>, error?: string) =>
        reconciliation.finish(run, status, error) as Promise<ReconciliationReport>,
    ),

    /** Imports the app's users and groups into the directory, page by page; a retry resumes at its page. */
    importUsersAndGroups: adapt(async (request: ImportRequest): Promise<ImportReport> => {
      if (!scimflow)
        throw new Error('this worker was started without a Temporal client for dispatching intents');
      const appImport = new AppImport(store, targets, new IntentPlanner(store), (requests) =>
        scimflow.dispatch(requests),
      );
      return appImport.run(request, {
        resume: Context.current().info.heartbeatDetails as ImportProgress | undefined,
        onProgress: heartbeat,
      });
    }),
  };
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
