/**
 * `npm run bench -- --users N [--concurrency C] [--timeout S] [--runs baseline,group,one-by-one] [--no-warmup]`
 *
 * Provisioning throughput of scimflow against a real SCIM server (scimmy, from test/support), compared with
 * plain direct SCIM calls, all in one process on this machine. It starts everything itself — a headless
 * Temporal dev server (SQLite in a temp dir, free port), the workflow bundle, a worker, a SQLite directory,
 * the API on loopback — and stops it all at the end.
 *
 * Runs (each against a fresh SCIM server, so each really creates its users):
 * - baseline:   POST /Users straight to the SCIM server, C at a time, then POST /Groups and PATCH add
 *               members in batches of 100.
 * - group:      N users in one group; the timed part is PUT /api/apps/:id/groups/:groupId and the one
 *               createGroup workflow it starts (members provisioned inside one activity, PATCHed in batches).
 * - one-by-one: an empty group is assigned first (untimed); then PUT /api/groups/:id/members/:userId for each
 *               user, C calls at a time, each starting the intents the API plans (provisionUser, which joins
 *               the user to the remote group); timed until every operation those calls returned has closed.
 *
 * - roles:      N users in a group assigned to two apps that receive roles and entitlements (set up untimed);
 *               the timed part is adding one permission to the role the group carries: one
 *               syncRoleEntitlements per app, which updates each user through its lane — exactly one PATCH per
 *               user per app is expected (2·N writes).
 *
 * The baseline runs first, while the process is quiet; the one-by-one run leaves idle lanes behind.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { type Client, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { IntentResult } from '../src/shared/intents';
import type { ScimTestServer } from '../test/support/scimServer';
import {
  BATCH_SIZE,
  describeMachine,
  directoryUserInput,
  exitWhenDone,
  inspectTarget,
  logFailure,
  provisionDirectly,
  requestsByKind,
  scimUserPayloads,
  Stack,
  userNames,
} from './stack';
import {
  Deadline,
  describeUsage,
  forEachLimit,
  meanTimings,
  log,
  markdownTable,
  measureUsage,
  parseRuns,
  percentile,
  positiveInteger,
  processMemoryMb,
  RssSampler,
  type Usage,
  WORKFLOW_TASK,
} from './support';

const SETTLE_PARALLELISM = 16;
/** Lane histories read in the one-by-one run: each intent also costs its lane's workflow tasks. */
const LANE_SAMPLE = 50;
/** Histories read per intent type (evenly sampled beyond this) to show where a run's time goes. */
const HISTORY_SAMPLE = 2000;
const QUEUED_POLL_MS = 100;
const ALL_RUNS = ['baseline', 'group', 'one-by-one', 'roles'] as const;
type RunName = (typeof ALL_RUNS)[number];

// ── options ──────────────────────────────────────────────────────────────────────────────────────

interface Options {
  users: number;
  concurrency: number;
  timeoutSeconds: number;
  runs: RunName[];
  warmup: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '32' },
      timeout: { type: 'string', default: '600' },
      runs: { type: 'string', default: ALL_RUNS.join(',') },
      'no-warmup': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'npm run bench -- [--users N=1000] [--concurrency C=32] [--timeout SECONDS_PER_RUN=600]\n' +
        `                 [--runs ${ALL_RUNS.join(',')}] [--no-warmup]`,
    );
    process.exit(0);
  }
  return {
    users: positiveInteger('users', values.users),
    concurrency: positiveInteger('concurrency', values.concurrency),
    timeoutSeconds: positiveInteger('timeout', values.timeout),
    runs: parseRuns(values.runs, ALL_RUNS),
    warmup: !values['no-warmup'],
  };
}

// ── shared steps ─────────────────────────────────────────────────────────────────────────────────

interface Operation {
  workflowId: string;
  appId: string;
  intent: string;
}

async function createDirectoryUsers(
  stack: Stack,
  tag: string,
  n: number,
  concurrency: number,
): Promise<string[]> {
  const ids: string[] = new Array(n);
  await forEachLimit(userNames(tag, n), concurrency, async (userName, i) => {
    ids[i] = (await stack.ok<{ id: string }>('POST', '/api/users', directoryUserInput(userName))).id;
  });
  return ids;
}

interface Settled {
  workflowId: string;
  intent: string;
  status: 'completed' | 'failed';
  outcome?: IntentResult['outcome'];
  error?: string;
}

