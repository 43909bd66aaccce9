/**
 * `npm run bench:rate-limit` — issue 12's rate-limit case: a group of 2,000 users (BENCH_RATE_LIMIT_USERS to
 * shrink it) assigned to an app with the `slack` profile (180 writes a minute, burst 10 kept by scimflow), against
 * a Slack-like target (bench/scimTarget.ts with BENCH_TARGET_RATE_LIMIT=180/20: 180 writes a minute, bursts of 20,
 * 429 with Retry-After above that). scimflow runs as `npm run bench` runs it (bench/engine.ts: the Temporal dev
 * server, an API process, a worker process).
 *
 * Prints: the time from the assignment to the target holding every user and the membership, and every operation
 * closed; the least time the target's limit allows for the writes it accepted ((writes − 20) / 3 per second: the
 * burst at once, then 3 a second); their ratio; 429s in all and after the first; writes by method.
 *
 * Also the `rate-limit` run of `npm run bench` (bench/provision.ts), on the engine the other runs use. At the full
 * size it takes about 11 minutes, the limit's own minimum.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import axios, { type AxiosInstance } from 'axios';
import { BenchChild, Engine } from './engine';
import type { TargetRecord, TargetSummary } from './scimTarget';
import { Deadline, forEachLimit, log } from './support';
import { directoryUserInput, exitWhenDone, logFailure, userNames } from './workload';

const USERS = Number(process.env.BENCH_RATE_LIMIT_USERS ?? 2_000);
/** Slack's documented limit for SCIM writes (docs.slack.dev/reference/scim-api/rate-limits). */
const TARGET_PER_MINUTE = 180;
const TARGET_BURST = 20;
const TAG = 'ratelimit';
const POLL_MS = 1_000;
const SETUP_PARALLELISM = 16;
const CLOSED = new Set(['completed', 'failed', 'canceled', 'terminated', 'timed-out']);
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const nowMs = () => performance.timeOrigin + performance.now();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Operation {
  workflowId: string;
  intent: string;
}

/** The Slack-like target: bench/scimTarget.ts in a process of its own, with the write limit switched on. */
class LimitedTarget {
  private constructor(
    readonly child: BenchChild,
    readonly url: string,
    readonly token: string,
    private readonly control: AxiosInstance,
  ) {}

  static async start(): Promise<LimitedTarget> {
    const token = randomBytes(24).toString('hex');
    const child = BenchChild.spawnTsx('SCIM target (Slack-like)', 'bench/scimTarget.ts', {
      BENCH_TARGET_TOKEN: token,
      BENCH_TARGET_RATE_LIMIT: `${TARGET_PER_MINUTE}/${TARGET_BURST}`,
    });
    let url = '';
    await child.waitUntil('listening', () => {
      url = /LISTENING (\S+)/.exec(child.output)?.[1] ?? '';
      return url !== '';
    });
    const control = axios.create({
      baseURL: `${new URL(url).origin}/_bench`,
      timeout: 60_000,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 2 }),
    });
    return new LimitedTarget(child, url, token, control);
  }

  async records(): Promise<TargetRecord[]> {
    return (await this.control.get<{ records: TargetRecord[] }>('/records')).data.records;
  }

  async summary(prefix: string): Promise<TargetSummary> {
    return (await this.control.get<TargetSummary>('/summary', { params: { prefix } })).data;
  }

  async stop(): Promise<void> {
    await this.child.stop();
  }
}

/** The case's figures: lines to print and whether it completed. */
export interface RateLimitCaseResult {
  complete: boolean;
  elapsedMs: number;
  minimumMs: number;
  refused: number;
  lines: string[];
}

/** The longest the case may take for `users` users: the limit's minimum plus the set-up, twice over. */
export const rateLimitBudgetSeconds = (users: number) => 300 + 2 * (users / (TARGET_PER_MINUTE / 60));

/**
 * Runs the case on a started engine (its API and worker): a Slack-like target of its own, an app with the `slack`
 * profile, `users` directory users in one group, the group assigned, timed until the target holds them all.
 */
