import fs from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { Config } from './config';
import { recordIntents } from './directory/outbox';
import type { DirectoryStore, OperationStore } from './directory/store';
import type { Logger } from './logger';
import {
  type DispatchedIntent,
  type IntentDispatcher,
  type IntentRequest,
  type QueuedIntent,
  type RecordedIntent,
} from './shared/intents';
import { runLimited } from './provisioning/concurrency';
import type { Keyring } from './security/keyring';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from './shared/searchAttributes';
import { temporalDataConverter } from './temporal/payloadCodec';
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

/**
 * A Temporal client on a full Connection (which also has the operator service, for search attributes), with the
 * payload codec: it writes and reads only encrypted payloads.
 */
export async function connectTemporal(
  temporal: Config['temporal'],
  address: string,
  keyring: Keyring,
): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(temporal, address));
  return new Client({
    connection,
    namespace: temporal.namespace,
    dataConverter: temporalDataConverter(keyring),
  });
}

export interface OutboxOptions {
  taskQueue: string;
  onDeliveryFailure?: (workflowId: string, error: unknown) => void;
  /** How long one hand-over may take before it counts as failed (Temporal unreachable). */
  deliveryTimeoutMs?: number;
  /** How long a delivery holds its operation; longer than any delivery may take, so none outlives its lease. */
  leaseMs?: number;
  /** Lanes handed over at once (one lane's intents always go one after the other). */
  concurrency?: number;
  /** A change issuing more intents than this is answered once they are recorded; they go in the background. */
  inlineLimit?: number;
}

const defaults = { deliveryTimeoutMs: 5_000, leaseMs: 15_000, concurrency: 16, inlineLimit: 25 };
const BATCH = 500;

/**
 * The typed starter: the one way the API, the activities and the tests start provisioning work. Intents are
 * recorded in the directory's outbox (with the change that issued them, or by `dispatch`), then handed to their
 * (app, resource) lane, which is started if idle. Every hand-over holds a lease on its operation, so no other
 * pass — in this process or another — starts the same delivery while it is in flight; an operation is handed
 * over only when every earlier one of its lane has been, so lanes keep their order. What Temporal did not take
 * stays in the outbox for the next pass (`deliverSoon`, and the API's periodic `deliverPending`).
 */
export class OutboxDispatcher implements IntentDispatcher {
  private readonly options: Required<Omit<OutboxOptions, 'onDeliveryFailure'>> &
    Pick<OutboxOptions, 'onDeliveryFailure'>;
  private background: Promise<void> | null = null;
  private passRequested = false;

  constructor(
    private readonly temporal: Client,
    private readonly store: OperationStore & Pick<DirectoryStore, 'transaction'>,
    options: OutboxOptions,
  ) {
    this.options = { ...defaults, ...options };
  }

  async dispatch(requests: IntentRequest[]): Promise<DispatchedIntent[]> {
    if (requests.length === 0) return [];
    return this.handOver(await this.store.transaction((tx) => recordIntents(tx, requests)));
  }

  async handOver(recorded: RecordedIntent[]): Promise<DispatchedIntent[]> {
    if (recorded.length === 0) return [];
    if (recorded.length > this.options.inlineLimit) {
      this.deliverSoon();
      return recorded.map((intent) => dispatched(intent, 'queued'));
    }
    let delivered = new Set<number>();
    try {
      delivered = await this.deliver(recorded);
    } catch (error) {
      // The intents are committed with their change whatever happens here: the next pass hands them over.
      this.options.onDeliveryFailure?.('(outbox)', error);
      this.deliverSoon();
    }
    return recorded.map((intent) =>
      dispatched(intent, delivered.has(intent.sequence) ? 'delivered' : 'queued'),
    );
  }

  /**
   * Hands over everything the outbox holds that no delivery is working on, in batches, until nothing more can
   * go; answers how many were delivered.
   */
  async deliverPending(): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = await this.store.deliverableOperations(BATCH);
      const delivered = batch.length > 0 ? (await this.deliver(batch)).size : 0;
      total += delivered;
      // Nothing went (Temporal unreachable, or every lane waits for a delivery elsewhere): the next pass retries.
      if (delivered === 0 || batch.length < BATCH) return total;
    }
  }

  /** Starts a background pass of `deliverPending` now, or right after the one under way. */
  deliverSoon(): void {
    if (this.background) {
      this.passRequested = true;
      return;
    }
    this.background = (async () => {
      do {
        this.passRequested = false;
        await this.deliverPending().catch((error) => this.options.onDeliveryFailure?.('(outbox)', error));
      } while (this.passRequested);
    })().finally(() => {
      this.background = null;
    });
  }

  /** Waits for the background pass, if any (before closing the store). */
  async idle(): Promise<void> {
    while (this.background) await this.background;
  }

  private async deliver(operations: RecordedIntent[]): Promise<Set<number>> {
    const lanes = new Map<string, RecordedIntent[]>();
    for (const operation of [...operations].sort((a, b) => a.sequence - b.sequence)) {
      lanes.set(operation.laneId, [...(lanes.get(operation.laneId) ?? []), operation]);
    }
    const delivered = new Set<number>();
    const { failure } = await runLimited([...lanes.values()], this.options.concurrency, async (lane) => {
      for (const operation of lane) {
        if (!(await this.deliverOne(operation))) return;
        delivered.add(operation.sequence);
      }
    });
    if (failure) throw failure.error;
    return delivered;
  }

  /** One hand-over; false when it did not happen (its lane must wait, or someone else is delivering it). */
  private async deliverOne(operation: RecordedIntent): Promise<boolean> {
    if (await this.store.hasUndispatchedBefore(operation.laneId, operation.sequence)) return false;
    if (!(await this.store.leaseOperation(operation.sequence, this.options.leaseMs))) return false;
    try {
      await this.signalLane(operation);
    } catch (error) {
      await this.store.releaseOperation(operation.sequence, String(error));
      this.options.onDeliveryFailure?.(operation.workflowId, error);
      return false;
    }
    await this.store.markOperationDispatched(operation.sequence);
    return true;
  }

  private async signalLane(operation: RecordedIntent): Promise<void> {
    // Bounded, so an API call does not hang while Temporal is down; the outbox keeps the intent meanwhile.
    const deadline = Date.now() + this.options.deliveryTimeoutMs;
    await this.temporal.connection.withDeadline(deadline, () => this.startOrSignalLane(operation));
  }

  private async startOrSignalLane(operation: RecordedIntent) {
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

const dispatched = (intent: RecordedIntent, status: DispatchedIntent['status']): DispatchedIntent => ({
  workflowId: intent.workflowId,
  appId: intent.appId,
  intent: intent.intent as DispatchedIntent['intent'],
  status,
});

/** The dispatcher of this deployment's task queue; a delivery Temporal did not take is logged and kept. */
export function createIntentDispatcher(
  config: Config,
  temporal: Client,
  store: OperationStore & Pick<DirectoryStore, 'transaction'>,
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