/**
 * Waits until every operation's workflow has closed, like the test harness's settle, with a few result
 * long-polls in flight at once. An operation still queued in its lane has no workflow yet: poll until it does.
 */
async function settleAll(
  stack: Stack,
  operations: Operation[],
  deadline: Deadline,
  onSettled?: () => void,
): Promise<Settled[]> {
  const temporal = stack.temporal as Client;
  const settled: Settled[] = new Array(operations.length);
  await forEachLimit(
    operations,
    SETTLE_PARALLELISM,
    async ({ workflowId, intent }, i) => {
      for (;;) {
        if (stack.workerFailure) throw new Error('the worker stopped');
        deadline.check();
        try {
          const result = (await deadline.race(
            temporal.workflow.getHandle(workflowId).result(),
          )) as IntentResult;
          settled[i] = { workflowId, intent, status: 'completed', outcome: result.outcome };
          break;
        } catch (error) {
          if (error instanceof WorkflowFailedError) {
            settled[i] = {
              workflowId,
              intent,
              status: 'failed',
              error: String(error.cause?.message ?? error),
            };
            break;
          }
          if (!(error instanceof WorkflowNotFoundError)) throw error;
          await new Promise((resolve) => setTimeout(resolve, QUEUED_POLL_MS));
        }
      }
      onSettled?.();
    },
    deadline,
  );
  return settled;
}

function outcomeSummary(settled: Settled[]): string {
  const counts = new Map<string, number>();
  for (const s of settled) {
    const key = `${s.intent} ${s.status === 'completed' ? s.outcome : 'FAILED'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const failures = settled.filter((s) => s.status === 'failed').slice(0, 3);
  return (
    [...counts.entries()].map(([key, count]) => `${count} × ${key}`).join(', ') +
    failures.map((f) => `\n      failed ${f.workflowId}: ${f.error}`).join('')
  );
}

function verifyTarget(scim: ScimTestServer, tag: string, n: number, groupName: string): string {
  const { ok, users, members, runMembers } = inspectTarget(scim, tag, n, groupName);
  return `${ok ? 'OK' : 'MISMATCH'}: target holds ${users}/${n} users, group "${groupName}" has ${members} members (${runMembers} of them the run's users)`;
}

interface RunResult {
  name: string;
  label: string;
  users: number;
  seconds: number;
  requests: { total: number; writes: number; byKind: string };
  verification: string;
  usage: Usage;
  notes: string[];
}

function requestCounts(scim: ScimTestServer): RunResult['requests'] {
  return {
    total: scim.requests.length,
    writes: scim.requests.filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method)).length,
    byKind: [...requestsByKind(scim).entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([kind, count]) => `${kind} ×${count}`)
      .join(', '),
  };
}

