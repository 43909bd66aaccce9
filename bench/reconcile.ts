/**
 * `npm run bench:reconcile -- --users N [--timeout S] [--runs baseline,reconcile-initial,reconcile-nodrift]`
 *
 * The cost of reconciliation against a real SCIM server (scimmy, from test/support), in one process on this
 * machine: a headless Temporal dev server, the workflow bundle, a worker, a SQLite directory and the API, all
 * started here and stopped at the end.
 *
 * Runs:
 * - baseline:          plain direct calls at the reconciliation's own write concurrency: POST /Users for the
 *                      N users, then POST /Groups and PATCH add members in batches of 100.
 * - reconcile-initial: N directory users in one group, assigned to an app in the directory without any intent
 *                      (as if every event had been lost); timed: one `POST /api/apps/:id/reconcile` until its
 *                      workflow returns. The app starts empty, so the run provisions everything.
 * - reconcile-nodrift: a second reconciliation of the same app and target (seeded by an untimed one when
 *                      reconcile-initial is not run): nothing differs. The goal: at most 2·⌈N/pageSize⌉ list
 *                      calls and no write.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import axios from 'axios';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  type Worker,
} from '@temporalio/worker';
import { loadConfig } from '../src/config';
import type { DirectoryUser, ReconciliationReport } from '../src/directory/model';
import { SqliteDirectoryStore } from '../src/directory/sqlite/sqliteStore';
import { desiredScimGroup, desiredScimUser } from '../src/provisioning/mapping';
import { RECONCILE_CONCURRENCY } from '../src/provisioning/reconciliation';
import { createApiServer, scimflowClient } from '../src/runtime';
import { membershipPatchBatches } from '../src/scim/diff';
import { SCIM_SCHEMAS } from '../src/scim/schemas';
import { type DevServer, findTemporalCli, freePort, startDevServer } from '../src/temporal/devServer';
import { createWorker } from '../src/worker';
import { type ScimTestServer, startScimServer } from '../test/support/scimServer';
import {
  activityTimings,
  Deadline,
  DeadlineExceeded,
  describeUsage,
  ExchangeStats,
  findChildPid,
  forEachLimit,
  log,
  markdownTable,
  measureUsage,
  RssSampler,
  type Usage,
} from './support';

const PAGE_SIZE = 100;
const BATCH_SIZE = 100;
const STOP_STEP_MS = 15_000;
const API_TOKEN = `bench-${randomUUID()}`;
const ALL_RUNS = ['baseline', 'reconcile-initial', 'reconcile-nodrift'] as const;
type RunName = (typeof ALL_RUNS)[number];

function parseOptions() {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '10000' },
      timeout: { type: 'string', default: '600' },
      runs: { type: 'string', default: ALL_RUNS.join(',') },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      `npm run bench:reconcile -- [--users N=10000] [--timeout SECONDS_PER_RUN=600] [--runs ${ALL_RUNS.join(',')}]`,
    );
    process.exit(0);
  }
  const positive = (name: string, value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
    return n;
  };
  const runs = values.runs.split(',').map((r) => r.trim()) as RunName[];
  const unknown = runs.filter((r) => !ALL_RUNS.includes(r));
  if (unknown.length)
    throw new Error(`unknown --runs ${unknown.join(', ')}; choose from ${ALL_RUNS.join(', ')}`);
  return {
    users: positive('users', values.users),
    timeoutSeconds: positive('timeout', values.timeout),
    runs,
  };
}

// ── the stack ────────────────────────────────────────────────────────────────────────────────────

/** Everything the bench starts; fields are filled in as they come up so stop() closes exactly those. */
class Stack {
  tmpDir?: string;
  devServer?: DevServer;
  temporalPid?: number;
  store?: SqliteDirectoryStore;
  workerConnection?: NativeConnection;
  worker?: Worker;
  workerRun?: Promise<void>;
  temporal?: Client;
  api?: Awaited<ReturnType<typeof createApiServer>>['api'];
  apiUrl = '';
  readonly exchanges = new ExchangeStats();
  /** Summed duration of the SCIM calls the worker made since the last reset. */
  scimMs = 0;
  readonly scimServers: ScimTestServer[] = [];

