import fs from 'node:fs';
import { Client, Connection, type ConnectionOptions, WorkflowNotFoundError } from '@temporalio/client';
import type { Config } from './config';
import type { DirectoryStore, OperationRecord } from './directory/store';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from './temporal/searchAttributes';
import { type IntentRequest, type IntentResult, resourceOf } from './workflows/intents';
import type { intentLane } from './workflows/intentLane';

/** Address, TLS and API key as Temporal's own tools read them from the environment. */
export function connectionOptions(
  temporal: Config['temporal'],
  address: string,
): Pick<ConnectionOptions, 'tls'> & { address: string; apiKey?: string } {
  const tls = temporal.tls;
  return {
    address,
    apiKey: temporal.apiKey,
    tls:
      tls || temporal.apiKey
        ? {
            serverNameOverride: tls?.serverName,
            serverRootCACertificate: tls?.caPath ? fs.readFileSync(tls.caPath) : undefined,
            clientCertPair:
              tls?.certPath && tls.keyPath
                ? { crt: fs.readFileSync(tls.certPath), key: fs.readFileSync(tls.keyPath) }
                : undefined,
          }
        : undefined,
  };
}

export async function connectClient(temporal: Config['temporal'], address: string): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(temporal, address));
  return new Client({ connection, namespace: temporal.namespace });
}

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

/** Visibility query values are single-quoted strings; ids and intents never need more than escaping quotes. */
const quoted = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Typed starters: the one way the API, the CLI and the tests start provisioning work. Each intent is
 * recorded in the directory (which numbers it), then queued on its (app, resource) lane, which is started
 * if idle.
 */
export class ScimflowClient {
  constructor(
    private readonly client: Client,
    private readonly store: DirectoryStore,
    private readonly options: { taskQueue: string; uiUrl: string; namespace: string },
  ) {}

  get temporal(): Client {
    return this.client;
  }

  async dispatch(
    requests: IntentRequest[],
  ): Promise<{ workflowId: string; appId: string; intent: string }[]> {
    const operations = [];
    for (const request of requests) {
      const { resourceType, resourceId } = resourceOf(request);
      const appId = request.input.appId;
      const operation = await this.store.recordOperation(
        { appId, intent: request.intent, resourceType, resourceId },
        (sequence) => `${request.intent}:${appId}:${resourceId}:${sequence}`,
      );
      await this.client.workflow.signalWithStart<
        typeof intentLane,
        [typeof request & { workflowId: string }]
      >('intentLane', {
        workflowId: `lane:${appId}:${resourceType}:${resourceId}`,
        taskQueue: this.options.taskQueue,
        args: [[]],
        signal: 'enqueueIntent',
        signalArgs: [{ ...request, workflowId: operation.workflowId }],
        staticSummary: `lane for ${resourceType} ${resourceId} in app ${appId}`,
        typedSearchAttributes: [
          { key: scimAppId, value: appId },
          { key: scimResourceType, value: resourceType },
          { key: scimResourceId, value: resourceId },
          { key: scimIntent, value: 'intentLane' },
        ],
      });
      operations.push({ workflowId: operation.workflowId, appId, intent: request.intent });
    }
    return operations;
  }

  async operation(workflowId: string): Promise<OperationView | null> {
    const record = await this.store.getOperation(workflowId);
    if (!record) return null;
    try {
      const handle = this.client.workflow.getHandle(workflowId);
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
  async operations(filter: OperationFilter): Promise<OperationView[]> {
    const clauses = [`ScimIntent != 'intentLane'`, `ScimIntent IS NOT NULL`];
    if (filter.appId) clauses.push(`ScimAppId = ${quoted(filter.appId)}`);
    if (filter.resourceId) clauses.push(`ScimResourceId = ${quoted(filter.resourceId)}`);
    if (filter.intent) clauses.push(`ScimIntent = ${quoted(filter.intent)}`);
    const wanted = filter.status && visibilityStatus[filter.status];
    if (wanted) clauses.push(`ExecutionStatus = ${quoted(wanted)}`);
    const views: OperationView[] = [];
    for await (const execution of this.client.workflow.list({ query: clauses.join(' AND ') })) {
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