export async function rateLimitCase(engine: Engine, users: number): Promise<RateLimitCaseResult> {
  const target = await LimitedTarget.start();
  try {
    const app = await engine.ok<{ id: string }>('POST', '/api/apps', {
      name: 'Slack-like',
      baseUrl: target.url,
      auth: { type: 'bearer', token: target.token },
      profile: 'slack',
    });

    log(`setting up ${users} directory users in one group (untimed)`);
    const userIds: string[] = new Array(users);
    await forEachLimit(
      userNames(TAG, users),
      SETUP_PARALLELISM,
      async (userName, i) => {
        userIds[i] = (await engine.ok<{ id: string }>('POST', '/api/users', directoryUserInput(userName))).id;
      },
      new Deadline('creating directory users', Math.max(300, users / 10)),
    );
    const group = await engine.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `${TAG} group`,
      memberIds: userIds,
    });

    log('assigning the group to the app (timed)');
    const deadline = new Deadline('rate-limited provisioning', rateLimitBudgetSeconds(users));
    const t0 = nowMs();
    const { operations } = await engine.ok<{ operations: Operation[] }>(
      'PUT',
      `/api/apps/${app.id}/groups/${group.id}`,
    );
    let summary = await target.summary(`${TAG}-`);
    let open = operations;
    let lastProgress = nowMs();
    while (
      (summary.withPrefix < users || summary.memberships < users || open.length > 0) &&
      !deadline.exceeded
    ) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      engine.checkAlive();
      summary = await target.summary(`${TAG}-`);
      if (summary.withPrefix === users && summary.memberships === users) {
        const views = await Promise.all(
          open.map((op) =>
            engine.ok<{ status: string }>('GET', `/api/operations/${encodeURIComponent(op.workflowId)}`),
          ),
        );
        open = open.filter((_, i) => !CLOSED.has(views[i].status));
      }
      if (nowMs() - lastProgress > 15_000) {
        lastProgress = nowMs();
        log(`+${seconds(nowMs() - t0)}: target holds ${summary.withPrefix}/${users} users`);
      }
    }
    const elapsedMs = nowMs() - t0;
    const complete = summary.withPrefix === users && summary.memberships === users && open.length === 0;

    const records = await target.records();
    const writes = records.filter(([, method]) => WRITES.has(method));
    const accepted = writes.filter(([, , , status]) => status !== 429);
    const refused = writes.filter(([, , , status]) => status === 429);
    const byMethod = new Map<string, number>();
    for (const [, method, kind, status] of accepted) {
      const key = method === 'PATCH' || method === 'POST' ? kind : method;
      byMethod.set(key, (byMethod.get(key) ?? 0) + 1);
      if (status >= 300) byMethod.set(`${key} → ${status}`, (byMethod.get(`${key} → ${status}`) ?? 0) + 1);
    }
    const minimumMs = (Math.max(0, accepted.length - TARGET_BURST) / (TARGET_PER_MINUTE / 60)) * 1000;
    const lines = [
      `rate-limit case: ${users} users in one group assigned to an app with the slack profile`,
      `  target: ${TARGET_PER_MINUTE} writes/min, burst ${TARGET_BURST}, 429 + Retry-After above it`,
      `  complete: ${complete ? 'yes' : `NO (target holds ${summary.withPrefix} users, ${summary.memberships} memberships; ${open.length} operations open)`}`,
      `  elapsed: ${seconds(elapsedMs)} (assignment to every user and membership at the target, every operation closed)`,
      `  minimum the limit allows: ${seconds(minimumMs)} ((${accepted.length} writes − ${TARGET_BURST}) / 3 per s)`,
      `  ratio: ${minimumMs > 0 ? (elapsedMs / minimumMs).toFixed(2) : 'n/a'}`,
      `  429s: ${refused.length} in all, ${Math.max(0, refused.length - 1)} after the first`,
      `  writes accepted by kind: ${[...byMethod.entries()].map(([key, count]) => `${key} ×${count}`).join(', ')}`,
      `  requests in all: ${records.length} (reads ${records.length - writes.length})`,
    ];
    return { complete, elapsedMs, minimumMs, refused: refused.length, lines };
  } finally {
    await target.stop();
  }
}

async function main(): Promise<number> {
  if (!Number.isInteger(USERS) || USERS < 1)
    throw new Error(`BENCH_RATE_LIMIT_USERS must be a positive integer, got ${USERS}`);
  const engine = new Engine();
  engine.guardProcess(rateLimitBudgetSeconds(USERS) + 300);
  try {
    log(`rate-limit case: ${USERS} users assigned to a Slack-like app (${TARGET_PER_MINUTE} writes/min)`);
    await engine.start();
    const result = await rateLimitCase(engine, USERS);
    console.log(result.lines.join('\n'));
    return result.complete ? 0 : 1;
  } catch (error) {
    logFailure(error);
    return 1;
  } finally {
    await engine.stop();
  }
}

// Run on its own (`npm run bench:rate-limit`); `npm run bench` imports the case.
if (require.main === module) exitWhenDone(main());
