import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { createIntentDispatcher, type OutboxDispatcher } from '../../src/client';
import { loadConfig } from '../../src/config';
import { SqliteDirectoryStore } from '../../src/directory/sqlite/sqliteStore';
import type { DirectoryStore } from '../../src/directory/store';
import { openTestStore } from './testStore';
import { createApiServer } from '../../src/api/wiring';
import type { ScimflowMetrics } from '../../src/metrics/registry';
import type { IntentResult } from '../../src/shared/intents';
import { Keyring } from '../../src/security/keyring';
import { EncryptionCodec, isEncrypted } from '../../src/temporal/payloadCodec';
import { temporalDataConverter } from '../../src/temporal/payloadCodec';
import { createWorker } from '../../src/worker';
import { apiCalls } from './apiCalls';
import { type FaultProxy, startFaultProxy } from './faultProxy';
import { type ScimServerOptions, type ScimTestServer, startScimServer } from './scimServer';

export const API_TOKEN = 'test-token-0123456789abcdef';

let runtimeInstalled = false;
function quietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    // Activity retries are expected in fault tests; keep the console for real failures.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed by an earlier suite in this jest worker process.
  }
}

export interface Operation {
  workflowId: string;
  appId: string;
  intent: string;
}

export type Settled = { workflowId: string; intent: string } & (
  { status: 'completed'; result: IntentResult } | { status: 'failed'; error: string }
);

/**
 * One scimflow as a user runs it, against the shared test Temporal server: the real API over HTTP, a worker
 * on its own task queue, a directory (SQLite, or PostgreSQL in the `postgres` jest project), and a real SCIM server (scimmy)
 * behind our fault-injecting proxy. Every suite starts its own, so suites never see each other's runs.
 */
export class Harness {
  private constructor(
    readonly scim: ScimTestServer,
    readonly proxy: FaultProxy,
    readonly store: DirectoryStore,
    readonly temporal: Client,
    readonly dispatcher: OutboxDispatcher,
    private readonly api: Awaited<ReturnType<typeof createApiServer>>['api'],
    readonly apiUrl: string,
    private readonly worker: Worker,
    private readonly workerRun: Promise<void>,
    private readonly workerConnection: NativeConnection,
    /** The keys of this scimflow: app credentials at rest, Temporal payloads. */
    readonly keyring: Keyring,
    /** The worker's task queue (the intents' workflows run on it). */
    readonly taskQueue: string,
  ) {}

  static async start(
    options: {
      scim?: ScimServerOptions;
      outboxIntervalMs?: number;
      /** A directory in this SQLite file (default: in memory), sealed with this keyring (default: a new key). */
      dbFile?: string;
      keyring?: Keyring;
      /** Another Temporal server than the shared one (a test with its own Web UI), and where its UI is. */
      temporal?: { address: string; uiUrl?: string };
      /** A fixed API port, for a URL known before the API listens (a Temporal UI's codec endpoint). */
      apiPort?: number;
      /** One registry for the worker and the API, as `npm start` has (else the API has its own, the worker none). */
      metrics?: ScimflowMetrics;
    } = {},
  ): Promise<Harness> {
    quietRuntime();
    const address = options.temporal?.address ?? process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS;
    const bundle = process.env.SCIMFLOW_TEST_WORKFLOW_BUNDLE;
    if (!address || !bundle) throw new Error('the jest globalSetup did not start Temporal');
    const taskQueue = `test-${randomUUID()}`;
    const keyring = options.keyring ?? new Keyring(Keyring.generateKey());
    const config = loadConfig({
      SCIMFLOW_TASK_QUEUE: taskQueue,
      TEMPORAL_ADDRESS: address,
      ...(options.temporal?.uiUrl ? { TEMPORAL_UI_URL: options.temporal.uiUrl } : {}),
      // The SCIM servers of the tests listen on 127.0.0.1.
      SCIMFLOW_ALLOW_LOOPBACK_TARGETS: 'true',
    });
    const scim = await startScimServer(options.scim);
    const proxy = await startFaultProxy(scim.url);
    // A file asked for is a SQLite one (a suite that reads it); otherwise the run's store (testStore.ts).
    const store = options.dbFile
      ? await SqliteDirectoryStore.open(options.dbFile, { keyring })
      : await openTestStore(keyring);
    const temporal = new Client({
      connection: await Connection.connect({ address }),
      namespace: 'default',
      dataConverter: temporalDataConverter(keyring),
    });
    const workerConnection = await NativeConnection.connect({ address });
    const worker = await createWorker({
      connection: workerConnection,
      namespace: 'default',
      taskQueue,
      store,
      targetSettings: config.targets,
      workflowBundlePath: bundle,
      dispatcher: createIntentDispatcher(config, temporal, store),
      temporal,
      keyring,
      metrics: options.metrics,
    });
    const workerRun = worker.run();
    const { api, dispatcher } = await createApiServer({
      config,
      store,
      temporal,
      token: API_TOKEN,
      keyring,
      logger: false,
      outboxIntervalMs: options.outboxIntervalMs,
      metrics: options.metrics,
    });
    const apiUrl = await api.listen({ host: '127.0.0.1', port: options.apiPort ?? 0 });
    return new Harness(
      scim,
      proxy,
      store,
      temporal,
      dispatcher,
      api,
      apiUrl,
      worker,
      workerRun,
      workerConnection,
      keyring,
      taskQueue,
    );
  }

