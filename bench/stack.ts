/**
 * What `npm run bench:reconcile` runs on: the stack in one process — a headless Temporal dev server (SQLite in a
 * temp dir, free port), the workflow bundle, a SQLite directory, a worker, the API on loopback and the SCIM test
 * servers — its direct-call baseline and target checks. `npm run bench` runs the engine as separate processes
 * instead (bench/engine.ts); what both share lives in bench/workload.ts and bench/support.ts.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import axios, { type AxiosInstance } from 'axios';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { SqliteDirectoryStore } from '../src/directory/sqlite/sqliteStore';
import { Keyring } from '../src/security/keyring';
import { desiredScimGroup } from '../src/provisioning/mapping';
import { createApiServer } from '../src/api/wiring';
import { createIntentDispatcher } from '../src/client';
import { membershipPatchBatches } from '../src/scim/diff';
import { SCIM_SCHEMAS } from '../src/scim/schemas';
import type { DevServer } from '../src/temporal/devServer';
import { temporalDataConverter } from '../src/temporal/payloadCodec';
import { createWorker } from '../src/worker';
import { type ScimTestServer, startScimServer } from '../test/support/scimServer';
import { startTemporalWithBundle } from './engine';
import { Deadline, ExchangeStats, forEachLimit, log, boundedStep } from './support';
import { BATCH_SIZE, type scimUserPayloads } from './workload';

const STOP_STEP_MS = 15_000;
const API_TOKEN = `bench-${randomUUID()}`;

export interface StackOptions {
  /** API calls the bench keeps in flight at once (sockets of the API agent); unbounded when not given. */
  apiConcurrency?: number;
}

/** Everything the bench starts; fields are filled in as they come up so stop() closes exactly those. */
export class Stack {
  tmpDir?: string;
  devServer?: DevServer;
  temporalPid?: number;
  store?: SqliteDirectoryStore;
  workerConnection?: NativeConnection;
  worker?: Worker;
  workerRun?: Promise<void>;
  workerFailure?: unknown;
  temporal?: Client;
  api?: Awaited<ReturnType<typeof createApiServer>>['api'];
  apiUrl = '';
  apiAgent?: http.Agent;
  http!: AxiosInstance;
  /** The SCIM calls the worker made, as it saw them (since the last reset). */
  readonly exchanges = new ExchangeStats();
  readonly scimServers: ScimTestServer[] = [];
  /** The keys of this scimflow: app credentials at rest, Temporal payloads. */
  readonly keyring = new Keyring(Keyring.generateKey());
  readonly setupMs: Record<string, number> = {};
  /** Set once stopping begins: from then on, failing in-flight calls are expected. */
  stopping = false;

  async start(options: StackOptions = {}): Promise<void> {
    log('starting Temporal dev server, workflow bundle, worker, directory and API');
    this.tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'scimflow-bench-'));
    // Activity retries and worker chatter would drown the progress lines; warnings still show.
    Runtime.install({ logger: new DefaultLogger('WARN') });

    const temporal = await startTemporalWithBundle(this.tmpDir, this.setupMs);
    this.devServer = temporal.devServer;
    this.temporalPid = temporal.pid;
    const bundlePath = temporal.bundlePath;

    const started = performance.now();
    const address = temporal.devServer.address;
    const config = loadConfig({
      SCIMFLOW_TASK_QUEUE: `bench-${randomUUID()}`,
      TEMPORAL_ADDRESS: address,
      SCIMFLOW_DATA_DIR: this.tmpDir,
      SCIMFLOW_ALLOW_LOOPBACK_TARGETS: 'true',
    });
    this.store = await SqliteDirectoryStore.open(path.join(this.tmpDir, 'scimflow.db'), {
      keyring: this.keyring,
    });
    this.temporal = new Client({
      connection: await Connection.connect({ address }),
      namespace: 'default',
      dataConverter: temporalDataConverter(this.keyring),
    });
    this.workerConnection = await NativeConnection.connect({ address });
    this.worker = await createWorker({
      connection: this.workerConnection,
      namespace: 'default',
      taskQueue: config.taskQueue,
      store: this.store,
      workflowBundlePath: bundlePath,
      targetSettings: config.targets,
      onScimExchange: this.exchanges.record,
      dispatcher: createIntentDispatcher(config, this.temporal, this.store),
      temporal: this.temporal,
      keyring: this.keyring,
    });
    this.workerRun = this.worker.run().catch((error) => {
      this.workerFailure = error;
      log(`worker stopped with an error: ${error instanceof Error ? error.message : String(error)}`);
    });
    const { api } = await createApiServer({
      config,
      store: this.store,
      temporal: this.temporal,
      token: API_TOKEN,
      keyring: this.keyring,
      logger: false,
    });
    this.api = api;
    this.apiUrl = await api.listen({ host: '127.0.0.1', port: 0 });
    this.apiAgent = new http.Agent({ keepAlive: true, maxSockets: options.apiConcurrency });
    this.http = axios.create({
      baseURL: this.apiUrl,
      headers: { authorization: `Bearer ${API_TOKEN}` },
      httpAgent: this.apiAgent,
      validateStatus: () => true,
    });
    this.setupMs['worker + API'] = performance.now() - started;
  }

  /** A call to the scimflow API that must answer 2xx. */
  async ok<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    body?: unknown,
  ): Promise<T> {
    const response = await this.http.request<T>({ method, url, data: body });
    if (response.status >= 300) {
      throw new Error(
        `${method} ${url} answered ${response.status}: ${JSON.stringify(response.data).slice(0, 500)}`,
      );
    }
    return response.data;
  }

  async newScimServer(): Promise<ScimTestServer> {
    const server = await startScimServer();
    this.scimServers.push(server);
    return server;
  }

  /** An app provisioning to `scim`; `settings` add to (or override) the bench defaults. */
  async createApp(scim: ScimTestServer, name: string, settings: object = {}): Promise<{ id: string }> {
    return this.ok('POST', '/api/apps', {
      name,
      baseUrl: scim.url,
      auth: { type: 'bearer', token: scim.token },
      membershipBatchSize: BATCH_SIZE,
      ...settings,
    });
  }

  /** Process-wide guards for a bench's main: an interrupt stops the stack, and nothing can hang it for good. */
  guardProcess(hardLimitS: number): void {
    // Past a timeout, in-flight calls fail as everything is closed; that is expected, not a crash.
    process.on('unhandledRejection', (error) => {
      if (!this.stopping) log(`unhandled rejection: ${error instanceof Error ? error.stack : String(error)}`);
    });
    const interrupt = () => {
      log('interrupted; stopping everything');
      void this.stop().finally(() => process.exit(130));
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    // Last resort: whatever hangs, the process ends (the dev server is SIGKILLed on exit by startDevServer).
    setTimeout(() => {
      log(`hard limit of ${hardLimitS} s reached; exiting`);
      process.exit(3);
    }, hardLimitS * 1000).unref();
  }

  /** Every step bounded, so a stuck step cannot keep the bench from exiting. */
  async stop(): Promise<void> {
    this.stopping = true;
    const step = (what: string, action: () => Promise<unknown> | undefined) =>
      boundedStep(what, action, STOP_STEP_MS);
    await step('API', () => this.api?.close());
    this.apiAgent?.destroy();
    await step('worker', async () => {
      if (this.worker?.getState() === 'RUNNING') this.worker.shutdown();
      await this.workerRun;
    });
    await step('worker connection', () => this.workerConnection?.close());
    await step('client connection', () => this.temporal?.connection.close());
    for (const server of this.scimServers) await step('SCIM server', () => server.close());
    await step('directory store', () => this.store?.close());
    await step('Temporal dev server', () => this.devServer?.stop());
    if (this.tmpDir)
      await step('temp dir', () => fs.rm(this.tmpDir as string, { recursive: true, force: true }));
  }
}

