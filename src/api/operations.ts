import {
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToDate, type Timestamp } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { OperationRecord, OperationStore } from '../directory/store';
import { runLimited } from '../provisioning/concurrency';
import { intentNames, type IntentResult } from '../shared/intents';
import { visibilityString } from '../temporal/workflowStatus';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from '../shared/searchAttributes';

/** The statuses `GET /api/operations?status=` filters by: every one but `queued`, which Temporal does not list. */
export const listedStatuses = [
  'running',
  'retrying',
  'completed',
  'failed',
  'canceled',
  'terminated',
  'timed-out',
] as const;
export type OperationStatus = 'queued' | (typeof listedStatuses)[number];

/**
 * Why a running intent has not moved on: one of its activities failed and Temporal waits to try it again
 * (transient failures are retried for up to an hour, bulk steps longer, so an unreachable target would otherwise
 * look `running` all that time).
 */
export interface ActivityRetry {
  /** The activity type, e.g. `createAndLinkRemoteUser`. */
  retryingActivity: string;
  /** The attempt running or waiting to run: 2 is the first retry. */
  attempt: number;
  /** The last attempt's failure (innermost message); null if Temporal kept none. */
  lastError: string | null;
  lastAttemptAt: string | null;
  /** When the next attempt starts; null while an attempt is in flight. */
  nextAttemptAt: string | null;
}

/** What the API and tests report about one intent workflow; the retry fields only while `retrying`. */
export interface OperationView extends Partial<ActivityRetry> {
  workflowId: string;
  appId: string;
  intent: string;
  resourceType: string;
  resourceId: string;
  status: OperationStatus;
  startTime: string | null;
  closeTime: string | null;
  result?: IntentResult;
  error?: string;
  /**
   * Only while `queued`: `lane` — waiting for an earlier, running intent for the same user or group in the same
   * app to close (it starts right after); `outbox` — recorded, not yet handed to Temporal (it could not be reached,
   * an earlier intent of its lane is still in the outbox, or the background delivery of a large change has not come
   * to it yet).
   */
  queuedIn?: 'outbox' | 'lane';
  /** Only while queued in the outbox after a failed hand-over: how many were tried, and why the last one failed. */
  deliveryAttempts?: number;
  lastDeliveryError?: string | null;
  uiUrl: string;
}

export interface OperationFilter {
  appId?: string;
  resourceId?: string;
  intent?: string;
  status?: (typeof listedStatuses)[number];
  limit: number;
}

const statusNames: Record<string, OperationStatus> = {
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'canceled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed-out',
  CONTINUED_AS_NEW: 'completed',
};
// Visibility knows no `retrying`: it is a running run whose description shows a failing activity.
const visibilityStatus: Record<(typeof listedStatuses)[number], string> = {
  running: 'Running',
  retrying: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
};

/** Running runs of a list page are described this many at a time, to tell `running` from `retrying`. */
const DESCRIBE_CONCURRENCY = 8;

type Listed = { view: OperationView; runId: string };

/**
 * What the API answers about intents: the outbox record of each (so an intent still queued in its lane is
 * known), and the run Temporal holds for it once started.
 */
export class OperationQueries {
  constructor(
    private readonly temporal: Client,
    private readonly store: Pick<OperationStore, 'getOperation' | 'openOperationBefore'>,
    private readonly options: { uiUrl: string; namespace: string },
  ) {}

  async get(workflowId: string): Promise<OperationView | null> {
    const record = await this.store.getOperation(workflowId);
    if (!record) return null;
    try {
      const handle = this.temporal.workflow.getHandle(workflowId);
      const description = await handle.describe();
      const { status, ...retry } = await statusOf(description, this.temporal);
      const view: OperationView = {
        ...this.viewOf(record, status),
        startTime: description.startTime.toISOString(),
        closeTime: description.closeTime?.toISOString() ?? null,
        ...retry,
      };
      if (view.status === 'completed') view.result = (await handle.result()) as IntentResult;
      if (view.status === 'failed') {
        view.error = await handle.result().then(
          () => undefined,
          (error: Error) => describeFailure(error),
        );
      }
      return view;
    } catch (error) {
      // Not started yet: the intent waits behind earlier ones of its lane, or in the outbox.
      if (error instanceof WorkflowNotFoundError) return this.queuedView(record);
      throw error;
    }
  }

  /**
   * Intent runs, newest first, found through the custom search attributes. Visibility only knows that a run is
   * running, so each running run of the page is described to tell `running` from `retrying` (and to drop one
   * that has closed meanwhile from a `running`/`retrying` filter).
   */
  async list(filter: OperationFilter): Promise<OperationView[]> {
    // Intents only: lanes and reconciliation runs carry the search attributes too, but are not operations.
    const clauses = [`ScimIntent IN (${intentNames.map(visibilityString).join(', ')})`];
    if (filter.appId) clauses.push(`ScimAppId = ${visibilityString(filter.appId)}`);
    if (filter.resourceId) clauses.push(`ScimResourceId = ${visibilityString(filter.resourceId)}`);
    if (filter.intent) clauses.push(`ScimIntent = ${visibilityString(filter.intent)}`);
    if (filter.status) clauses.push(`ExecutionStatus = ${visibilityString(visibilityStatus[filter.status])}`);
    const views: OperationView[] = [];
    let page: Listed[] = [];
    // A `running`/`retrying` filter drops some of what visibility lists, so read on until the limit is met;
    // a page is at least DESCRIBE_CONCURRENCY runs so that describing never goes one at a time.
    const pageSize = () => Math.max(filter.limit - views.length, DESCRIBE_CONCURRENCY);
    for await (const execution of this.temporal.workflow.list({ query: clauses.join(' AND ') })) {
      page.push({ view: this.listedView(execution), runId: execution.runId });
      if (page.length < pageSize()) continue;
      views.push(...(await this.withCurrentStatus(page, filter.status)));
      page = [];
      if (views.length >= filter.limit) break;
    }
    views.push(...(await this.withCurrentStatus(page, filter.status)));
    return views.slice(0, filter.limit);
  }

