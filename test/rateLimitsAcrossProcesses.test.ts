import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { intentNames } from '../src/shared/intents';
import { type Emulator, startEmulator } from './support/emulators';
import { isWriteMethod } from './support/emulators/rateLimit';
import { freshDatabaseUrl } from './support/postgres';
import { ScimflowProcess } from './support/scimflowProcess';
import { duplicatesIn, readDirectory, targetProblems, userFor } from './support/targetState';

/**
 * Per-app rate limits across real processes (issue 12): one API and three worker processes share one PostgreSQL
 * directory, and with it each app's token bucket (`rate_limits`). Together they stay under the app's limit — the
 * Slack-like target never answers 429 — and a 429 one of them receives holds back every process's writes to that
 * app until its Retry-After has passed.
 *
 * Which process sent a write is read off the connection it came on: a small proxy in front of the target looks up,
 * for each connection it accepts, the process holding the other end (/proc/net/tcp and /proc/<pid>/fd, Linux).
 */

const TOKEN = 'rate-limit-processes-token-0123456789';
const WORKER_PROCESSES = 3;
/** Reconciliation must not write to the targets: the longest interval puts the first run a week away. */
const NO_RECONCILIATION = { intervalMinutes: 10_080 };
/** The target's own limit (the Slack emulator's token bucket): above it, 429 with Retry-After. */
const TARGET_LIMIT = { writesPerMinute: 120, burst: 10 };
/** The app's limit as scimflow keeps it: the target's rate, half its burst. */
const APP_LIMIT = { requestsPerMinute: 120, burst: 5, applies: 'writes' as const };
/** Writes a sliding window may hold beyond burst + rate × window: requests sent on time but arriving closer. */
const JITTER = 2;
/** The sliding windows checked, in seconds. */
const WINDOWS_S = [1, 2, 5, 10, 20, 30, 60];
const GROUP_SIZE = 60;
/** While the group is provisioned: title edits, `TITLE_EDITS_PER_ROUND` users at each of these offsets (ms). */
const TITLE_ROUNDS_MS = [1_000, 4_000, 8_000, 12_000, 16_000, 20_000];
const TITLE_EDITS_PER_ROUND = 4;
const PAUSE_GROUP_SIZE = 12;
const RETRY_AFTER_S = 4;
/** Writes already on the wire (or past their pause check) when the 429 came back may still land this soon after. */
const IN_FLIGHT_GRACE_MS = 300;
/** Until when, after the 429, no write may arrive (the pause ends Retry-After after the 429 reached the worker). */
const SILENT_UNTIL_MS = 3_900;
const SETTLE_DEADLINE_MS = 90_000;

const temporaryDirectories: string[] = [];
const closers: (() => Promise<void>)[] = [];

let api: ScimflowProcess;
let workers: ScimflowProcess[] = [];
/** pid → process name ("api", "worker 2"), for telling which process a connection came from. */
const processNames = new Map<number, string>();
let temporal: Client;
let pg: PgClient;

beforeAll(async () => {
  const databaseUrl = await freshDatabaseUrl();
  const taskQueue = `rate-limits-${randomUUID()}`;
  const env = {
    SCIMFLOW_DATABASE_URL: databaseUrl,
    SCIMFLOW_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  };
  const dataDirs = new Map<string, string>();
  const launch = async (role: 'api' | 'worker', name: string) => {
    const dataDir = await fs.mkdtemp(path.join(process.env.SCIMFLOW_TEST_TMP ?? os.tmpdir(), 'rate-'));
    temporaryDirectories.push(dataDir);
    dataDirs.set(name, dataDir);
    return ScimflowProcess.launch({
      role,
      name,
      dataDir,
      taskQueue,
      token: TOKEN,
      env,
      logFile: path.join(dataDir, 'output.log'),
    });
  };
  // The API first: it migrates the fresh database; then the three workers together.
  api = await launch('api', 'api');
  workers = await Promise.all(
    Array.from({ length: WORKER_PROCESSES }, (_, i) => launch('worker', `worker ${i + 1}`)),
  );
  for (const [pid, name] of childProcessesByDataDir(dataDirs)) processNames.set(pid, name);
  const connection = await Connection.connect({ address: process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS });
  closers.push(() => connection.close());
  temporal = new Client({ connection, namespace: 'default' });
  pg = new PgClient({ connectionString: databaseUrl });
  await pg.connect();
  closers.push(() => pg.end());
}, 120_000);

