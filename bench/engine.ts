/**
 * scimflow as an operator runs it, for `npm run bench`: every piece in a process of its own, on loopback —
 * the Temporal dev server (SQLite in a temp dir, WAL, synchronous=OFF), one API process (`src/api/main.ts`),
 * one worker process (`src/worker.ts`, with a workflow bundle built here beforehand, as docs/operations.md
 * advises) and SCIM targets (`bench/scimTarget.ts`), one per run. The bench talks to the API over HTTP, to the
 * targets over their `/_bench` control routes, and to Temporal with a client (histories only).
 *
 * Every child runs in its own process group and is killed with it: on stop(), on SIGINT/SIGTERM, and
 * synchronously on this process's exit, whatever the reason.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import axios, { type AxiosInstance } from 'axios';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { createDatabase } from '../test/support/postgres';
import { Keyring } from '../src/security/keyring';
import { type DevServer, findTemporalCli, freePort, startDevServer } from '../src/temporal/devServer';
import { failureConverterPath, temporalDataConverter } from '../src/temporal/payloadCodec';
import type { TargetRecord, TargetState, TargetSummary } from './scimTarget';
import { findChildPid, log, boundedStep } from './support';

const PROJECT_ROOT = path.resolve(__dirname, '..');
/** The worker's node options in package.json's `worker` script (and the Compose file's worker command). */
const WORKER_NODE_OPTIONS = ['--max-semi-space-size=8'];
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;
const STOP_STEP_MS = 15_000;
const OUTPUT_TAIL_LINES = 30;
// The Temporal SDK logs this at INFO whatever SCIMFLOW_LOG_LEVEL says; a lone worker serves no HTTP to probe.
const WORKER_RUNNING = /Worker state changed \{[^}]*'RUNNING'/;

/** Every child still alive, so that no exit path of the bench leaves one behind. */
const alive = new Set<BenchChild>();
process.once('exit', () => {
  for (const child of alive) child.killNow();
});

/** A child process in its own process group, with the end of its output kept for error messages. */
export class BenchChild {
  private readonly tail: string[] = [];
  private recent = '';
  readonly exited: Promise<void>;
  exit?: string;
  /** Set by stop(): from then on an exit is expected. */
  private stopping = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    alive.add(this);
    const remember = (chunk: Buffer) => {
      const text = chunk.toString();
      this.recent = (this.recent + text).slice(-4_000);
      this.tail.push(...text.trimEnd().split('\n'));
      if (this.tail.length > OUTPUT_TAIL_LINES) this.tail.splice(0, this.tail.length - OUTPUT_TAIL_LINES);
    };
    child.stdout?.on('data', remember);
    child.stderr?.on('data', remember);
    this.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        this.exit ??= `could not start: ${error.message}`;
        alive.delete(this);
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.exit ??= signal ? `signal ${signal}` : `exit code ${code}`;
        alive.delete(this);
        if (!this.stopping) log(`${name} exited on its own (${this.exit}); its last output:\n${this.output}`);
        resolve();
      });
    });
  }

  /**
   * `node --import tsx <script>` from the project root, with exactly `env` (plus PATH, HOME, TMPDIR).
   * `BENCH_PROFILE_DIR=<dir>` runs each child with `--cpu-prof` into that folder, to see where the engine's time goes;
   * `BENCH_NODE_ARGS` adds node options (e.g. heap limits) to each.
   */
  static spawnTsx(
    name: string,
    script: string,
    env: Record<string, string>,
    nodeOptions: string[] = [],
  ): BenchChild {
    const extra = [...nodeOptions, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
    const profile = process.env.BENCH_PROFILE_DIR
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`,
          `--cpu-prof-name=${path.basename(script)}.cpuprofile`,
        ]
      : [];
    // `node --import tsx` rather than the tsx CLI: one process, so its pid is the one doing the work.
    const child = spawn(process.execPath, [...extra, ...profile, '--import', 'tsx', script], {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
        ...env,
      },
    });
    return new BenchChild(name, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get output(): string {
    return this.tail.join('\n');
  }

  /** Whether the output so far (its last few KB) matches. */
  printed(pattern: RegExp): boolean {
    return pattern.test(this.recent);
  }

  /** Until `ready()` holds; fails with the child's output when it exits first or takes too long. */
  async waitUntil(what: string, ready: () => boolean | Promise<boolean>, timeoutMs = READY_TIMEOUT_MS) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (!this.running)
        throw new Error(`${this.name} exited (${this.exit}) before ${what}:\n${this.output}`);
      if (await ready()) return;
      if (performance.now() > deadline)
        throw new Error(`${this.name}: not ${what} after ${timeoutMs / 1000} s:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** SIGTERM to the group, SIGKILL after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.running) return;
    this.signal('SIGTERM');
    const done = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, STOP_GRACE_MS, false).unref()),
    ]);
    if (!done) {
      log(`${this.name} ignored SIGTERM for ${STOP_GRACE_MS / 1000} s; killing it`);
      this.signal('SIGKILL');
      await this.exited;
    }
  }

  killNow(): void {
    this.stopping = true;
    this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** One SCIM target process (bench/scimTarget.ts) and its control routes. */
export class BenchTarget {
  private constructor(
    readonly child: BenchChild,
    readonly url: string,
    readonly token: string,
    private readonly control: AxiosInstance,
  ) {}

  static async start(name: string): Promise<BenchTarget> {
    const token = randomBytes(24).toString('hex');
    const child = BenchChild.spawnTsx(name, 'bench/scimTarget.ts', { BENCH_TARGET_TOKEN: token });
    let url = '';
    await child.waitUntil('listening', () => {
      url = /LISTENING (\S+)/.exec(child.output)?.[1] ?? '';
      return url !== '';
    });
    const origin = new URL(url).origin;
    const control = axios.create({
      baseURL: `${origin}/_bench`,
      timeout: 60_000,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 2 }),
    });
    return new BenchTarget(child, url, token, control);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Requests received from index `from` on, and the index to continue from. */
  async records(from = 0): Promise<{ next: number; records: TargetRecord[] }> {
    return (await this.control.get('/records', { params: { from } })).data;
  }

  async summary(prefix?: string): Promise<TargetSummary> {
    return (await this.control.get('/summary', { params: prefix ? { prefix } : {} })).data;
  }

  async state(): Promise<TargetState> {
    return (await this.control.get('/state')).data;
  }

  async stop(): Promise<void> {
    await this.child.stop();
  }
}

