import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { OperationRecord, OperationStore } from '../directory/store';
import { intentNames, type IntentResult } from '../shared/intents';
import { visibilityString } from '../temporal/workflowStatus';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from '../shared/searchAttributes';

/** What the API and tests report about one intent workflow. */
export interface OperationView {
  workflowId: string;
  appId: string;
  intent: string;
  resourceType: string;
  resourceId: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed-out';
  startTime: string | null;
  closeTime: string | null;
  result?: IntentResult;
  error?: string;
  uiUrl: string;
}

export interface OperationFilter {
  appId?: string;
  resourceId?: string;
  intent?: string;
  status?: OperationView['status'];
  limit: number;
}

const statusNames: Record<string, OperationView['status']> = {
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'canceled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed-out',
  CONTINUED_AS_NEW: 'completed',
};
const visibilityStatus: Partial<Record<OperationView['status'], string>> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
};

/**
 * What the API answers about intents: the outbox record of each (so an intent still queued in its lane is
 * known), and the run Temporal holds for it once started.
 */
export class OperationQueries {
  constructor(
    private readonly temporal: Client,
    private readonly store: Pick<OperationStore, 'getOperation'>,
    private readonly options: { uiUrl: string; namespace: string },
  ) {}

  async get(workflowId: string): Promise<OperationView | null> {
    const record = await this.store.getOperation(workflowId);
    if (!record) return null;
    try {
      const handle = this.temporal.workflow.getHandle(workflowId);
      const description = await handle.describe();
      const status = statusNames[description.status.name] ?? 'running';
      const view: OperationView = {
        ...this.viewOf(record, status),
        startTime: description.startTime.toISOString(),
        closeTime: description.closeTime?.toISOString() ?? null,
      };
      if (status === 'completed') view.result = (await handle.result()) as IntentResult;
      if (status === 'failed') {
        view.error = await handle.result().then(
          () => undefined,
          (error: Error) => describeFailure(error),
        );
      }
      return view;
    } catch (error) {
      // Not started yet: the intent waits in its lane behind earlier ones.
      if (error instanceof WorkflowNotFoundError) return this.viewOf(record, 'queued');
      throw error;
    }
  }

  /** Intent runs, newest first, found through the custom search attributes. */
  async list(filter: OperationFilter): Promise<OperationView[]> {
    // Intents only: lanes and reconciliation runs carry the search attributes too, but are not operations.
    const clauses = [`ScimIntent IN (${intentNames.map(visibilityString).join(', ')})`];
    if (filter.appId) clauses.push(`ScimAppId = ${visibilityString(filter.appId)}`);
    if (filter.resourceId) clauses.push(`ScimResourceId = ${visibilityString(filter.resourceId)}`);
    if (filter.intent) clauses.push(`ScimIntent = ${visibilityString(filter.intent)}`);
    const wanted = filter.status && visibilityStatus[filter.status];
    if (wanted) clauses.push(`ExecutionStatus = ${visibilityString(wanted)}`);
    const views: OperationView[] = [];
    for await (const execution of this.temporal.workflow.list({ query: clauses.join(' AND ') })) {
      const attributes = execution.typedSearchAttributes;
      views.push({
        workflowId: execution.workflowId,
        appId: attributes.get(scimAppId) ?? '',
        intent: attributes.get(scimIntent) ?? execution.type,
        resourceType: attributes.get(scimResourceType) ?? '',
        resourceId: attributes.get(scimResourceId) ?? '',
        status: statusNames[execution.status.name] ?? 'running',
        startTime: execution.startTime.toISOString(),
        closeTime: execution.closeTime?.toISOString() ?? null,
        uiUrl: this.uiUrl(execution.workflowId),
      });
      if (views.length >= filter.limit) break;
    }
    return views;
  }

  uiUrl(workflowId: string): string {
    return `${this.options.uiUrl}/namespaces/${encodeURIComponent(this.options.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  private viewOf(record: OperationRecord, status: OperationView['status']): OperationView {
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

function describeFailure(error: Error): string {
  let message = error.message;
  let cause = (error as { cause?: Error }).cause;
  while (cause) {
    message = cause.message || message;
    cause = (cause as { cause?: Error }).cause;
  }
  return message;
}