/** Start/close times of the intent workflows of one app, from visibility (retried until all are listed). */
async function intentStats(
  stack: Stack,
  appId: string,
  expected: number,
  t0Epoch: number,
): Promise<string[]> {
  const temporal = stack.temporal as Client;
  const query = `ScimAppId = '${appId}' AND ScimIntent != 'intentLane' AND ExecutionStatus != 'Running'`;
  let rows: { intent: string; start: number; close: number }[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    rows = [];
    for await (const execution of temporal.workflow.list({ query })) {
      // Runs started before the timed window (the one-by-one run's empty group) are setup, not measured.
      if (!execution.closeTime || execution.startTime.getTime() < t0Epoch) continue;
      rows.push({
        intent: execution.type,
        start: execution.startTime.getTime(),
        close: execution.closeTime.getTime(),
      });
    }
    if (rows.length >= expected) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const byIntent = new Map<string, typeof rows>();
  for (const row of rows) byIntent.set(row.intent, [...(byIntent.get(row.intent) ?? []), row]);
  return [...byIntent.entries()].map(([intent, list]) => {
    const durations = list.map((r) => r.close - r.start);
    const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
    const firstStart = (Math.min(...list.map((r) => r.start)) - t0Epoch) / 1000;
    const lastClose = (Math.max(...list.map((r) => r.close)) - t0Epoch) / 1000;
    return (
      `${intent.padEnd(20)} ${String(list.length).padStart(5)} runs, each ${mean.toFixed(0)} ms mean / ` +
      `${percentile(durations, 0.5).toFixed(0)} ms p50 / ${percentile(durations, 0.95).toFixed(0)} ms p95 (start→close); ` +
      `first started at +${firstStart.toFixed(1)} s, last closed at +${lastClose.toFixed(1)} s`
    );
  });
}

/**
 * The lanes that carried user intents. Ids follow OutboxDispatcher.dispatch (`lane:app:User:user`) and the
 * intent's workflow id (`intent:app:user:sequence`); a bench may lean on that, the product must not.
 */
function laneOperations(operations: Operation[]): Operation[] {
  const lanes = new Map<string, Operation>();
  for (const op of operations) {
    const [intent, appId, resourceId] = op.workflowId.split(':');
    const resourceType = intent.endsWith('User') ? 'User' : 'Group';
    const workflowId = `lane:${appId}:${resourceType}:${resourceId}`;
    lanes.set(workflowId, {
      workflowId,
      appId,
      intent: 'intentLane (still open ones lack their closing task)',
    });
  }
  return [...lanes.values()];
}

/**
 * Where one intent's time goes: mean activity and workflow-task timings over a few sampled histories per
 * intent type. "queued" is scheduled → started (waiting for a poller or a free slot), "ran" started → closed.
 */
async function historyNotes(stack: Stack, operations: Operation[], sample: number): Promise<string[]> {
  const temporal = stack.temporal as Client;
  const byIntent = new Map<string, Operation[]>();
  for (const op of operations) byIntent.set(op.intent, [...(byIntent.get(op.intent) ?? []), op]);
  const notes: string[] = [];
  for (const [intent, ops] of byIntent) {
    const step = Math.max(1, Math.floor(ops.length / sample));
    const picked = ops.filter((_, i) => i % step === 0).slice(0, sample);
    const histories: Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>[] = [];
    await forEachLimit(picked, SETTLE_PARALLELISM, async (op) => {
      histories.push(await temporal.workflow.getHandle(op.workflowId).fetchHistory());
    });
    const { spanMs, timings } = meanTimings(histories);
    const accounted = timings.reduce((total, t) => total + t.queuedMs + t.runMs, 0);
    notes.push(
      `${intent} history${picked.length > 1 ? `, mean over ${picked.length} of ${ops.length} runs` : ''}: ` +
        `${(spanMs / 1000).toFixed(2)} s first → last event, of which ${((spanMs - accounted) / 1000).toFixed(2)} s ` +
        'between tasks (child start, timers, server)',
    );
    const format = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
    for (const t of timings.sort((a, b) =>
      a.activityType === WORKFLOW_TASK ? 1 : b.activityType === WORKFLOW_TASK ? -1 : 0,
    )) {
      const count = Number.isInteger(t.count) ? String(t.count) : t.count.toFixed(1);
      notes.push(
        `  ${t.activityType.padEnd(26)} ×${count.padEnd(4)} queued ${format(t.queuedMs).padStart(8)}, ran ${format(t.runMs).padStart(8)}` +
          (t.attempts > t.count
            ? `, ${Math.round((t.attempts - t.count) * histories.length)} retries in all`
            : '') +
          (t.failures.length ? ` after: ${t.failures.slice(0, 3).join(' | ')}` : ''),
      );
    }
  }
  return notes;
}

// ── the runs ─────────────────────────────────────────────────────────────────────────────────────

async function groupRun(stack: Stack, rss: RssSampler, n: number, c: number, tag: string, timeoutS: number) {
  const scim = await stack.newScimServer();
  const app = await stack.createApp(scim, `Bench ${tag}`);
  log(`${tag}: creating ${n} directory users and a group holding them`);
  const userIds = await createDirectoryUsers(stack, tag, n, c);
  const groupName = `${tag} group`;
  const group = await stack.ok<{ id: string }>('POST', '/api/groups', {
    displayName: groupName,
    memberIds: userIds,
  });
  scim.resetRequests();
  stack.exchanges.reset();

  log(`${tag}: assigning the group to the app (timed)`);
  const deadline = new Deadline(`${tag} (group assignment)`, timeoutS);
  const usage = measureUsage(rss, stack.temporalPid);
  const t0 = performance.now();
  const t0Epoch = Date.now();
  const assigned = await stack.ok<{ operations: Operation[] }>(
    'PUT',
    `/api/apps/${app.id}/groups/${group.id}`,
  );
  const apiMs = performance.now() - t0;
  const settled = await settleAll(stack, assigned.operations, deadline);
  const seconds = (performance.now() - t0) / 1000;
  const used = usage();

  const notes = [
    `PUT /api/apps/:id/groups/:groupId answered in ${apiMs.toFixed(0)} ms; operations: ${outcomeSummary(settled)}`,
  ];
  notes.push(...(await historyNotes(stack, assigned.operations, 1)));
  notes.push(...(await intentStats(stack, app.id, assigned.operations.length, t0Epoch)));
  notes.push('SCIM calls as the worker saw them:', ...stack.exchanges.summary().map((line) => `  ${line}`));
  notes.push(describeUsage(used));
  return { scim, tag, n, seconds, groupName, used, notes };
}

async function oneByOneRun(
  stack: Stack,
  rss: RssSampler,
  n: number,
  c: number,
  tag: string,
  timeoutS: number,
) {
  const scim = await stack.newScimServer();
  const app = await stack.createApp(scim, `Bench ${tag}`);
  log(`${tag}: creating ${n} directory users, and an empty group assigned to the app (untimed)`);
  const userIds = await createDirectoryUsers(stack, tag, n, c);
  const groupName = `${tag} group`;
  const group = await stack.ok<{ id: string }>('POST', '/api/groups', {
    displayName: groupName,
    memberIds: [],
  });
  const setupDeadline = new Deadline(`${tag} (empty group)`, 120);
  const assigned = await stack.ok<{ operations: Operation[] }>(
    'PUT',
    `/api/apps/${app.id}/groups/${group.id}`,
  );
  await settleAll(stack, assigned.operations, setupDeadline);
  scim.resetRequests();
  stack.exchanges.reset();

  log(`${tag}: adding ${n} users to the group one by one, ${c} API calls at a time (timed)`);
  const deadline = new Deadline(`${tag} (one by one)`, timeoutS);
  const usage = measureUsage(rss, stack.temporalPid);
  const t0 = performance.now();
  const t0Epoch = Date.now();
  const operations: Operation[] = [];
  const callMs: number[] = [];
  let settledCount = 0;
  let apiDone = 0;
  const progress = setInterval(() => {
    const elapsed = ((performance.now() - t0) / 1000).toFixed(0);
    log(
      `${tag}: +${elapsed} s, ${apiDone}/${n} API calls answered, ${settledCount}/${operations.length} operations closed`,
    );
  }, 10_000);
  progress.unref();
  let apiMs: number;
  let settled: Settled[];
  try {
    await forEachLimit(
      userIds,
      c,
      async (userId) => {
        const started = performance.now();
        const response = await stack.ok<{ operations: Operation[] }>(
          'PUT',
          `/api/groups/${group.id}/members/${userId}`,
        );
        callMs.push(performance.now() - started);
        operations.push(...response.operations);
        apiDone++;
      },
      deadline,
    );
    apiMs = performance.now() - t0;
    settled = await settleAll(stack, operations, deadline, () => settledCount++);
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - t0) / 1000;
  const used = usage();

  const notes = [
    `all ${n} PUT /api/groups/:id/members/:userId answered after ${(apiMs / 1000).toFixed(2)} s ` +
      `(per call: mean ${(callMs.reduce((a, b) => a + b, 0) / callMs.length).toFixed(0)} ms, ` +
      `p95 ${percentile(callMs, 0.95).toFixed(0)} ms, max ${Math.max(...callMs).toFixed(0)} ms)`,
    `operations: ${outcomeSummary(settled)}`,
    ...(await intentStats(stack, app.id, operations.length, t0Epoch)),
    ...(await historyNotes(stack, operations, HISTORY_SAMPLE)),
    ...(await historyNotes(stack, laneOperations(operations), LANE_SAMPLE)),
    'SCIM calls as the worker saw them:',
    ...stack.exchanges.summary().map((line) => `  ${line}`),
    describeUsage(used),
  ];
  return { scim, tag, n, seconds, groupName, used, notes };
}

async function baselineRun(
  stack: Stack,
  rss: RssSampler,
  n: number,
  c: number,
  tag: string,
  timeoutS: number,
) {
  const scim = await stack.newScimServer();
  const payloads = scimUserPayloads(tag, n);
  const groupName = `${tag} group`;
  scim.resetRequests();

  log(`${tag}: POST ${n} users straight to the SCIM server, ${c} at a time, then the group (timed)`);
  const deadline = new Deadline(`${tag} (baseline)`, timeoutS);
  const usage = measureUsage(rss, stack.temporalPid);
  const t0 = performance.now();
  const { usersCreatedAt, patches } = await provisionDirectly(scim, payloads, groupName, c, deadline);
  const seconds = (performance.now() - t0) / 1000;
  const used = usage();
  const usersMs = usersCreatedAt - t0;
  const notes = [
    `users created after ${(usersMs / 1000).toFixed(2)} s; group + ${patches} PATCH(es) took ` +
      `${(seconds - usersMs / 1000).toFixed(2)} s`,
    describeUsage(used),
  ];
  return { scim, tag, n, seconds, groupName, used, notes };
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────────

const labels: Record<RunName, string> = {
  baseline: 'baseline: direct SCIM calls',
  group: 'engine: assign group of N (createGroup)',
  'one-by-one': 'engine: N users join one by one',
  roles: 'engine: +1 permission on a role held by N users in 2 apps',
};

/** What a run hands to the report; runs with more than one target count their requests themselves. */
interface RunOutcome {
  scim: ScimTestServer;
  tag: string;
  n: number;
  seconds: number;
  groupName: string;
  used: Usage;
  notes: string[];
  requests?: RunResult['requests'];
  verification?: string;
}

async function rolesRun(
  stack: Stack,
  rss: RssSampler,
  n: number,
  c: number,
  tag: string,
  timeoutS: number,
): Promise<RunOutcome> {
  const targets = [await stack.newScimServer(), await stack.newScimServer()];
  const keys = [`${tag}.read`, `${tag}.write`];
  for (const key of keys) await stack.ok('POST', '/api/permissions', { key });
  const apps: { id: string }[] = [];
  for (const [i, scim] of targets.entries()) {
    const app = await stack.createApp(scim, `Bench ${tag} ${i + 1}`, {
      provisioning: { roles: true, permissions: true },
    });
    await stack.ok('PUT', `/api/apps/${app.id}/permissions`, { keys });
    apps.push(app);
  }
  log(`${tag}: creating ${n} directory users in a group carrying a role, assigned to 2 apps (untimed)`);
  const userIds = await createDirectoryUsers(stack, tag, n, c);
  const groupName = `${tag} group`;
  const group = await stack.ok<{ id: string }>('POST', '/api/groups', {
    displayName: groupName,
    memberIds: userIds,
  });
  const setup = new Deadline(`${tag} (setup)`, timeoutS);
  const role = await stack.ok<{ id: string; operations: Operation[] }>('POST', '/api/roles', {
    name: `${tag} role`,
    permissionKeys: [keys[0]],
    groupIds: [group.id],
  });
  await settleAll(stack, role.operations, setup);
  for (const app of apps) {
    const assigned = await stack.ok<{ operations: Operation[] }>(
      'PUT',
      `/api/apps/${app.id}/groups/${group.id}`,
    );
    await settleAll(stack, assigned.operations, setup);
  }
  targets.forEach((scim) => scim.resetRequests());
  stack.exchanges.reset();

  log(`${tag}: adding ${keys[1]} to the role (timed)`);
  const deadline = new Deadline(`${tag} (role change)`, timeoutS);
  const usage = measureUsage(rss, stack.temporalPid);
  const t0 = performance.now();
  const changed = await stack.http.request<{ operations: Operation[] }>({
    method: 'PATCH',
    url: `/api/roles/${role.id}`,
    data: { permissionKeys: keys },
  });
  const settled = await settleAll(stack, changed.data.operations, deadline);
  const seconds = (performance.now() - t0) / 1000;
  const used = usage();

  const counts = targets.map(requestCounts);
  const writes = counts.reduce((sum, count) => sum + count.writes, 0);
  const entitled = targets.map(
    (scim) =>
      scim
        .users()
        .filter(
          (u) =>
            JSON.stringify(
              (u.entitlements as { value: string }[] | undefined)?.map((e) => e.value).sort(),
            ) === JSON.stringify(keys),
        ).length,
  );
  const ok = writes === 2 * n && entitled.every((count) => count === n);
  return {
    scim: targets[0],
    tag,
    n,
    seconds,
    groupName,
    used,
    requests: {
      total: counts.reduce((sum, count) => sum + count.total, 0),
      writes,
      byKind: counts.map((count, i) => `app ${i + 1}: ${count.byKind}`).join('; '),
    },
    verification: `${ok ? 'OK' : 'MISMATCH'}: ${writes} writes (expected exactly ${2 * n}); users holding both entitlements per app: ${entitled.join(', ')} of ${n}`,
    notes: [
      `operations: ${outcomeSummary(settled)}`,
      ...(await Promise.all(
        settled.map(async ({ workflowId }) => {
          const result = await (stack.temporal as Client).workflow
            .getHandle(workflowId)
            .result()
            .then((r: IntentResult) => r.detail, String);
          return `  ${workflowId}: ${result}`;
        }),
      )),
      describeUsage(used),
    ],
  };
}

async function main(): Promise<number> {
  const options = parseOptions();
  const { users: n, concurrency: c, timeoutSeconds } = options;
  const rss = new RssSampler();
  const stack = new Stack();
  const results: RunResult[] = [];
  let exitCode = 0;
  stack.guardProcess(timeoutSeconds * (options.runs.length + 1) + 300);

  const header =
    `scimflow provisioning bench — N=${n} users, concurrency C=${c} (API calls and baseline POSTs in flight), ` +
    `PATCH batch ${BATCH_SIZE}, timeout ${timeoutSeconds} s per run\n` +
    describeMachine();
  log(header.replace('\n', '\n[bench] '));

  try {
    await stack.start({ apiConcurrency: c });
    log(
      `stack up: ${Object.entries(stack.setupMs)
        .map(([what, ms]) => `${what} ${(ms / 1000).toFixed(1)} s`)
        .join(', ')}; API at ${stack.apiUrl}`,
    );

    if (options.warmup) {
      const started = performance.now();
      log('warm-up (untimed): a group of 10 through the engine, 20 direct users');
      if (options.runs.some((r) => r !== 'baseline')) await groupRun(stack, rss, 10, c, 'warmup-engine', 120);
      await baselineRun(stack, rss, 20, c, 'warmup-direct', 120);
      log(`warm-up done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }

    const runners: Record<RunName, (...args: Parameters<typeof groupRun>) => Promise<RunOutcome>> = {
      group: groupRun,
      'one-by-one': oneByOneRun,
      baseline: baselineRun,
      roles: rolesRun,
    };
    for (const name of options.runs) {
      const run = await runners[name](stack, rss, n, c, name, timeoutSeconds);
      const result: RunResult = {
        name,
        label: labels[name],
        users: n,
        seconds: run.seconds,
        requests: run.requests ?? requestCounts(run.scim),
        verification: run.verification ?? verifyTarget(run.scim, run.tag, n, run.groupName),
        usage: run.used,
        notes: run.notes,
      };
      results.push(result);
      log(
        `${name}: ${result.seconds.toFixed(2)} s, ${(n / result.seconds).toFixed(1)} users/s, ` +
          `${result.requests.total} HTTP calls (${result.requests.writes} writes); ${result.verification}`,
      );
      if (!result.verification.startsWith('OK')) exitCode = 1;
    }
  } catch (error) {
    exitCode = 1;
    logFailure(error);
  }

  const temporalMemory = processMemoryMb(stack.temporalPid);
  log('stopping everything');
  const stopStarted = performance.now();
  await stack.stop();
  rss.stop();
  log(`stopped in ${((performance.now() - stopStarted) / 1000).toFixed(1)} s`);

  printReport(header, results, temporalMemory);
  return exitCode;
}

function printReport(
  header: string,
  results: RunResult[],
  temporalMemory: { peak: number } | undefined,
): void {
  const baseline = results.find((r) => r.name === 'baseline');
  const rows = results.map((r) => [
    r.label,
    String(r.users),
    r.seconds.toFixed(2),
    (r.users / r.seconds).toFixed(1),
    String(r.requests.total),
    String(r.requests.writes),
    baseline ? `${(baseline.seconds / r.seconds).toFixed(3)}×` : 'n/a',
  ]);
  const out: string[] = ['', header, ''];
  out.push(
    markdownTable(
      ['run', 'users', 'seconds', 'users/s', 'HTTP calls', 'writes', 'throughput vs baseline'],
      rows,
    ),
  );
  out.push(
    '',
    'seconds: engine runs from the API call(s) until every operation they returned has closed; baseline from the',
    'first POST /Users to the last PATCH. HTTP calls/writes: requests the SCIM target received (writes =',
    'POST/PUT/PATCH/DELETE). one-by-one excludes assigning the (empty) group beforehand.',
  );
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  out.push(
    '',
    `memory: peak RSS of the bench process (worker + API + SCIM servers + baseline client) ${peakRssMb.toFixed(0)} MB; ` +
      `Temporal dev server ${temporalMemory ? `${temporalMemory.peak.toFixed(0)} MB` : 'n/a'}`,
  );
  for (const r of results) {
    out.push('', `### ${r.label}`, `  target: ${r.verification}`, `  requests: ${r.requests.byKind}`);
    out.push(...r.notes.map((note) => `  ${note}`));
  }
  console.log(out.join('\n'));
}

exitWhenDone(main());