/** The engine's processes and what the bench needs to reach them. */
/**
 * The Temporal dev server (SQLite in `tmpDir`; `startDevServer` runs it with WAL and synchronous=OFF) and the workflow
 * bundle the worker loads, each timed into `setupMs`. Shared by both benches.
 */
export async function startTemporalWithBundle(
  tmpDir: string,
  setupMs: Record<string, number>,
): Promise<{ devServer: DevServer; pid: number | undefined; bundlePath: string }> {
  let started = performance.now();
  const cliPath = await findTemporalCli({
    projectRoot: PROJECT_ROOT,
    explicitPath: process.env.TEMPORAL_CLI_PATH,
    log,
  });
  const devServer = await startDevServer({
    cliPath,
    dbFile: path.join(tmpDir, 'temporal.db'),
    port: await freePort(),
    uiPort: null,
    namespace: 'default',
    log,
  });
  const pid = findChildPid('temporal');
  setupMs['Temporal dev server'] = performance.now() - started;

  started = performance.now();
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    failureConverterPath,
    logger: new DefaultLogger('WARN'),
  });
  const bundlePath = path.join(tmpDir, 'workflow-bundle.js');
  await fs.writeFile(bundlePath, bundle.code);
  setupMs['workflow bundle'] = performance.now() - started;
  return { devServer, pid, bundlePath };
}

export class Engine {
  tmpDir?: string;
  devServer?: DevServer;
  temporalPid?: number;
  api?: BenchChild;
  worker?: BenchChild;
  temporal?: Client;
  apiUrl = '';
  apiAgent?: http.Agent;
  http!: AxiosInstance;
  readonly targets: BenchTarget[] = [];
  readonly setupMs: Record<string, number> = {};
  /** Set once stopping begins: from then on failing in-flight calls are expected. */
  stopping = false;