afterAll(async () => {
  // Kill first, even when a test (or the set-up) failed: nothing may outlive the run.
  await ScimflowProcess.killAll();
  for (const close of closers.reverse()) await close().catch(() => undefined);
  for (const directory of temporaryDirectories) await fs.rm(directory, { recursive: true, force: true });
});

describe('per-app rate limits across processes', () => {
  it(
    'given 1 API and 3 worker processes on one PostgreSQL and a Slack-like target limited to 120 writes a minute ' +
      '(burst 10), when a group of 60 is assigned to an app limited to 120 a minute (burst 5) while users are ' +
      'edited, then the writes come from several workers, no window holds more than the limit allows, the target ' +
      'never answers 429, and it ends with every user and the membership',
    async () => {
      expect(processNames.size).toBe(1 + WORKER_PROCESSES);
      const target = await startEmulator('slack', TARGET_LIMIT);
      closers.push(() => target.close());
      const proxy = await startAttributingProxy(target.url);
      closers.push(() => proxy.close());
      const app = await api.ok<{ id: string }>('POST', '/api/apps', {
        name: 'Slack paced',
        baseUrl: proxy.url,
        auth: { type: 'bearer', token: target.token },
        profile: 'slack',
        rateLimit: APP_LIMIT,
        reconcile: NO_RECONCILIATION,
      });
      const userIds = await createUsers('paced', GROUP_SIZE);
      const group = await api.ok<{ id: string }>('POST', '/api/groups', {
        displayName: 'Paced group',
        memberIds: userIds,
      });

      // When: the group is assigned (its members are provisioned in one bulk activity, on one worker), and while
      // that runs, users' titles are edited (each edit an intent of its own, on any worker; a user not yet in the
      // app is provisioned by it).
      const assignedAt = Date.now();
      await api.ok('PUT', `/api/apps/${app.id}/groups/${group.id}`);
      let edit = 0;
      for (const offset of TITLE_ROUNDS_MS) {
        await sleep(assignedAt + offset - Date.now());
        await Promise.all(
          Array.from({ length: TITLE_EDITS_PER_ROUND }, () => {
            // Spread over the group: early members (provisioned by then) and late ones (not yet).
            const id = userIds[(edit * 7) % userIds.length];
            return api.ok('PATCH', `/api/users/${id}`, { title: `Title ${++edit}` });
          }),
        );
      }

      // Then: the target comes to hold the directory's state.
      const { problems, settledAt } = await settle(target, app.id, [group.id]);
      const writes = target.requests.filter((request) => isWriteMethod(request.method));
      const first = writes[0]?.receivedAt ?? assignedAt;
      const last = writes.at(-1)?.receivedAt ?? assignedAt;
      const windows = WINDOWS_S.map((seconds) => ({
        seconds,
        most: mostInWindow(
          writes.map((request) => request.receivedAt),
          seconds * 1000,
        ),
        allowed: APP_LIMIT.burst + (APP_LIMIT.requestsPerMinute / 60) * seconds,
      }));
      const byProcess = countBy(
        proxy.requests.filter((request) => isWriteMethod(request.method)),
        (request) => request.process,
      );
      const writesOf = (method: string) => writes.filter((request) => request.method === method).length;
      report(
        [
          `${writes.length} writes (${writesOf('POST')} POST, ${writesOf('PATCH')} PATCH, ${writesOf('PUT')} PUT, ` +
            `${writesOf('DELETE')} DELETE) from the first to the last in ${seconds(last - first)} s; the app's ` +
            `limit allows them in no less than ${seconds(((writes.length - APP_LIMIT.burst) / 2) * 1000)} s`,
          `writes by process: ${describeCounts(byProcess)}; ${edit} title edits while the group was provisioned`,
          `most writes in a sliding window: ${windows
            .map(({ seconds, most, allowed }) => `${seconds} s: ${most} (limit allows ${allowed})`)
            .join(', ')}`,
          `the target answered ${target.rateLimited()} 429s and ${target.violations().length} rule violations; ` +
            `it matched the directory ${settledAt === undefined ? 'NEVER' : `${seconds(settledAt - assignedAt)} s`} ` +
            `after the assignment`,
        ].join('\n'),
      );

      for (const scimflow of [api, ...workers])
        expect({ [scimflow.name]: scimflow.crashes }).toEqual({ [scimflow.name]: [] });
      expect(problems).toEqual([]);
      expect(duplicatesIn({ scim: target.server, assigned: new Set([group.id]) })).toEqual([]);
      expect(target.users()).toHaveLength(GROUP_SIZE);
      expect(target.groups().find((remote) => remote.displayName === 'Paced group')?.members).toHaveLength(
        GROUP_SIZE,
      );
      expect(target.rateLimited()).toBe(0);
      expect(target.violations()).toEqual([]);
      for (const { seconds, most, allowed } of windows)
        expect({ seconds, most: Math.min(most, allowed + JITTER) }).toEqual({ seconds, most });
      // The limit was shared, not kept by one process alone: several workers wrote, and all are accounted for.
      const writingWorkers = workers.filter((worker) => (byProcess.get(worker.name) ?? 0) > 0);
      expect(writingWorkers.length).toBeGreaterThanOrEqual(2);
      expect(byProcess.get('unknown') ?? 0).toBe(0);
      expect(proxy.requests.filter((request) => isWriteMethod(request.method))).toHaveLength(writes.length);
      // And the pacing did hold them back: the writes took about as long as the limit requires.
      expect(last - first).toBeGreaterThanOrEqual(((writes.length - APP_LIMIT.burst) / 2) * 1000 - 1_000);
    },
    150_000,
  );

  it(
    'given the same processes, when the target answers one write 429 with Retry-After: 4 while several workers ' +
      'provision users, then no write from any process reaches it for the next 3.7 s, and every user still arrives',
    async () => {
      const target = await startEmulator('slack', TARGET_LIMIT);
      closers.push(() => target.close());
      const proxy = await startAttributingProxy(target.url);
      closers.push(() => proxy.close());
      const app = await api.ok<{ id: string }>('POST', '/api/apps', {
        name: 'Slack paused',
        baseUrl: proxy.url,
        auth: { type: 'bearer', token: target.token },
        profile: 'slack',
        rateLimit: APP_LIMIT,
        reconcile: NO_RECONCILIATION,
      });
      const userIds = await createUsers('paused', PAUSE_GROUP_SIZE);
      // The group is assigned empty, then filled: each member is provisioned by an intent of its own, on any worker.
      const group = await api.ok<{ id: string }>('POST', '/api/groups', {
        displayName: 'Paused group',
        memberIds: [],
      });
      await api.ok('PUT', `/api/apps/${app.id}/groups/${group.id}`);
      await settle(target, app.id, [group.id]);
      // The eighth write from here: past the burst, when the next writes wait for their slots.
      proxy.refuseWrite(8, RETRY_AFTER_S);

      const filledAt = Date.now();
      await api.ok('PATCH', `/api/groups/${group.id}`, { memberIds: userIds });

      const { problems, settledAt } = await settle(target, app.id, [group.id]);
      const writes = proxy.requests.filter(
        (request) => isWriteMethod(request.method) && request.receivedAt >= filledAt,
      );
      const refused = writes.filter((request) => request.status === 429);
      const pausedAt = refused[0]?.receivedAt ?? Number.NaN;
      const before = writes.filter((request) => request.receivedAt < pausedAt);
      const landedLate = writes.filter(
        (request) => request.receivedAt > pausedAt && request.receivedAt <= pausedAt + IN_FLIGHT_GRACE_MS,
      );
      const duringPause = writes.filter(
        (request) =>
          request.receivedAt > pausedAt + IN_FLIGHT_GRACE_MS &&
          request.receivedAt < pausedAt + SILENT_UNTIL_MS,
      );
      const after = writes.filter((request) => request.receivedAt >= pausedAt + SILENT_UNTIL_MS);
      const nextWriteAfter = Math.min(
        ...writes.filter((request) => request.receivedAt > pausedAt).map((request) => request.receivedAt),
      );
      const afterTheGrace = Math.min(
        ...writes
          .filter((request) => request.receivedAt > pausedAt + IN_FLIGHT_GRACE_MS)
          .map((request) => request.receivedAt),
      );
      report(
        [
          `${writes.length} writes after the group was filled; the 429 (Retry-After: ${RETRY_AFTER_S}) went to ` +
            `${refused[0]?.process ?? 'nobody'} ${seconds(pausedAt - filledAt)} s in`,
          `  before it: ${describeCounts(countBy(before, (request) => request.process))}`,
          `  landed within ${IN_FLIGHT_GRACE_MS} ms after it (already on the wire): ${landedLate.length}`,
          `  during the pause: ${duringPause.length}; the next write came ${seconds(nextWriteAfter - pausedAt)} s ` +
            `after the 429 (${seconds(afterTheGrace - pausedAt)} s leaving out those on the wire)`,
          `  after it: ${describeCounts(countBy(after, (request) => request.process))}`,
          `the target matched the directory ${
            settledAt === undefined ? 'NEVER' : `${seconds(settledAt - filledAt)} s`
          } after the group was filled`,
        ].join('\n'),
      );

      expect(refused).toHaveLength(1);
      expect(duringPause.map(describeRequest)).toEqual([]);
      expect(after.length).toBeGreaterThan(0);
      // Writes were waiting in more than one process, and all of them waited for the pause.
      expect(new Set(after.map((request) => request.process)).size).toBeGreaterThanOrEqual(2);
      expect(problems).toEqual([]);
      expect(duplicatesIn({ scim: target.server, assigned: new Set([group.id]) })).toEqual([]);
      expect(target.users()).toHaveLength(PAUSE_GROUP_SIZE);
      expect(target.groups().find((remote) => remote.displayName === 'Paused group')?.members).toHaveLength(
        PAUSE_GROUP_SIZE,
      );
      expect(target.rateLimited()).toBe(0);
      expect(target.violations()).toEqual([]);
      for (const scimflow of [api, ...workers])
        expect({ [scimflow.name]: scimflow.crashes }).toEqual({ [scimflow.name]: [] });
    },
    90_000,
  );
});