  private readonly calls = apiCalls(
    () => this.apiUrl,
    () => API_TOKEN,
  );
  /** An HTTP call to the scimflow API, as a user makes it (`token` null: none sent). */
  readonly call = this.calls.call;
  /** Like `call`, but fails the test on anything but 2xx. */
  readonly ok = this.calls.ok;

  async createApp(overrides: Record<string, unknown> = {}): Promise<{ id: string }> {
    return this.ok('POST', '/api/apps', {
      name: `Target ${randomUUID().slice(0, 8)}`,
      baseUrl: this.proxy.url,
      auth: { type: 'bearer', token: this.scim.token },
      ...overrides,
    });
  }

  /** Given an app with one (empty) group assigned: a user who joins the group is provisioned. */
  async appWithAssignedGroup(settings: Record<string, unknown> = {}) {
    const app = await this.createApp(settings);
    const group = await this.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `Assigned ${app.id.slice(0, 8)}`,
    });
    await this.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    return { app, group };
  }

  async createUser(
    userName: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ id: string; userName: string }> {
    return this.ok('POST', '/api/users', {
      userName,
      name: { givenName: userName.split('@')[0], familyName: 'Test' },
      emails: [{ value: userName, type: 'work', primary: true }],
      ...extra,
    });
  }

  /** Waits until each operation's workflow has closed (queued ones first have to start) and returns how. */
  async settle(operations: Operation[], timeoutMs = 90_000): Promise<Settled[]> {
    const deadline = Date.now() + timeoutMs;
    const settled: Settled[] = [];
    for (const { workflowId, intent } of operations) {
      for (;;) {
        try {
          const result = (await this.temporal.workflow.getHandle(workflowId).result()) as IntentResult;
          settled.push({ workflowId, intent, status: 'completed', result });
          break;
        } catch (error) {
          if (error instanceof WorkflowFailedError) {
            settled.push({
              workflowId,
              intent,
              status: 'failed',
              error: String(error.cause?.message ?? error),
            });
            break;
          }
          if (!(error instanceof WorkflowNotFoundError) || Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
    return settled;
  }

  /** Runs a directory change through the API and waits for every workflow it started. */
  async change(
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
  ): Promise<{ body: Record<string, unknown>; settled: Settled[] }> {
    const response = await this.ok<Record<string, unknown> & { operations: Operation[] }>(method, url, body);
    return { body: response, settled: await this.settle(response.operations) };
  }

  /**
   * Every text a run's history holds, its encrypted payloads decoded with this scimflow's key, as an operator
   * reading it through the codec server sees it.
   */
  async decodedHistoryTexts(workflowId: string, runId?: string): Promise<string[]> {
    const codec = new EncryptionCodec(this.keyring);
    const texts: string[] = [];
    const collect = (value: unknown): void => {
      if (value instanceof Uint8Array) texts.push(Buffer.from(value).toString('utf8'));
      else if (typeof value === 'string') texts.push(value);
      else if (value && typeof value === 'object') {
        const payload = value as { metadata?: unknown; data?: unknown };
        if (payload.metadata && payload.data instanceof Uint8Array && isEncrypted(payload as never)) {
          collect(codec.decodeOne(payload as never));
        } else Object.values(value).forEach(collect);
      }
    };
    collect(await this.temporal.workflow.getHandle(workflowId, runId).fetchHistory());
    return texts;
  }

  remoteUser(userName: string) {
    return this.scim.users().find((user) => user.userName.toLowerCase() === userName.toLowerCase());
  }

  remoteGroup(displayName: string) {
    return this.scim.groups().find((group) => group.displayName === displayName);
  }

  /** Writes (POST/PUT/PATCH/DELETE) the target received since `since` requests ago. */
  writesSince(index: number) {
    return this.scim.requests.slice(index).filter((request) => request.method !== 'GET');
  }

  async close(): Promise<void> {
    // The API first: it finishes its outbox pass while Temporal still answers.
    await this.api.close();
    this.worker.shutdown();
    await this.workerRun;
    await this.workerConnection.close();
    await this.temporal.connection.close();
    await this.proxy.close();
    await this.scim.close();
    await this.store.close();
  }
}