  async start(): Promise<void> {
    this.tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'scimflow-bench-'));
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const cliPath = await findTemporalCli({
      projectRoot: path.resolve(__dirname, '..'),
      explicitPath: process.env.TEMPORAL_CLI_PATH,
      log,
    });
    this.devServer = await startDevServer({
      cliPath,
      dbFile: path.join(this.tmpDir, 'temporal.db'),
      port: await freePort(),
      uiPort: null,
      namespace: 'default',
      log,
    });
    this.temporalPid = findChildPid('temporal');
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../src/workflows'),
      logger: new DefaultLogger('WARN'),
    });
    const bundlePath = path.join(this.tmpDir, 'workflow-bundle.js');
    await fs.writeFile(bundlePath, bundle.code);

    const address = this.devServer.address;
    const config = loadConfig({
      SCIMFLOW_TASK_QUEUE: `bench-${randomUUID()}`,
      TEMPORAL_ADDRESS: address,
      SCIMFLOW_DATA_DIR: this.tmpDir,
    });
    this.store = await SqliteDirectoryStore.open(path.join(this.tmpDir, 'scimflow.db'));
    this.temporal = new Client({ connection: await Connection.connect({ address }), namespace: 'default' });
    this.workerConnection = await NativeConnection.connect({ address });
    this.worker = await createWorker({
      connection: this.workerConnection,
      namespace: 'default',
      taskQueue: config.taskQueue,
      store: this.store,
      workflowBundlePath: bundlePath,
      onScimExchange: (exchange) => {
        this.exchanges.record(exchange);
        this.scimMs += exchange.durationMs;
      },
      scimflow: scimflowClient(config, this.temporal, this.store),
    });
    this.workerRun = this.worker.run().catch((error) => {
      log(`worker stopped: ${String(error)}`);
    });
    const { api } = await createApiServer({
      config,
      store: this.store,
      temporal: this.temporal,
      token: API_TOKEN,
      logger: false,
    });
    this.api = api;
    this.apiUrl = await api.listen({ host: '127.0.0.1', port: 0 });
  }

  async ok<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
    const response = await axios.request<T>({
      method,
      url: `${this.apiUrl}${url}`,
      data: body,
      headers: { authorization: `Bearer ${API_TOKEN}` },
      validateStatus: () => true,
    });
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

  async stop(): Promise<void> {
    const step = async (what: string, action: () => Promise<unknown> | undefined) => {
      try {
        const outcome = await Promise.race([
          Promise.resolve(action()).then(() => 'done'),
          new Promise((resolve) => setTimeout(resolve, STOP_STEP_MS, 'timeout').unref()),
        ]);
        if (outcome === 'timeout') log(`stopping ${what} took over ${STOP_STEP_MS / 1000} s; moving on`);
      } catch (error) {
        log(`stopping ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    await step('API', () => this.api?.close());
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

// ── shared steps ─────────────────────────────────────────────────────────────────────────────────

function directoryUserInput(tag: string, i: number) {
  const userName = `${tag}-${String(i).padStart(6, '0')}@bench.example.com`;
  return {
    userName,
    name: { givenName: userName.split('@')[0], familyName: 'Bench' },
    emails: [{ value: userName, type: 'work', primary: true }],
    active: true,
  };
}

interface Target {
  scim: ScimTestServer;
  appId: string;
  groupName: string;
}

/**
 * An app whose directory side is N users in one assigned group, written straight into the store: no intent is
 * issued, so the target stays empty until a reconciliation brings it in line.
 */
async function unprovisionedApp(stack: Stack, n: number, tag: string): Promise<Target> {
  const store = stack.store as SqliteDirectoryStore;
  const scim = await stack.newScimServer();
  const app = await stack.ok<{ id: string }>('POST', '/api/apps', {
    name: `Bench ${tag}`,
    baseUrl: scim.url,
    auth: { type: 'bearer', token: scim.token },
    membershipBatchSize: BATCH_SIZE,
    reconcile: { pageSize: PAGE_SIZE, deletionThreshold: { percent: 100, count: n } },
  });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await store.createUser(directoryUserInput(tag, i))).id);
  const groupName = `${tag} group`;
  const group = await store.createGroup({ displayName: groupName, memberIds: ids });
  await store.assignGroup(app.id, group.id);
  return { scim, appId: app.id, groupName };
}

interface RunResult {
  name: RunName;
  label: string;
  users: number;
  seconds: number;
  listCalls: number;
  reads: number;
  writes: number;
  verification: string;
  usage: Usage;
  notes: string[];
}

/** The requests a target received, sorted into list pages, single reads and writes. */
function tally(scim: ScimTestServer) {
  const list = scim.requests.filter((r) => r.method === 'GET' && /^\/(Users|Groups)\/?$/.test(r.path)).length;
  const reads = scim.requests.filter((r) => r.method === 'GET').length - list;
  const writes = scim.requests.filter((r) => r.method !== 'GET').length;
  const byKind = new Map<string, number>();
  for (const r of scim.requests) {
    const kind = `${r.method} ${r.path.replace(/^\/(Users|Groups)\/[^/]+/, '/$1/:id')}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  const kinds = [...byKind.entries()].map(([kind, count]) => `${kind} ×${count}`).join(', ');
  return { list, reads, writes, kinds };
}

function verifyTarget(scim: ScimTestServer, tag: string, n: number, groupName: string): string {
  const users = scim.users().filter((u) => u.userName.startsWith(`${tag}-`));
  const group = scim.groups().find((g) => g.displayName === groupName);
  const memberIds = new Set(group?.members?.map((m) => m.value) ?? []);
  const ok = users.length === n && users.every((u) => memberIds.has(u.id)) && memberIds.size === n;
  return `${ok ? 'OK' : 'MISMATCH'}: target holds ${users.length}/${n} users, "${groupName}" has ${memberIds.size} members`;
}

/** Starts a reconciliation through the API and waits for its report, within the run's budget. */
async function reconcileOnce(stack: Stack, appId: string, deadline: Deadline) {
  const started = await stack.ok<{ workflowId: string }>('POST', `/api/apps/${appId}/reconcile`, {});
  const handle = (stack.temporal as Client).workflow.getHandle(started.workflowId);
  const report = (await deadline.race(handle.result())) as ReconciliationReport;
  const timings = activityTimings(await handle.fetchHistory())
    .filter((t) => t.activityType !== '(workflow task)')
    .map(
      (t) =>
        `${t.activityType} ${(t.runMs / 1000).toFixed(2)} s${t.attempts > t.count ? ` (${t.attempts} attempts)` : ''}`,
    );
  return { report, timings };
}

function describeReport(report: ReconciliationReport): string {
  const counts = Object.entries(report.counts)
    .filter(([, count]) => count > 0)
    .map(([category, count]) => `${category} ${count}`)
    .join(', ');
  return `report: ${report.status}; ${counts}; requests by the run: ${JSON.stringify(report.requests)}`;
}

// ── the runs ─────────────────────────────────────────────────────────────────────────────────────

async function baselineRun(stack: Stack, rss: RssSampler, n: number, timeoutS: number): Promise<RunResult> {
  const tag = 'baseline';
  const scim = await stack.newScimServer();
  const c = RECONCILE_CONCURRENCY;
  const agent = new http.Agent({ keepAlive: true, maxSockets: c });
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
  const timestamp = new Date().toISOString();
  const payloads = Array.from({ length: n }, (_, i) => {
    const user: DirectoryUser = {
      id: randomUUID(),
      createdAt: timestamp,
      updatedAt: timestamp,
      ...directoryUserInput(tag, i),
    };
    return desiredScimUser(user);
  });
  const groupName = `${tag} group`;
  log(
    `${tag}: POST ${n} users straight to the SCIM server, ${c} at a time, then the group in PATCHes of ${BATCH_SIZE} (timed)`,
  );
  const deadline = new Deadline(tag, timeoutS);
  const usage = measureUsage(rss, stack.temporalPid);
  const t0 = performance.now();
  try {
    const remoteIds: string[] = new Array(n);
    await forEachLimit(
      payloads,
      c,
      async (payload, i) => {
        const response = await target.post<{ id: string }>('/Users', payload);
        expect2xx(`POST /Users ${payload.userName}`, response);
        remoteIds[i] = response.data.id;
      },
      deadline,
    );
    const created = await target.post<{ id: string }>(
      '/Groups',
      desiredScimGroup({ id: randomUUID(), displayName: groupName }),
    );
    expect2xx('POST /Groups', created);
    for (const operations of membershipPatchBatches(remoteIds, [], BATCH_SIZE)) {
      deadline.check();
      const response = await target.patch(`/Groups/${created.data.id}`, {
        schemas: [SCIM_SCHEMAS.patchOp],
        Operations: operations,
      });
      expect2xx('PATCH /Groups', response);
    }
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - t0) / 1000;
  const used = usage();
  const requests = tally(scim);
  return {
    name: tag,
    label: `baseline: direct calls, ${c} at a time`,
    users: n,
    seconds,
    listCalls: requests.list,
    reads: requests.reads,
    writes: requests.writes,
    verification: verifyTarget(scim, tag, n, groupName),
    usage: used,
    notes: [`requests: ${requests.kinds}`, describeUsage(used)],
  };
}

async function reconcileRun(
  stack: Stack,
  rss: RssSampler,
  name: 'reconcile-initial' | 'reconcile-nodrift',
  target: Target,
  tag: string,
  n: number,
  timeoutS: number,
): Promise<RunResult> {
  target.scim.resetRequests();
  stack.exchanges.reset();
  stack.scimMs = 0;
  log(`${name}: one reconciliation of an app with ${n} users in scope (timed)`);
  const deadline = new Deadline(name, timeoutS);
  const usage = measureUsage(rss, stack.temporalPid);
  const t0 = performance.now();
  const { report, timings } = await reconcileOnce(stack, target.appId, deadline);
  const seconds = (performance.now() - t0) / 1000;
  const used = usage();
  const requests = tally(target.scim);
  const notes = [
    describeReport(report),
    `activities: ${timings.join('; ')}`,
    // The list pages are read one after the other, so for a run without writes this is its time spent waiting on the target.
    `SCIM calls took ${(stack.scimMs / 1000).toFixed(2)} s in all (summed; writes overlap, ${RECONCILE_CONCURRENCY} at a time)`,
    `requests: ${requests.kinds}`,
  ];
  if (name === 'reconcile-nodrift') {
    const allowed = 2 * Math.ceil(n / PAGE_SIZE);
    const met = requests.list <= allowed && requests.writes === 0;
    notes.unshift(
      `cost goal ${met ? 'MET' : 'MISSED'}: ${requests.list} list calls (at most 2·⌈N/${PAGE_SIZE}⌉ = ${allowed}), ` +
        `${requests.writes} writes (goal 0), ${requests.reads} other reads`,
    );
  }
  notes.push(
    'SCIM calls as the worker saw them:',
    ...stack.exchanges.summary().map((line) => `  ${line}`),
    describeUsage(used),
  );
  return {
    name,
    label: name === 'reconcile-initial' ? 'reconcile: initial provisioning' : 'reconcile: no drift',
    users: n,
    seconds,
    listCalls: requests.list,
    reads: requests.reads,
    writes: requests.writes,
    verification: verifyTarget(target.scim, tag, n, target.groupName),
    usage: used,
    notes,
  };
}

function codeVersion(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: path.resolve(__dirname, '..'),
        encoding: 'utf8',
        stdio: 'pipe',
      }).trim();
    const dirty = git('status', '--porcelain', '--', 'src').length > 0;
    return `commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'commit unknown';
  }
}

async function main(): Promise<number> {
  const { users: n, timeoutSeconds, runs } = parseOptions();
  const rss = new RssSampler();
  const stack = new Stack();
  const results: RunResult[] = [];
  let exitCode = 0;
  let stopping = false;
  process.on('unhandledRejection', (error) => {
    if (!stopping) log(`unhandled rejection: ${error instanceof Error ? error.stack : String(error)}`);
  });
  const interrupt = () => {
    log('interrupted; stopping everything');
    stopping = true;
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  // Whatever hangs, the process ends (the dev server is killed with it).
  const hardLimitS = timeoutSeconds * (runs.length + 1) + 300;
  setTimeout(() => {
    log(`hard limit of ${hardLimitS} s reached; exiting`);
    process.exit(3);
  }, hardLimitS * 1000).unref();

  const header =
    `scimflow reconciliation bench — N=${n} users, page size ${PAGE_SIZE}, write concurrency ${RECONCILE_CONCURRENCY}, ` +
    `PATCH batch ${BATCH_SIZE}, timeout ${timeoutSeconds} s per run\n` +
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, ` +
    `Node ${process.version}, ${os.platform()} ${os.release()}; scimflow ${codeVersion()}`;
  log(header.replace('\n', '\n[bench] '));
  try {
    log('starting Temporal dev server, workflow bundle, worker, directory and API');
    await stack.start();
    const record = (result: RunResult) => {
      results.push(result);
      log(
        `${result.name}: ${result.seconds.toFixed(2)} s, ${(result.users / result.seconds).toFixed(1)} users/s, ` +
          `${result.listCalls} list calls, ${result.writes} writes; ${result.verification}`,
      );
      if (!result.verification.startsWith('OK')) exitCode = 1;
      if (result.notes[0]?.includes('MISSED')) exitCode = 1;
    };
    if (runs.includes('baseline')) record(await baselineRun(stack, rss, n, timeoutSeconds));
    const tag = 'reconcile';
    let target: Target | undefined;
    if (runs.includes('reconcile-initial') || runs.includes('reconcile-nodrift')) {
      log(`setting up: ${n} directory users in one group, assigned to an app without intents (untimed)`);
      target = await unprovisionedApp(stack, n, tag);
    }
    if (target && runs.includes('reconcile-initial')) {
      record(await reconcileRun(stack, rss, 'reconcile-initial', target, tag, n, timeoutSeconds));
    } else if (target) {
      log('reconcile-nodrift: provisioning the app through an untimed first reconciliation');
      await reconcileOnce(stack, target.appId, new Deadline('seeding reconciliation', timeoutSeconds));
    }
    if (target && runs.includes('reconcile-nodrift')) {
      record(await reconcileRun(stack, rss, 'reconcile-nodrift', target, tag, n, timeoutSeconds));
    }
  } catch (error) {
    exitCode = 1;
    if (error instanceof DeadlineExceeded) log(`STOPPED: ${error.message}`);
    else log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  stopping = true;
  log('stopping everything');
  await stack.stop();
  rss.stop();

  const baseline = results.find((r) => r.name === 'baseline');
  const rows = results.map((r) => [
    r.label,
    String(r.users),
    r.seconds.toFixed(2),
    (r.users / r.seconds).toFixed(1),
    String(r.listCalls),
    String(r.reads),
    String(r.writes),
    baseline && r.name !== 'reconcile-nodrift' ? `${(baseline.seconds / r.seconds).toFixed(3)}×` : 'n/a',
  ]);
  const out = ['', header, ''];
  out.push(
    markdownTable(
      ['run', 'users', 'seconds', 'users/s', 'list calls', 'other reads', 'writes', 'throughput vs baseline'],
      rows,
    ),
  );
  out.push(
    '',
    'seconds: reconcile runs from POST /api/apps/:id/reconcile until the workflow returned its report; baseline from the',
    'first POST /Users to the last PATCH. list calls / other reads / writes: requests the SCIM target received.',
  );
  for (const r of results) {
    out.push('', `### ${r.label}`, `  target: ${r.verification}`, ...r.notes.map((note) => `  ${note}`));
  }
  console.log(out.join('\n'));
  return exitCode;
}

main()
  .then((code) => process.exit(code))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