// ---------------------------------------------------------------------------------------------------------
// The directory, and waiting for scimflow.

async function createUsers(prefix: string, count: number): Promise<string[]> {
  const ids: string[] = new Array(count);
  const lanes = 8;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = lane; i < count; i += lanes) {
        const user = await api.ok<{ id: string }>(
          'POST',
          '/api/users',
          userFor(`${prefix}-${String(i).padStart(2, '0')}@rate.test`, 'Rate'),
        );
        ids[i] = user.id;
      }
    }),
  );
  return ids;
}

/**
 * Waits until the target matches the directory and scimflow is idle for the app (nothing undelivered in the
 * outbox, no intent running) on checks a second apart, or until the deadline. Answers the differences left, and
 * since when it has been so.
 */
async function settle(
  target: Emulator,
  appId: string,
  groupIds: string[],
): Promise<{ problems: string[]; settledAt?: number }> {
  const deadline = Date.now() + SETTLE_DEADLINE_MS;
  const assigned = new Set(groupIds);
  let settledAt: number | undefined;
  for (;;) {
    const directory = await readDirectory(api, groupIds);
    const problems = targetProblems(directory, { scim: target.server, assigned });
    const idle = problems.length === 0 && (await undelivered()) === 0 && (await runningIntents(appId)) === 0;
    const now = Date.now();
    if (idle) settledAt ??= now;
    else settledAt = undefined;
    if ((settledAt !== undefined && now - settledAt >= 1_000) || now > deadline)
      return { problems, settledAt };
    await sleep(500);
  }
}