  async start(): Promise<void> {
    this.tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'scimflow-bench-'));
    const temporal = await startTemporalWithBundle(this.tmpDir, this.setupMs);
    this.devServer = temporal.devServer;
    this.temporalPid = temporal.pid;
    const bundlePath = temporal.bundlePath;

    const started = performance.now();
    const key = Keyring.generateKey();
    const token = `bench-${randomUUID()}`;
    const apiPort = await freePort();
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: this.devServer.address,
      TEMPORAL_NAMESPACE: 'default',
      SCIMFLOW_DATA_DIR: path.join(this.tmpDir, 'data'),
      SCIMFLOW_TASK_QUEUE: `bench-${randomUUID()}`,
      SCIMFLOW_WORKFLOW_BUNDLE: bundlePath,
      SCIMFLOW_ENCRYPTION_KEY: key.toString('base64'),
      SCIMFLOW_ALLOW_LOOPBACK_TARGETS: 'true',
      SCIMFLOW_API_HOST: '127.0.0.1',
      SCIMFLOW_API_PORT: String(apiPort),
      SCIMFLOW_API_TOKEN: token,
      SCIMFLOW_LOG_LEVEL: 'warn',
    };
    // BENCH_DATABASE_URL (a PostgreSQL server where the bench may create a database): the directory there.
    if (process.env.BENCH_DATABASE_URL) {
      env.SCIMFLOW_DATABASE_URL = await createDatabase(process.env.BENCH_DATABASE_URL, 'scimflow_bench');
    }
    await fs.mkdir(env.SCIMFLOW_DATA_DIR, { recursive: true });
    this.apiUrl = `http://127.0.0.1:${apiPort}`;
    // No socket limit: the stream's open loop must not queue behind its own client.
    this.apiAgent = new http.Agent({ keepAlive: true });
    this.http = axios.create({
      baseURL: this.apiUrl,
      headers: { authorization: `Bearer ${token}` },
      httpAgent: this.apiAgent,
      timeout: 120_000,
      validateStatus: () => true,
    });
    // The API first: it migrates the directory, which the worker then opens.
    this.api = BenchChild.spawnTsx('API process', 'src/api/main.ts', env);
    await this.api.waitUntil('answering /healthz', async () => {
      try {
        return (await this.http.get('/healthz', { timeout: 1_000 })).status === 200;
      } catch {
        return false;
      }
    });
    // With the node options `npm run worker` and the Compose file give it.
    this.worker = BenchChild.spawnTsx('worker process', 'src/worker.ts', env, WORKER_NODE_OPTIONS);
    await this.worker.waitUntil(
      'polling its task queue',
      () => this.worker?.printed(WORKER_RUNNING) ?? false,
    );
    this.temporal = new Client({
      connection: await Connection.connect({ address: this.devServer.address }),
      namespace: 'default',
      dataConverter: temporalDataConverter(new Keyring(key)),
    });
    this.setupMs['API + worker processes'] = performance.now() - started;
  }

  /** Fails when the API or the worker is gone, with its last output. */
  checkAlive(): void {
    for (const child of [this.api, this.worker]) {
      if (child && !child.running) throw new Error(`${child.name} exited (${child.exit}):\n${child.output}`);
    }
  }

  async newTarget(name: string): Promise<BenchTarget> {
    const target = await BenchTarget.start(`SCIM target (${name})`);
    this.targets.push(target);
    return target;
  }

  /** A call to the scimflow API that must answer 2xx. */
  async ok<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
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

  /** Process-wide guards: an interrupt stops everything, and nothing can keep the bench running for good. */
  guardProcess(hardLimitS: number): void {
    process.on('unhandledRejection', (error) => {
      if (!this.stopping) log(`unhandled rejection: ${error instanceof Error ? error.stack : String(error)}`);
    });
    const interrupt = () => {
      log('interrupted; stopping everything');
      void this.stop().finally(() => process.exit(130));
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    setTimeout(() => {
      log(`hard limit of ${hardLimitS} s reached; exiting (children are killed on exit)`);
      process.exit(3);
    }, hardLimitS * 1000).unref();
  }

  /** Every step bounded, so a stuck step cannot keep the bench from exiting. */
  async stop(): Promise<void> {
    this.stopping = true;
    const step = (what: string, action: () => Promise<unknown> | undefined) =>
      boundedStep(what, action, STOP_STEP_MS);
    this.apiAgent?.destroy();
    await step('worker', () => this.worker?.stop());
    await step('API', () => this.api?.stop());
    await Promise.all(this.targets.map((target) => step('SCIM target', () => target.stop())));
    await step('Temporal client', () => this.temporal?.connection.close());
    await step('Temporal dev server', () => this.devServer?.stop());
    if (this.tmpDir)
      await step('temp dir', () => fs.rm(this.tmpDir as string, { recursive: true, force: true }));
    for (const child of alive) child.killNow();
  }
}
