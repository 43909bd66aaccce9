import fs from 'node:fs';
import { Client, Connection, type ConnectionOptions, WorkflowNotFoundError } from '@temporalio/client';
import type { Config } from './config';
import type { DirectoryStore, OperationRecord } from './directory/store';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from './shared/searchAttributes';
import {
  intentNames,
  type IntentRequest,
  type IntentResult,
  type QueuedIntent,
  resourceOf,
} from './shared/intents';
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
 * recorded in the directory's outbox (which numbers it), then queued on its (app, resource) lane, which is
 * started if idle.
 */
export class ScimflowClient {
  constructor(
    private readonly client: Client,
    private readonly store: DirectoryStore,
    private readonly options: {
      taskQueue: string;
      uiUrl: string;
      namespace: string;
      onDeliveryFailure?: (workflowId: string, error: unknown) => void;
      deliveryTimeoutMs?: number;
    },
  ) {}

  get temporal(): Client {
    return this.client;
  }

  /**
   * Records each intent in the directory's outbox (which numbers it and so names its workflow), then hands it to
   * its lane. An intent Temporal could not take stays in the outbox and `deliverPending` hands it over later, still
   * after any earlier intent of the same lane: nothing issued is lost, and nothing overtakes.
   */
  async dispatch(
    requests: IntentRequest[],
  ): Promise<{ workflowId: string; appId: string; intent: string }[]> {
    const recorded: OperationRecord[] = [];
    for (const request of requests) {
      const { resourceType, resourceId } = resourceOf(request);
      const appId = request.input.appId;
      const laneId = `lane:${appId}:${resourceType}:${resourceId}`;
      recorded.push(
        await this.store.recordOperation(
          { appId, intent: request.intent, resourceType, resourceId, laneId },
          (sequence) => {
            const workflowId = `${request.intent}:${appId}:${resourceId}:${sequence}`;
            const queued: QueuedIntent = { ...request, workflowId };
            return { workflowId, request: queued };
          },
        ),
      );
    }
    await this.deliver(recorded);
    return recorded.map(({ workflowId, appId, intent }) => ({ workflowId, appId, intent }));
  }

  /**
   * Hands over what the outbox still holds (after Temporal was unreachable); answers how many were delivered.
   * Intents issued in the last `graceMs` are left to the dispatch that is probably still delivering them.
   */
  async deliverPending(options: { limit?: number; graceMs?: number } = {}): Promise<number> {
    const issuedBefore = new Date(Date.now() - (options.graceMs ?? 10_000));
    return this.deliver(await this.store.undispatchedOperations(options.limit ?? 500, issuedBefore));
  }

  private async deliver(operations: OperationRecord[]): Promise<number> {
    const blockedLanes = new Set<string>();
    let delivered = 0;
    for (const operation of operations) {
      if (blockedLanes.has(operation.laneId)) continue;
      if (await this.store.hasUndispatchedBefore(operation.laneId, operation.sequence)) {
        blockedLanes.add(operation.laneId);
        continue;
      }
      try {
        await this.signalLane(operation);
        await this.store.markOperationDispatched(operation.workflowId);
        delivered++;
      } catch (error) {
        blockedLanes.add(operation.laneId);
        this.options.onDeliveryFailure?.(operation.workflowId, error);
      }
    }
    return delivered;
  }

  private async signalLane(operation: OperationRecord): Promise<void> {
    // Bounded, so an API call does not hang while Temporal is down; the outbox keeps the intent meanwhile.
    const deadline = Date.now() + (this.options.deliveryTimeoutMs ?? 5_000);
    await this.client.connection.withDeadline(deadline, () => this.startOrSignalLane(operation));
  }

  private async startOrSignalLane(operation: OperationRecord) {
    return this.client.workflow.signalWithStart<typeof intentLane, [QueuedIntent]>('intentLane', {
      workflowId: operation.laneId,
      taskQueue: this.options.taskQueue,
      args: [[]],
      signal: 'enqueueIntent',
      signalArgs: [operation.request as QueuedIntent],
      staticSummary: `lane for ${operation.resourceType} ${operation.resourceId} in app ${operation.appId}`,
      typedSearchAttributes: [
        { key: scimAppId, value: operation.appId },
        { key: scimResourceType, value: operation.resourceType },
        { key: scimResourceId, value: operation.resourceId },
        { key: scimIntent, value: 'intentLane' },
      ],
    });
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
    // Intents only: lanes and reconciliation runs carry the search attributes too, but are not operations.
    const clauses = [`ScimIntent IN (${intentNames.map(quoted).join(', ')})`];
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