  uiUrl(workflowId: string): string {
    return `${this.options.uiUrl}/namespaces/${encodeURIComponent(this.options.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  /** Describes the running runs of a list page, keeping those that (still) have the wanted status. */
  private async withCurrentStatus(
    page: Listed[],
    wanted: OperationFilter['status'],
  ): Promise<OperationView[]> {
    const { results, failure } = await runLimited(page, DESCRIBE_CONCURRENCY, async ({ view, runId }) => {
      if (view.status !== 'running') return view;
      try {
        const description = await this.temporal.workflow.getHandle(view.workflowId, runId).describe();
        return {
          ...view,
          ...(await statusOf(description, this.temporal)),
          closeTime: description.closeTime?.toISOString() ?? null,
        };
      } catch (error) {
        // Gone past retention between the list and the describe: what visibility said is all there is.
        if (error instanceof WorkflowNotFoundError) return view;
        throw error;
      }
    });
    if (failure) throw failure.error;
    return results.filter(
      (view): view is OperationView => view !== undefined && (!wanted || view.status === wanted),
    );
  }

  private listedView(execution: WorkflowExecutionInfo): OperationView {
    const attributes = execution.typedSearchAttributes;
    return {
      workflowId: execution.workflowId,
      appId: attributes.get(scimAppId) ?? '',
      intent: attributes.get(scimIntent) ?? execution.type,
      resourceType: attributes.get(scimResourceType) ?? '',
      resourceId: attributes.get(scimResourceId) ?? '',
      status: statusNames[execution.status.name] ?? 'running',
      startTime: execution.startTime.toISOString(),
      closeTime: execution.closeTime?.toISOString() ?? null,
      uiUrl: this.uiUrl(execution.workflowId),
    };
  }

  private async queuedView(record: OperationRecord): Promise<OperationView> {
    // Delivered and not found: an earlier release's lane workflow holds it behind earlier intents.
    const behindEarlier =
      record.dispatchedAt !== null ||
      Boolean((await this.store.openOperationBefore(record.laneId, record.sequence))?.dispatchedAt);
    const view: OperationView = {
      ...this.viewOf(record, 'queued'),
      queuedIn: behindEarlier ? 'lane' : 'outbox',
    };
    if (!record.dispatchedAt && record.deliveryAttempts > 0) {
      view.deliveryAttempts = record.deliveryAttempts;
      view.lastDeliveryError = record.lastDeliveryError;
    }
    return view;
  }

  private viewOf(record: OperationRecord, status: OperationStatus): OperationView {
    return {
      workflowId: record.workflowId,
      appId: record.appId,
      intent: record.intent,
      resourceType: record.resourceType,
      resourceId: record.resourceId,
      status,
      startTime: null,
      closeTime: null,
      uiUrl: this.uiUrl(record.workflowId),
    };
  }
}

/** The run's status, `retrying` (with why) when it runs but one of its activities is being retried. */
async function statusOf(
  description: WorkflowExecutionDescription,
  client: Client,
): Promise<{ status: OperationStatus } & Partial<ActivityRetry>> {
  const status = statusNames[description.status.name] ?? 'running';
  if (status !== 'running') return { status };
  const retry = await activityRetry(description.raw.pendingActivities ?? [], client);
  return retry ? { status: 'retrying', ...retry } : { status };
}

/**
 * A pending activity past its first attempt, or with a failure on record, is being retried; one on its first
 * attempt is just running. The intent workflow itself holds its activities (the lane is a separate run), and
 * should several retry at once, the one with the most attempts tells best why the intent is stuck.
 */
async function activityRetry(
  pending: temporal.api.workflow.v1.IPendingActivityInfo[],
  client: Client,
): Promise<ActivityRetry | undefined> {
  const [worst] = pending
    .filter((activity) => (activity.attempt ?? 1) > 1 || activity.lastFailure)
    .sort((a, b) => (b.attempt ?? 1) - (a.attempt ?? 1));
  if (!worst) return undefined;
  // The raw description holds the failure as Temporal stores it, its message encrypted (temporal/failureConverter).
  const lastFailure = await decodeOptionalFailureToOptionalError(
    client.options.loadedDataConverter,
    worst.lastFailure,
  );
  return {
    retryingActivity: worst.activityType?.name ?? 'unknown',
    attempt: worst.attempt ?? 1,
    lastError: lastFailure ? describeFailure(lastFailure) : null,
    lastAttemptAt: isoTime(worst.lastAttemptCompleteTime),
    nextAttemptAt: isoTime(worst.nextAttemptScheduleTime),
  };
}

function isoTime(timestamp: Timestamp | null | undefined): string | null {
  return optionalTsToDate(timestamp)?.toISOString() ?? null;
}

/** The innermost non-empty message, for a failed run and a retried activity alike (a timeout wraps its cause). */
function describeFailure(error: Error): string {
  let message = error.message;
  let cause = (error as { cause?: Error }).cause;
  while (cause) {
    message = cause.message || message;
    cause = (cause as { cause?: Error }).cause;
  }
  return message;
}