async function undelivered(): Promise<number> {
  const { rows } = await pg.query<{ undelivered: string }>(
    'SELECT count(*) AS undelivered FROM operations WHERE dispatched_at IS NULL',
  );
  return Number(rows[0].undelivered);
}

async function runningIntents(appId: string): Promise<number> {
  const query = [
    `ScimAppId = '${appId}'`,
    `ScimIntent IN (${intentNames.map((name) => `'${name}'`).join(', ')})`,
    "ExecutionStatus = 'Running'",
  ].join(' AND ');
  return (await temporal.workflow.count(query)).count;
}

// ---------------------------------------------------------------------------------------------------------
// Which process sent a request.

interface AttributedRequest {
  method: string;
  path: string;
  receivedAt: number;
  /** The scimflow process at the other end of the connection ("worker 2"), or "unknown". */
  process: string;
  status?: number;
}

/**
 * A pass-through proxy in front of the target that notes, for each request, which scimflow process sent it, and
 * can answer one write 429 with Retry-After instead of forwarding it.
 */
async function startAttributingProxy(upstream: string) {
  const target = new URL(upstream);
  const requests: AttributedRequest[] = [];
  const owners = new WeakMap<Socket, string>();
  const sockets = new Set<Socket>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  let refusal: { countdown: number; retryAfterSeconds: number } | undefined;
  let port = 0;

  const server = http.createServer((req, res) => {
    const record: AttributedRequest = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: req.url ?? '/',
      receivedAt: Date.now(),
      process: owners.get(req.socket) ?? 'unknown',
    };
    requests.push(record);
    if (refusal && isWriteMethod(record.method) && --refusal.countdown === 0) {
      record.status = 429;
      const retryAfter = String(refusal.retryAfterSeconds);
      refusal = undefined;
      req.resume();
      res.writeHead(429, { 'content-type': 'application/scim+json', 'retry-after': retryAfter });
      res.end(
        JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
          status: '429',
          detail: 'Too many requests',
        }),
      );
      return;
    }
    const forwarded = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
        agent,
      },
      (answer) => {
        record.status = answer.statusCode ?? 502;
        res.writeHead(record.status, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => {
      record.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forwarded);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (socket.remotePort) owners.set(socket, ownerOfConnection(socket.remotePort, port));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    requests,
    /** The `nth` write from now on is answered 429 with `Retry-After: retryAfterSeconds`, and not forwarded. */
    refuseWrite(nth: number, retryAfterSeconds: number) {
      refusal = { countdown: nth, retryAfterSeconds };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      }),
  };
}

