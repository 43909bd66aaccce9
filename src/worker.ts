import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { connectTemporal, createIntentDispatcher, temporalConnectionOptions } from './client';
import { type Config, loadConfig } from './config';
import type { DirectoryStore } from './directory/store';
import { openConfiguredDirectory } from './directory/openStore';
import { createLogger } from './logger';
import { loadKeyring } from './security/keys';
import { serveMetrics } from './metrics/http';
import { countingDispatcher, rateLimiterCallbacks, scimInstrumentation } from './metrics/instrument';
import { ScimflowMetrics } from './metrics/registry';
import { workerMetricsOptions } from './metrics/temporalWorker';
import { RateLimiter } from './provisioning/rateLimiter';
import { type TargetSettings, Targets } from './provisioning/targets';
import type { ScimClientOptions } from './scim/client';
import type { Keyring } from './security/keyring';
import type { IntentDispatcher } from './shared/intents';
import { temporalDataConverter } from './temporal/payloadCodec';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  store: DirectoryStore;
  /** A prebuilt bundle (tests, production images); without it the workflows are bundled at start. */
  workflowBundlePath?: string;
  onScimExchange?: ScimClientOptions['onExchange'];
  /** Which targets may be called (`config.targets`); without it only public https ones. */
  targetSettings?: TargetSettings;
  /** Lets activities issue intents of their own (role and entitlement syncs update users through their lanes). */
  dispatcher?: IntentDispatcher;
  /** A client on a full Connection for activities that look at other runs (else the activity context's). */
  temporal?: Client;
  maxConcurrentActivities?: number;
  /** Encrypts what the worker writes to Temporal and reads what clients wrote (the payload codec). */
  keyring: Keyring;
  /**
   * Where the worker's metrics go (`src/metrics/`): intents it issued, completed and failed, SCIM calls, 429s,
   * retries, reconciliation reports. None: nothing is measured.
   */
  metrics?: ScimflowMetrics;
}

/**
 * Tuned for scimflow's shape of work, as measured with `npm run bench` (docs/operations.md, "Sizing"): an intent is
 * mostly one workflow task whose steps run as local activities inside it, on the task queue's normal (not sticky)
 * queue, since a new workflow's first task always goes there. So the pollers of the normal queue are what limit
 * throughput (the SDK's default gives it 2 of 10), while a workflow cache is little use and costs memory.
 */
const tuning = {
  // A workflow task holds its slot while its local activities run (a few SCIM calls, one at a time): 40 keep a
  // 2-core worker busy (100 measured no faster, and held more memory).
  maxConcurrentWorkflowTaskExecutions: 40,
  maxConcurrentLocalActivityExecutions: 40,
  workflowTaskPollerBehavior: { type: 'autoscaling', minimum: 2, initial: 8, maximum: 32 },
  nonStickyToStickyPollRatio: 1,
  maxCachedWorkflows: 100,
} as const;

export async function createWorker(options: WorkerOptions): Promise<Worker> {
  const { metrics } = options;
  const pacer = new RateLimiter(options.store, metrics ? rateLimiterCallbacks(metrics) : {});
  const scim = metrics
    ? scimInstrumentation(metrics, { pacer, onExchange: options.onScimExchange })
    : { pacer, onExchange: options.onScimExchange };
  const targets = new Targets(options.store, {
    onExchange: scim.onExchange,
    settings: options.targetSettings,
    pacer: scim.pacer,
  });
  const measured = metrics ? workerMetricsOptions(metrics) : undefined;
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities({
      store: options.store,
      targets,
      dispatcher:
        metrics && options.dispatcher ? countingDispatcher(options.dispatcher, metrics) : options.dispatcher,
      temporal: options.temporal,
    }),
    ...(measured ? { sinks: measured.sinks, interceptors: { activity: measured.activityInterceptors } } : {}),
    ...(options.workflowBundlePath
      ? { workflowBundle: { codePath: options.workflowBundlePath } }
      : { workflowsPath: require.resolve('./workflows') }),
    ...tuning,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 100,
    // A prebuilt bundle must have been built with the same failure converter (`failureConverterPath`).
    dataConverter: temporalDataConverter(options.keyring),
  });
}

export async function connectWorker(config: Config, address: string): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(config.temporal, address));
}

/** `npm run worker`: a worker alone, against TEMPORAL_ADDRESS, so workers scale out as separate processes. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (!config.temporal.address) throw new Error('TEMPORAL_ADDRESS is required to run a worker on its own');
  const keyring = loadKeyring(config, { createIfMissing: false, notice: (message) => logger.warn(message) });
  const store = await openConfiguredDirectory(config, keyring, logger);
  const connection = await connectWorker(config, config.temporal.address);
  const temporal = await connectTemporal(config.temporal, config.temporal.address, keyring);
  const dispatcher = createIntentDispatcher(config, temporal, store, logger);
  const metrics = config.workerMetrics ? new ScimflowMetrics() : undefined;
  const worker = await createWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.taskQueue,
    store,
    targetSettings: config.targets,
    workflowBundlePath: config.workflowBundlePath,
    dispatcher,
    temporal,
    keyring,
    metrics,
  });
  const metricsListener =
    metrics && config.workerMetrics ? await serveMetrics(metrics, config.workerMetrics) : undefined;
  logger.info(
    { taskQueue: config.taskQueue, namespace: config.temporal.namespace, metrics: metricsListener?.url },
    'worker started',
  );
  await worker.run();
  await metricsListener?.close();
  // Deliveries under way finish, and the watches of running intents end quietly, before their connection closes.
  await dispatcher.idle();
  await temporal.connection.close();
  await connection.close();
  await store.close();
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
