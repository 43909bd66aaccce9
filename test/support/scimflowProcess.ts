/**
 * scimflow as an operator runs it, in a child process of its own, so a test can SIGKILL it at any moment and
 * start it again on the same data directory: `npm start` (API, worker and outbox in one process), `npm run api`
 * or `npm run worker`. Against the test Temporal server, with the workflow bundle that globalSetup built.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import axios from 'axios';
import { freePort } from '../../src/temporal/devServer';
import { apiCalls } from './apiCalls';

const PROJECT_ROOT = path.resolve(__dirname, '../..');

/** What each role runs: the scripts behind `npm start`, `npm run api` and `npm run worker`. */
const ENTRY_POINTS = {
  all: 'src/start.ts',
  api: 'src/api/main.ts',
  worker: 'src/worker.ts',
} as const;
export type ScimflowRole = keyof typeof ENTRY_POINTS;

const OUTPUT_TAIL_LINES = 40;
const READY_POLL_MS = 100;
// The Temporal SDK logs this at INFO, whatever SCIMFLOW_LOG_LEVEL says; the lone worker serves no HTTP.
const WORKER_RUNNING = /Worker state changed \{[^}]*'RUNNING'/;

/** Every process still alive, so a failed test (or a crashed jest worker) leaves none behind. */
const alive = new Set<ScimflowProcess>();
process.once('exit', () => {
  for (const scimflow of alive) scimflow.killNow();
});

export interface ScimflowProcessOptions {
  role: ScimflowRole;
  /** SCIMFLOW_DATA_DIR: the SQLite directory lives here and outlives every restart. */
  dataDir: string;
  taskQueue: string;
  token: string;
  /** Extra environment, e.g. SCIMFLOW_LOG_LEVEL. */
  env?: Record<string, string>;
  /** How reports name it when a test runs several of one role ("api 2", "worker 3"); its role by default. */
  name?: string;
  /** A file that receives all its output (appended, every start), beyond the last lines `output` keeps. */
  logFile?: string;
}

export class ScimflowProcess {
  /** How many times the process was started, the first included. */
  starts = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private outputTail: string[] = [];
  private workerRunning = false;
  /** The end of the output so far, so a line split across two chunks is still recognised. */
  private recentOutput = '';
  private unexpectedExits: string[] = [];

  private constructor(
    private readonly options: ScimflowProcessOptions,
    /** Kept across restarts, so a client's URL stays valid. */
    readonly apiPort: number,
  ) {}

  /** Kills every process still running (afterAll), whether or not its start-up went well. */
  static async killAll(): Promise<void> {
    await Promise.all([...alive].map((scimflow) => scimflow.kill()));
  }

  /** Starts the process and waits until it is ready. */
  static async launch(options: ScimflowProcessOptions): Promise<ScimflowProcess> {
    const scimflow = new ScimflowProcess(options, options.role === 'worker' ? 0 : await freePort());
    scimflow.start();
    await scimflow.waitReady();
    return scimflow;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get role(): ScimflowRole {
    return this.options.role;
  }

  /** The `name` it was launched with, else its role. */
  get name(): string {
    return this.options.name ?? this.options.role;
  }

  /** Exits nobody asked for (a crash at start-up, say), with the output that preceded them. */
  get crashes(): readonly string[] {
    return this.unexpectedExits;
  }

  /** The last lines the process wrote, for failure messages. */
  get output(): string {
    return this.outputTail.join('\n');
  }

  start(): void {
    if (this.child) throw new Error(`scimflow ${this.options.role} is already running`);
    const address = process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS;
    const bundle = process.env.SCIMFLOW_TEST_WORKFLOW_BUNDLE;
    if (!address || !bundle) throw new Error('the jest globalSetup did not start Temporal');
    this.starts++;
    this.workerRunning = false;
    this.recentOutput = '';
    this.outputTail.push(`--- start #${this.starts} ---`);
    // `node --import tsx` rather than the tsx CLI: one process, so a SIGKILL reaches what does the work.
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY_POINTS[this.options.role]], {
      cwd: PROJECT_ROOT,
      // Its own process group: kill() takes down anything it spawned too.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Only what it needs: TEMPORAL_* or SCIMFLOW_* variables of the developer's shell must not leak in.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
        TEMPORAL_ADDRESS: address,
        SCIMFLOW_WORKFLOW_BUNDLE: bundle,
        SCIMFLOW_DATA_DIR: this.options.dataDir,
        SCIMFLOW_API_HOST: '127.0.0.1',
        SCIMFLOW_API_PORT: String(this.apiPort),
        SCIMFLOW_API_TOKEN: this.options.token,
        SCIMFLOW_TASK_QUEUE: this.options.taskQueue,
        SCIMFLOW_LOG_LEVEL: 'warn',
        // The test targets listen on 127.0.0.1, which scimflow refuses by default next to a remote Temporal.
        SCIMFLOW_ALLOW_LOOPBACK_TARGETS: 'true',
        ...this.options.env,
      },
    });
    this.child = child;
    alive.add(this);
    const remember = (chunk: Buffer) => {
      const text = chunk.toString();
      // Output of an earlier, killed run may still drain after the next one started.
      if (this.child === child) {
        this.recentOutput = (this.recentOutput + text).slice(-2_000);
        if (WORKER_RUNNING.test(this.recentOutput)) this.workerRunning = true;
      }
      this.outputTail.push(...text.trimEnd().split('\n'));
      if (this.outputTail.length > OUTPUT_TAIL_LINES)
        this.outputTail.splice(0, this.outputTail.length - OUTPUT_TAIL_LINES);
    };
    child.stdout?.on('data', remember);
    child.stderr?.on('data', remember);
    if (this.options.logFile) {
      const log = createWriteStream(this.options.logFile, { flags: 'a' });
      log.write(`--- start #${this.starts} ---\n`);
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
      // Once both pipes have drained.
      child.once('close', () => log.end());
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.child === child) {
          this.unexpectedExits.push(`exited (${signal ?? code}) on its own:\n${this.output}`);
          this.child = undefined;
          alive.delete(this);
        }
        resolve();
      });
    });
  }

  /** Until the API answers (`/healthz`), or for a lone worker until it polls its task queue. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const startedAs = this.starts;
    for (;;) {
      if (!this.child || this.starts !== startedAs) {
        throw new Error(`scimflow ${this.options.role} stopped before it was ready:\n${this.output}`);
      }
      if (await this.answers()) return;
      if (Date.now() > deadline) {
        throw new Error(`scimflow ${this.options.role} not ready after ${timeoutMs} ms:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }

  /** Kills the whole process group (SIGKILL by default: no shutdown code runs) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    this.child = undefined;
    alive.delete(this);
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
    await this.exited;
  }

  /** Kills it if it runs, then starts it again on the same data directory and waits until it is ready. */
  async restart(): Promise<void> {
    await this.kill();
    this.start();
    await this.waitReady();
  }

  /** For the process's exit handler: no waiting there. */
  killNow(): void {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  private readonly calls = apiCalls(
    () => this.apiUrl,
    () => this.options.token,
  );
  /** An HTTP call to this process's API; throws on a network error (refused, reset), never on a status. */
  readonly call = this.calls.call;
  /** Like `call`, but anything but 2xx is an error. */
  readonly ok = this.calls.ok;

  private async answers(): Promise<boolean> {
    if (this.options.role === 'worker') return this.workerRunning;
    try {
      const response = await axios.get(`${this.apiUrl}/healthz`, {
        timeout: 1_000,
        validateStatus: () => true,
      });
      return response.status === 200;
    } catch {
      return false;
    }
  }
}