/**
 * The scimflow processes this test started, by pid: the children of this process whose SCIMFLOW_DATA_DIR is one
 * of theirs.
 */
function childProcessesByDataDir(dataDirs: Map<string, string>): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      for (const [name, dataDir] of dataDirs) {
        if (environ.includes(`SCIMFLOW_DATA_DIR=${dataDir}`)) found.set(Number(entry), name);
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/**
 * The process that holds the client end of a loopback connection to `serverPort` from `clientPort`: the socket's
 * inode from /proc/net/tcp, then the scimflow process with a descriptor on it.
 */
function ownerOfConnection(clientPort: number, serverPort: number): string {
  const inode = socketInode(clientPort, serverPort);
  if (!inode) return 'unknown';
  const link = `socket:[${inode}]`;
  for (const [pid, name] of processNames) {
    let descriptors: string[];
    try {
      descriptors = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const descriptor of descriptors) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${descriptor}`) === link) return name;
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return 'unknown';
}

function socketInode(clientPort: number, serverPort: number): string | undefined {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[];
    try {
      lines = readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const local = parseInt(fields[1].split(':')[1], 16);
      const remote = parseInt(fields[2].split(':')[1], 16);
      if (local === clientPort && remote === serverPort) return fields[9];
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers.

/** The most of `times` (ms, ascending) in any half-open window of `windowMs`. */
function mostInWindow(times: number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

function countBy<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function describeCounts(counts: Map<string, number>): string {
  return counts.size
    ? [...counts]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, n]) => `${name} ${n}`)
        .join(', ')
    : 'none';
}

function describeRequest(request: AttributedRequest): string {
  return `${request.method} ${request.path} from ${request.process} (status ${String(request.status)})`;
}

function report(text: string): void {
  console.log(`rate limits across processes:\n${text}`);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
