import fs from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { Config } from './config';
import type { OperationRecord, OperationStore } from './directory/store';
import type { Logger } from './logger';
import {
  type DispatchedIntent,
  type IntentDispatcher,
  type IntentRequest,
  type QueuedIntent,
  resourceOf,
} from './shared/intents';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from './shared/searchAttributes';
import type { intentLane } from './workflows/intentLane';

/** Address, TLS and API key as Temporal's own tools read them from the environment. */
export function temporalConnectionOptions(
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

/** A Temporal client on a full Connection (which also has the operator service, for search attributes). */
export async function connectTemporal(temporal: Config['temporal'], address: string): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(temporal, address));
  return new Client({ connection, namespace: temporal.namespace });
}

/**
 * The typed starter: the one way the API, the activities, the CLI and the tests start provisioning work. Each
 * intent is recorded in the directory's outbox (which numbers it), then queued on its (app, resource) lane,
 * which is started if idle.
 */
export class OutboxDispatcher implements IntentDispatcher {
  constructor(
    private readonly temporal: Client,
    private readonly store: OperationStore,
    private readonly options: {
      taskQueue: string;
      onDeliveryFailure?: (workflowId: string, error: unknown) => void;
      deliveryTimeoutMs?: number;
    },
  ) {}

  /**
   * Records each intent in the directory's outbox (which numbers it and so names its workflow), then hands it to
   * its lane. An intent Temporal could not take stays in the outbox and `deliverPending` hands it over later, still
   * after any earlier intent of the same lane: nothing issued is lost, and nothing overtakes.
   */
  async dispatch(requests: IntentRequest[]): Promise<DispatchedIntent[]> {
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
    return recorded.map(({ workflowId, appId, intent }) => ({
      workflowId,
      appId,
      intent: intent as DispatchedIntent['intent'],
    }));
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
    await this.temporal.connection.withDeadline(deadline, () => this.startOrSignalLane(operation));
  }

  private async startOrSignalLane(operation: OperationRecord) {
    return this.temporal.workflow.signalWithStart<typeof intentLane, [QueuedIntent]>('intentLane', {
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
}

/** The dispatcher of this deployment's task queue; a delivery Temporal did not take is logged and kept. */
export function createIntentDispatcher(
  config: Config,
  temporal: Client,
  store: OperationStore,
  logger?: Logger,
): OutboxDispatcher {
  return new OutboxDispatcher(temporal, store, {
    taskQueue: config.taskQueue,
    onDeliveryFailure: (workflowId, error) =>
      logger?.warn(
        { workflowId, error: String(error) },
        'Temporal did not take the intent; it stays in the outbox',
      ),
  });
}
