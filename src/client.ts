import fs from 'node:fs';
import {
  Client,
  Connection,
  type ConnectionOptions,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Config } from './config';
import { recordIntents } from './directory/outbox';
import type { DirectoryStore, OperationRecord, OperationStore } from './directory/store';
import type { Logger } from './logger';
import {
  type DispatchedIntent,
  type IntentDispatcher,
  type IntentRequest,
  type QueuedIntent,
  type RecordedIntent,
  resourceOf,
} from './shared/intents';
import { runLimited } from './provisioning/concurrency';
import type { Keyring } from './security/keyring';
import { scimAppId, scimIntent, scimResourceId, scimResourceType } from './shared/searchAttributes';
import { temporalDataConverter } from './temporal/payloadCodec';

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
/** Long polls held at once for running intents that others wait on; beyond it, the periodic pass checks them. */
const MAX_WATCHES = 500;

/**
 * The typed starter: the one way the API, the activities and the tests start provisioning work. Intents are
 * recorded in the directory's outbox (with the change that issued them, or by `dispatch`), then each is started
 * as its own workflow. The outbox keeps each (app, resource) lane in order: an intent starts only once every
 * earlier one of its lane has closed (a running one is watched, and its successor starts when it closes). Every
 * hand-over holds a lease on its operation, so no other pass — in this process or another — starts the same
 * delivery while it is in flight. What Temporal did not take stays in the outbox for the next pass
 * (`deliverSoon`, and the API's periodic `deliverPending`).
 */
export class OutboxDispatcher implements IntentDispatcher {
  private readonly options: Required<Omit<OutboxOptions, 'onDeliveryFailure'>> &
    Pick<OutboxOptions, 'onDeliveryFailure'>;
  private background: Promise<void> | null = null;
  private passRequested = false;
  /** Running intents a later intent of their lane waits on, by workflow id. */
  private readonly watches = new Map<string, Promise<void>>();
  private stopped = false;

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
      if (delivered > 0 && batch.length === BATCH) continue;
      // Lanes whose next intent waits on one that may have closed meanwhile (seen by another process, or while
      // this one was down): free them and go on; nothing freed means the next pass or a watch retries.
      if ((await this.checkAwaited()) === 0) return total;
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

  /** Waits for the background pass, if any, and ends the watches (before closing the store). */
  async idle(): Promise<void> {
    this.stopped = true;
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

  /**
   * One hand-over; false when it did not happen (an earlier intent of its lane is still open, or someone else is
   * delivering it).
   */
  private async deliverOne(operation: RecordedIntent): Promise<boolean> {
    if (!(await this.laneIsFree(operation))) return false;
    if (!(await this.store.leaseOperation(operation.sequence, this.options.leaseMs))) return false;
    try {
      await this.start(operation);
    } catch (error) {
      await this.store.releaseOperation(operation.sequence, String(error));
      this.options.onDeliveryFailure?.(operation.workflowId, error);
      return false;
    }
    await this.store.markOperationDispatched(operation.sequence);
    return true;
  }

  /**
   * Whether every earlier intent of the operation's lane has closed. One that was delivered and may have closed
   * since is asked about (and recorded closed); one still running is watched, so its successor starts as soon as
   * it closes.
   */
  private async laneIsFree(operation: RecordedIntent): Promise<boolean> {
    for (;;) {
      const open = await this.store.openOperationBefore(operation.laneId, operation.sequence);
      if (!open) return true;
      // Still in the outbox itself: its own delivery comes first.
      if (!open.dispatchedAt) return false;
      if (!(await this.hasClosed(open))) {
        this.watch(open);
        return false;
      }
      await this.store.markOperationClosed(open.sequence);
    }
  }

  /** Delivered intents that later ones wait on: recorded closed when they have, watched while they run. */
  private async checkAwaited(): Promise<number> {
    const awaited = (await this.store.awaitedOperations(BATCH)).filter(
      (operation) => !this.watches.has(operation.workflowId),
    );
    let closed = 0;
    const { failure } = await runLimited(awaited, this.options.concurrency, async (operation) => {
      if (!(await this.hasClosed(operation))) return this.watch(operation);
      await this.store.markOperationClosed(operation.sequence);
      closed++;
    });
    if (failure) throw failure.error;
    return closed;
  }

  private async hasClosed(operation: OperationRecord | RecordedIntent): Promise<boolean> {
    const running = await this.isRunning(operation.workflowId);
    if (running !== 'not found') return !running;
    // Delivered by an earlier release to its lane workflow, which has not started it yet while that lane runs;
    // otherwise it is past retention.
    return (await this.isRunning(operation.laneId)) !== true;
  }

  private async isRunning(workflowId: string): Promise<boolean | 'not found'> {
    try {
      const description = await this.temporal.workflow.getHandle(workflowId).describe();
      return description.status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'not found';
      throw error;
    }
  }

  /**
   * Waits (one long poll) for a running intent to close, then records it closed and delivers what its lane holds
   * next. A watch that ends otherwise (this process closing, Temporal unreachable) is left to the next pass.
   */
  private watch(operation: OperationRecord | RecordedIntent): void {
    if (this.stopped || this.watches.has(operation.workflowId)) return;
    if (this.watches.size >= MAX_WATCHES) return;
    const watch = this.temporal.workflow
      .getHandle(operation.workflowId)
      .result()
      // A failed, cancelled or terminated intent has closed as well; whether it has is asked below.
      .catch(() => undefined)
      .then(async () => {
        if (this.stopped || !(await this.hasClosed(operation))) return;
        await this.store.markOperationClosed(operation.sequence);
        this.deliverSoon();
      })
      .catch((error) => {
        if (!this.stopped) this.options.onDeliveryFailure?.(operation.workflowId, error);
      })
      .finally(() => this.watches.delete(operation.workflowId));
    this.watches.set(operation.workflowId, watch);
  }

  /** Starts the intent's workflow, bounded so an API call does not hang while Temporal is down. */
  private async start(operation: RecordedIntent): Promise<void> {
    const queued = operation.request as QueuedIntent;
    const { resourceType, resourceId } = resourceOf(queued);
    const deadline = Date.now() + this.options.deliveryTimeoutMs;
    try {
      await this.temporal.connection.withDeadline(deadline, () =>
        this.temporal.workflow.start(queued.intent, {
          workflowId: queued.workflowId,
          taskQueue: this.options.taskQueue,
          args: [queued.input],
          staticSummary: queued.summary,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: [
            { key: scimAppId, value: operation.appId },
            { key: scimResourceType, value: resourceType },
            { key: scimResourceId, value: resourceId },
            { key: scimIntent, value: queued.intent },
          ],
        }),
      );
    } catch (error) {
      // Delivered before, and its confirmation lost: the intent runs or ran.
      if (error instanceof WorkflowExecutionAlreadyStartedError) return;
      throw error;
    }
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