// ── the direct-call baseline ─────────────────────────────────────────────────────────────────────

/**
 * Plain SCIM calls, no engine: POST /Users for every payload, `concurrency` at a time, then POST /Groups and
 * PATCH add members in batches of BATCH_SIZE. Resolves after the last PATCH, telling when the users were in.
 */
export async function provisionDirectly(
  scim: ScimTestServer,
  payloads: ReturnType<typeof scimUserPayloads>,
  groupName: string,
  concurrency: number,
  deadline: Deadline,
): Promise<{ usersCreatedAt: number; patches: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = axios.create({
    baseURL: scim.url,
    headers: {
      Authorization: `Bearer ${scim.token}`,
      Accept: 'application/scim+json, application/json',
      'Content-Type': 'application/scim+json',
    },
    httpAgent: agent,
    validateStatus: () => true,
  });
  const expect2xx = (what: string, response: { status: number; data: unknown }) => {
    if (response.status >= 300)
      throw new Error(`${what} answered ${response.status}: ${JSON.stringify(response.data)}`);
  };
  try {
    const remoteIds: string[] = new Array(payloads.length);
    await forEachLimit(
      payloads,
      concurrency,
      async (payload, i) => {
        const response = await target.post<{ id: string }>('/Users', payload);
        expect2xx(`POST /Users ${payload.userName}`, response);
        remoteIds[i] = response.data.id;
      },
      deadline,
    );
    const usersCreatedAt = performance.now();
    const created = await target.post<{ id: string }>(
      '/Groups',
      desiredScimGroup({ id: randomUUID(), displayName: groupName }),
    );
    expect2xx('POST /Groups', created);
    const batches = membershipPatchBatches(remoteIds, [], BATCH_SIZE);
    for (const operations of batches) {
      deadline.check();
      const response = await target.patch(`/Groups/${created.data.id}`, {
        schemas: [SCIM_SCHEMAS.patchOp],
        Operations: operations,
      });
      expect2xx('PATCH /Groups', response);
    }
    return { usersCreatedAt, patches: batches.length };
  } finally {
    agent.destroy();
  }
}

// ── what a target received and holds ─────────────────────────────────────────────────────────────

/** Requests a target received, by method and path shape (resource ids folded into `:id`), in arrival order. */
export function requestsByKind(scim: ScimTestServer): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const r of scim.requests) {
    const kind = `${r.method} ${r.path.replace(/^\/(Users|Groups)\/[^/]+/, '/$1/:id')}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  return byKind;
}

/** Did the target end up with every user of the run, and the group with every one of them as member? */
export function inspectTarget(scim: ScimTestServer, tag: string, n: number, groupName: string) {
  const users = scim.users().filter((u) => u.userName.startsWith(`${tag}-`));
  const group = scim.groups().find((g) => g.displayName === groupName);
  const memberIds = new Set(group?.members?.map((m) => m.value) ?? []);
  const runMembers = users.filter((u) => memberIds.has(u.id)).length;
  return {
    ok: users.length === n && runMembers === n && memberIds.size === n,
    users: users.length,
    members: memberIds.size,
    runMembers,
  };
}

// ── around a bench's main: shared with bench/provision.ts through workload.ts ──────────────────────

export {
  BATCH_SIZE,
  codeVersion,
  describeMachine,
  directoryUserInput,
  exitWhenDone,
  logFailure,
  scimUserPayloads,
  userNames,
} from './workload';
