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
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import type { ReconciliationReport } from '../src/directory/model';
import type { SqliteDirectoryStore } from '../src/directory/sqlite/sqliteStore';
import { RECONCILE_CONCURRENCY } from '../src/provisioning/reconciliation';
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
  activityTimings,
  Deadline,
  describeUsage,
  log,
  markdownTable,
  measureUsage,
  parseRuns,
  positiveInteger,
  RssSampler,
  type Usage,
  WORKFLOW_TASK,
} from './support';

const PAGE_SIZE = 100;
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
  return {
    users: positiveInteger('users', values.users),
    timeoutSeconds: positiveInteger('timeout', values.timeout),
    runs: parseRuns(values.runs, ALL_RUNS),
  };
}

// ── shared steps ─────────────────────────────────────────────────────────────────────────────────

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
  const app = await stack.createApp(scim, `Bench ${tag}`, {
    reconcile: { pageSize: PAGE_SIZE, deletionThreshold: { percent: 100, count: n } },
  });
  const ids: string[] = [];
  for (const userName of userNames(tag, n))
    ids.push((await store.createUser(directoryUserInput(userName))).id);
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
  requests: ReturnType<typeof tally>;
  verification: string;
  usage: Usage;
  notes: string[];
}

/** The requests a target received, sorted into list pages, single reads and writes. */
function tally(scim: ScimTestServer) {
  const list = scim.requests.filter((r) => r.method === 'GET' && /^\/(Users|Groups)\/?$/.test(r.path)).length;
  const reads = scim.requests.filter((r) => r.method === 'GET').length - list;
  const writes = scim.requests.filter((r) => r.method !== 'GET').length;
  const kinds = [...requestsByKind(scim).entries()].map(([kind, count]) => `${kind} ×${count}`).join(', ');
  return { list, reads, writes, kinds };
}

function verifyTarget(scim: ScimTestServer, tag: string, n: number, groupName: string): string {
  const { ok, users, members } = inspectTarget(scim, tag, n, groupName);
  return `${ok ? 'OK' : 'MISMATCH'}: target holds ${users}/${n} users, "${groupName}" has ${members} members`;
}

/** Starts a reconciliation through the API and waits for its report, within the run's budget. */
async function reconcileOnce(stack: Stack, appId: string, deadline: Deadline) {
  const started = await stack.ok<{ workflowId: string }>('POST', `/api/apps/${appId}/reconcile`, {});
  const handle = (stack.temporal as Client).workflow.getHandle(started.workflowId);
  const report = (await deadline.race(handle.result())) as ReconciliationReport;
  const timings = activityTimings(await handle.fetchHistory())
    .filter((t) => t.activityType !== WORKFLOW_TASK)
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
  const payloads = scimUserPayloads(tag, n);
  const groupName = `${tag} group`;
  log(
    `${tag}: POST ${n} users straight to the SCIM server, ${c} at a time, then the group in PATCHes of ${BATCH_SIZE} (timed)`,
  );
  const deadline = new Deadline(tag, timeoutS);
  const usage = measureUsage(rss, stack.temporalPid);
  const t0 = performance.now();
  await provisionDirectly(scim, payloads, groupName, c, deadline);
  const seconds = (performance.now() - t0) / 1000;
  const used = usage();
  const requests = tally(scim);
  return {
    name: tag,
    label: `baseline: direct calls, ${c} at a time`,
    users: n,
    seconds,
    requests,
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
    `SCIM calls took ${(stack.exchanges.totalMs() / 1000).toFixed(2)} s in all (summed; writes overlap, ${RECONCILE_CONCURRENCY} at a time)`,
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
    requests,
    verification: verifyTarget(target.scim, tag, n, target.groupName),
    usage: used,
    notes,
  };
}

async function main(): Promise<number> {
  const { users: n, timeoutSeconds, runs } = parseOptions();
  const rss = new RssSampler();
  const stack = new Stack();
  const results: RunResult[] = [];
  let exitCode = 0;
  stack.guardProcess(timeoutSeconds * (runs.length + 1) + 300);

  const header =
    `scimflow reconciliation bench — N=${n} users, page size ${PAGE_SIZE}, write concurrency ${RECONCILE_CONCURRENCY}, ` +
    `PATCH batch ${BATCH_SIZE}, timeout ${timeoutSeconds} s per run\n` +
    describeMachine();
  log(header.replace('\n', '\n[bench] '));
  try {
    await stack.start();
    const record = (result: RunResult) => {
      results.push(result);
      log(
        `${result.name}: ${result.seconds.toFixed(2)} s, ${(result.users / result.seconds).toFixed(1)} users/s, ` +
          `${result.requests.list} list calls, ${result.requests.writes} writes; ${result.verification}`,
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
    logFailure(error);
  }
  log('stopping everything');
  await stack.stop();
  rss.stop();

  const baseline = results.find((r) => r.name === 'baseline');
  const rows = results.map((r) => [
    r.label,
    String(r.users),
    r.seconds.toFixed(2),
    (r.users / r.seconds).toFixed(1),
    String(r.requests.list),
    String(r.requests.reads),
    String(r.requests.writes),
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

exitWhenDone(main());
