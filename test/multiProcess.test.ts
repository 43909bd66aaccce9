import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import axios from 'axios';
import { temporal as proto } from '@temporalio/proto';
import { Client as PgClient } from 'pg';
import { intentNames } from '../src/shared/intents';
import { freshDatabaseUrl } from './support/postgres';
import { ScimflowProcess } from './support/scimflowProcess';
import {
  createsIn,
  type DirectoryUserView,
  type DirectoryView,
  duplicatedUsersIn,
  duplicatesIn,
  mulberry32,
  readDirectory,
  targetProblems,
  type TargetUnderTest,
  userFor,
} from './support/targetState';
import { type ScimRequestRecord, type ScimTestServer, startScimServer } from './support/scimServer';

/**
 * scimflow scaled out: two API processes and three worker processes share one PostgreSQL directory and one
 * Temporal (and nothing on disk: each has a data directory of its own). Drivers push a few thousand directory
 * changes through both APIs at once — several of them touching the same users and groups through the two APIs —
 * while one worker and then one API process are SIGKILLed. Every acknowledged change must be in the directory, and
 * both SCIM targets must come to the directory's final state with no duplicate, without any reconciliation.
 */

const TOKEN = 'multi-process-token-0123456789abcdef';
/** Reconciliation must not repair what delivery lost: the longest interval puts the first run a week away. */
const NO_RECONCILIATION = { intervalMinutes: 10_080 };
/** Targets that never answer 409 (they take a second user with a userName in use): a create sent twice shows. */
const NEVER_409 = { uniqueness: false };
const API_PROCESSES = 2;
const WORKER_PROCESSES = 3;
const DRIVERS_PER_API = 4;
const DRIVERS = API_PROCESSES * DRIVERS_PER_API;
/**
 * Users whose memberships a driver changes through one API while another driver changes their title and activation
 * through the other.
 */
const LANE_USERS = 160;
/** Members of Alpha; the bulk groups are filled with and emptied of 150 of them at a time. */
const POOL_USERS = 200;
const BULK_SIZE = 150;
/** How long the drivers change the directory once it is set up. */
const DRIVING_MS = Number(process.env.SCIMFLOW_MULTI_DRIVING_MS ?? 40_000);
/** A driver's pause between two changes. */
const PACE_MS: [number, number] = [100, 400];
const BULK_INTERVAL_MS: [number, number] = [5_000, 9_000];
/**
 * When, as shares of the driving time, a worker is killed, and in which window API 2 is killed (right after the first
 * bulk change it acknowledges there, else at the window's end).
 */
const WORKER_KILL_AT = 0.3;
const API_KILL_WINDOW: [number, number] = [0.55, 0.7];
/**
 * The killed worker's work resumes after its activities time out (1 min), and its creations only once their claims
 * have been quiet for the targets' 60 s timeout and 15 s (a POST it had on the wire may still land): runs converged
 * 38–111 s after driving.
 */
const CONVERGENCE_DEADLINE_MS = 180_000;

const seed = Number(process.env.SCIMFLOW_MULTI_SEED ?? Date.now() % 1_000_000);
const random = mulberry32(seed);

/** Where the timeline of reports and diagnostics starts (t=0): the first change. */
let origin = Date.now();
const at = (time: number) => `t=${seconds(time - origin)}s`;

const temporaryDirectories: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  // Kill first, even when the test failed: nothing may outlive the run.
  await ScimflowProcess.killAll();
  for (const close of closers.reverse()) await close().catch(() => undefined);
  for (const directory of temporaryDirectories) await fs.rm(directory, { recursive: true, force: true });
});

describe('multi-process', () => {
  it(
    'given 2 API and 3 worker processes on one PostgreSQL and one Temporal, when thousands of changes go through ' +
      'both APIs at once and a worker and an API process are SIGKILLed mid-run, then both targets end in the ' +
      "directory's final state with no duplicate and no lost intent, without reconciliation",
    async () => {
      const testStartedAt = Date.now();
      const scimA = await startScimServer(NEVER_409);
      closers.push(() => scimA.close());
      const scimB = await startScimServer(NEVER_409);
      closers.push(() => scimB.close());
      const databaseUrl = await freshDatabaseUrl();
      const taskQueue = `multi-${randomUUID()}`;
      const env = {
        SCIMFLOW_DATABASE_URL: databaseUrl,
        // Apart from `npm start`, scimflow creates no key of its own: every process is given the same one.
        SCIMFLOW_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      };

      // All five at once, as an orchestrator starts replicas: they open (and migrate) the one database together.
      const logFiles = new Map<string, string>();
      const launch = async (role: 'api' | 'worker', name: string) => {
        const dataDir = await temporaryDirectory();
        logFiles.set(name, path.join(dataDir, 'output.log'));
        return ScimflowProcess.launch({
          role,
          name,
          dataDir,
          taskQueue,
          token: TOKEN,
          env,
          logFile: logFiles.get(name),
        });
      };
      const [apiProcesses, workers] = await Promise.all([
        Promise.all(Array.from({ length: API_PROCESSES }, (_, i) => launch('api', `api ${i + 1}`))),
        Promise.all(Array.from({ length: WORKER_PROCESSES }, (_, i) => launch('worker', `worker ${i + 1}`))),
      ]);
      const processes = [...apiProcesses, ...workers];
      const startedIn = Date.now() - testStartedAt;
      const apis = new Apis(apiProcesses);
      const temporal = await temporalClient();
      const pg = new PgClient({ connectionString: databaseUrl });
      await pg.connect();
      closers.push(() => pg.end());

      // Given: two apps, each a target of its own, with reconciliation off.
      const setupStartedAt = Date.now();
      origin = setupStartedAt;
      // This process runs the drivers and both SCIM targets: when it lags, the targets answer late.
      const lag = monitorEventLoopDelay({ resolution: 20 });
      lag.enable();
      const cpuAtStart = process.cpuUsage();
      const probe = new TargetProbe([scimA, scimB]);
      closers.push(async () => void (await probe.stop()));
      const [appA, appB] = await Promise.all(
        [
          ['Target A', scimA],
          ['Target B', scimB],
        ].map(([name, scim], i) =>
          apiProcesses[i].ok<{ id: string }>('POST', '/api/apps', {
            name,
            baseUrl: (scim as ScimTestServer).url,
            auth: { type: 'bearer', token: (scim as ScimTestServer).token },
            reconcile: NO_RECONCILIATION,
            // The targets share the test's process with the drivers, on a loaded machine: a request that timed out
            // may still land later, after newer writes (the fault tests cover that case; this one is about delivery
            // across processes), so the client waits as long as the targets may take.
            timeoutMs: 60_000,
          }),
        ),
      );
      const appIds = [appA.id, appB.id];

      // 360 users, created through both APIs at once (even ones through API 1, odd ones through API 2).
      const committed = new CommittedChanges();
      const laneUsers = await createUsers(apis, 'lane', LANE_USERS, committed);
      const poolUsers = await createUsers(apis, 'pool', POOL_USERS, committed);
      // Shared is assigned to both apps, Alpha and BulkA to A, Beta and BulkB to B. The bulk groups start empty.
      const initialMembers: Record<'Shared' | 'Alpha' | 'Beta' | 'BulkA' | 'BulkB', string[]> = {
        Shared: laneUsers.filter((_, i) => i < 80),
        Alpha: [...laneUsers.filter((_, i) => i >= 80), ...poolUsers],
        // BulkB's members are the last 150 pool users: 100 of them are in Beta too, 50 enter and leave B's scope.
        Beta: [...laneUsers.filter((_, i) => i >= 40 && i < 120), ...poolUsers.slice(50, 150)],
        BulkA: [],
        BulkB: [],
      };
      const groupIds = Object.fromEntries(
        await Promise.all(
          Object.entries(initialMembers).map(async ([displayName, memberIds], i) => {
            const group = await apis.setup<{ id: string }>(i % API_PROCESSES, 'POST', '/api/groups', {
              displayName,
              memberIds,
            });
            apis.counts.acknowledged('group created', 1, i % API_PROCESSES);
            apis.counts.acknowledged('membership (with a new group)', memberIds.length, i % API_PROCESSES);
            for (const id of memberIds) committed.acknowledged(id, `in:${group.id}`, true);
            return [displayName, group.id];
          }),
        ),
      ) as Record<keyof typeof initialMembers, string>;
      for (const user of [...laneUsers, ...poolUsers]) {
        for (const [name, id] of Object.entries(groupIds)) {
          if (!initialMembers[name as keyof typeof initialMembers].includes(user)) {
            committed.acknowledged(user, `in:${id}`, false);
          }
        }
      }
      const scopeOf = {
        [appA.id]: [groupIds.Shared, groupIds.Alpha, groupIds.BulkA],
        [appB.id]: [groupIds.Shared, groupIds.Beta, groupIds.BulkB],
      };
      await Promise.all(
        Object.entries(scopeOf).flatMap(([appId, groups]) =>
          groups.map(async (groupId, i) => {
            await apis.setup(i % API_PROCESSES, 'PUT', `/api/apps/${appId}/groups/${groupId}`);
            apis.counts.acknowledged('assignment', 1, i % API_PROCESSES);
          }),
        ),
      );
      const setupChanges = apis.counts.total;
      const setupTook = Date.now() - setupStartedAt;

      // When: eight drivers, four per API, change the directory. A lane user's memberships are changed by a
      // driver of one API, its title and activation by a driver of the other; the three lane groups get members
      // through both; BulkA is filled and emptied through API 1, BulkB through API 2. A worker is killed at 30 %,
      // API 2 right after it acknowledges a bulk change at 55–70 % (its drivers carry on through API 1).
      const drivingStartedAt = Date.now();
      const drivingUntil = drivingStartedAt + DRIVING_MS;
      const killer = new Killer(apis, workers, drivingStartedAt, () =>
        countIntents(temporal, appIds, "ExecutionStatus = 'Running'"),
      );
      const laneGroups = [groupIds.Shared, groupIds.Alpha, groupIds.Beta];
      const drivers = Array.from({ length: DRIVERS }, (_, index) => {
        const home = Math.floor(index / DRIVERS_PER_API);
        const partner = (index + DRIVERS_PER_API) % DRIVERS;
        const memberships = new Map<string, Map<string, boolean | undefined>>();
        laneUsers.forEach((id, i) => {
          if (i % DRIVERS !== index) return;
          memberships.set(
            id,
            new Map(
              laneGroups.map((groupId) => [
                groupId,
                Object.entries(groupIds).some(
                  ([name, gid]) =>
                    gid === groupId && initialMembers[name as keyof typeof initialMembers].includes(id),
                ),
              ]),
            ),
          );
        });
        return new Driver(index, home, apis, killer, committed, {
          laneGroups,
          memberships,
          attributes: laneUsers.filter((_, i) => i % DRIVERS === partner),
          titles: poolUsers.filter((_, i) => i % DRIVERS === index),
          bulk:
            index === 0
              ? { groupId: groupIds.BulkA, label: 'BulkA', userIds: poolUsers.slice(0, BULK_SIZE) }
              : index === DRIVERS_PER_API
                ? { groupId: groupIds.BulkB, label: 'BulkB', userIds: poolUsers.slice(-BULK_SIZE) }
                : undefined,
          rename:
            index === 1
              ? { groupId: groupIds.Alpha, base: 'Alpha' }
              : index === DRIVERS_PER_API + 1
                ? { groupId: groupIds.Beta, base: 'Beta' }
                : index === DRIVERS_PER_API + 2
                  ? { groupId: groupIds.Shared, base: 'Shared' }
                  : undefined,
        });
      });
      await Promise.all([killer.run(), ...drivers.map((driver) => driver.run(drivingUntil))]);
      const drivingStoppedAt = Date.now();
      const completedWhileDriving = await countIntents(temporal, appIds, "ExecutionStatus = 'Completed'");

      // Then: the directory (read through the surviving API) holds every acknowledged change, and both targets
      // come to match it, and stay so once every intent has closed.
      const survivor = apiProcesses.find((scimflow) => scimflow.running) as ScimflowProcess;
      const directory = await readDirectory(survivor, Object.values(groupIds));
      const lostCommits = committed.lostIn(directory);
      const targets: Target[] = [
        // See `inactiveMembersOptional`: a CI run saw a user created by the killed worker's group provisioning,
        // deactivated before that resumed, and adopted by its deprovisioning, so never added to the group.
        {
          label: 'A',
          scim: scimA,
          appId: appA.id,
          assigned: new Set(scopeOf[appA.id]),
          inactiveMembersOptional: true,
        },
        {
          label: 'B',
          scim: scimB,
          appId: appB.id,
          assigned: new Set(scopeOf[appB.id]),
          inactiveMembersOptional: true,
        },
      ];
      const problemsNow = () => targets.flatMap((target) => targetProblems(directory, target));
      // Nothing left to deliver or to run: what the targets hold then is what scimflow leaves them with.
      const { problems, convergedAt, settledAt } = await settle(
        problemsNow,
        async () =>
          (await outboxState(pg)).undelivered === 0 &&
          (await countIntents(temporal, appIds, "ExecutionStatus = 'Running'")) === 0,
        drivingStoppedAt + CONVERGENCE_DEADLINE_MS,
      );
      const outbox = await outboxState(pg);
      const duplicates = targets.flatMap((target) => duplicatesIn(target));
      const completed = await countIntents(temporal, appIds, "ExecutionStatus = 'Completed'");
      const unfinished = await countIntents(temporal, appIds, "ExecutionStatus != 'Completed'");
      const reconciliations = await Promise.all(appIds.map((appId) => reconciliationRuns(temporal, appId)));

      const drivingTook = drivingStoppedAt - drivingStartedAt;
      const total = apis.counts.total;
      const throughApis = total / ((drivingStoppedAt - setupStartedAt) / 1000);
      report(
        [
          `seed ${seed}; ${API_PROCESSES} API + ${WORKER_PROCESSES} worker processes (one data directory each), ` +
            `one PostgreSQL database, one Temporal dev server, 2 SCIM targets that never answer 409; ` +
            `processes ready ${seconds(startedIn)} s after the test began`,
          `changes acknowledged: ${total} in ${seconds(drivingStoppedAt - setupStartedAt)} s = ` +
            `${throughApis.toFixed(1)} changes/s through the APIs (${apis.counts.perApi()}); in ` +
            `${apis.counts.requests} write requests = ` +
            `${(apis.counts.requests / ((drivingStoppedAt - setupStartedAt) / 1000)).toFixed(1)} requests/s`,
          `  set-up: ${setupChanges} in ${seconds(setupTook)} s; driving: ${total - setupChanges} in ` +
            `${seconds(drivingTook)} s (${((total - setupChanges) / (drivingTook / 1000)).toFixed(1)}/s) ` +
            `by ${DRIVERS} drivers`,
          `  what counts as a change: one acknowledged directory write per user created, group created, ` +
            `assignment, title edit, activation change, group rename or single join/leave; a group created with ` +
            `members or a bulk PATCH of memberIds counts once per member it adds or removes`,
          `  ${apis.counts}`,
          `  ${apis.counts.unknown} changes cut off by a kill (unknown), ${apis.counts.unsent} requests refused ` +
            `at connect and sent again, ${apis.counts.refusals.length} refused by the API; API answers: ` +
            `${apis.latency()}`,
          `kills (${killer.kills.length}):`,
          ...killer.kills.map((kill) => `  ${kill}`),
          `intents: ${outbox.recorded} recorded in the outbox (${outbox.undelivered} undelivered), ${completed} ` +
            `completed (${completedWhileDriving} by the end of driving = ` +
            `${(completedWhileDriving / ((drivingStoppedAt - setupStartedAt) / 1000)).toFixed(1)}/s), ` +
            `${unfinished} closed otherwise; ` +
            `${(completed / (((settledAt ?? Date.now()) - setupStartedAt) / 1000)).toFixed(1)} intents/s done ` +
            `from the first change to the last intent's close`,
          `targets ${
            convergedAt === undefined
              ? 'did NOT converge'
              : `matched the directory from ${seconds(convergedAt - drivingStoppedAt)} s after driving stopped`
          }; ${
            settledAt === undefined
              ? `intents still running or undelivered after ${CONVERGENCE_DEADLINE_MS / 1000} s`
              : `every intent closed ${seconds(settledAt - drivingStoppedAt)} s after driving stopped`
          }; differences left: ${problems.length}; duplicates: ${duplicates.length}; acknowledged changes the ` +
            `directory lost: ${lostCommits.length}; reconciliation runs: ${reconciliations.join(' + ')}`,
          ...targets.map(
            (target) =>
              `  target ${target.label}: ${target.scim.users().length} users, ${target.scim.groups().length} ` +
              `groups; ${createsIn(target.scim.requests)} (${
                target.scim.requests.filter((request) => request.path !== '/ServiceProviderConfig').length
              } requests but ServiceProviderConfig reads)`,
          ),
          `this process (the drivers and both targets): ${seconds(cpuMs(process.cpuUsage(cpuAtStart)))} s of CPU ` +
            `from the first change on; event-loop delay p99 ${Math.round(lag.percentile(99) / 1e6)} ms, max ` +
            `${Math.round(lag.max / 1e6)} ms; the targets answered a SCIM probe every 0.5 s in ${await probe.stop()}`,
          `test took ${seconds(Date.now() - testStartedAt)} s`,
        ].join('\n'),
      );

      const diagnostics =
        problems.length || duplicates.length || lostCommits.length
          ? await diagnose({
              processes,
              logFiles,
              targets,
              pg,
              temporal,
              appIds,
              suspects: [
                ...targets.flatMap((target) => duplicatedUsersIn(target, directory)),
                ...suspectsIn(problems, directory),
                ...directory.users.filter((user) => lostCommits.some((lost) => lost.startsWith(user.id))),
              ],
              directory,
              problems,
              committed,
            })
          : '';
      for (const scimflow of processes)
        expect({ [scimflow.name]: scimflow.crashes }).toEqual({ [scimflow.name]: [] });
      expect(apis.counts.refusals).toEqual([]);
      if (lostCommits.length || duplicates.length || problems.length) {
        throw new Error(
          [
            `acknowledged changes the directory lost (${lostCommits.length}), first 20:`,
            ...lostCommits.slice(0, 20).map((lost) => `  ${lost}`),
            `duplicates in the targets (${duplicates.length}): ${duplicates.join(', ')}`,
            notConverged(problems, diagnostics),
          ].join('\n'),
        );
      }
      expect(killer.kills).toHaveLength(2);
      expect(settledAt).toBeDefined();
      expect(outbox.undelivered).toBe(0);
      expect(unfinished).toBe(0);
      expect(reconciliations).toEqual([0, 0]);
      expect(total).toBeGreaterThanOrEqual(2_000);
    },
    6 * 60_000,
  );
});

// ---------------------------------------------------------------------------------------------------------
// The APIs, and what went through them.

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a change request came to: committed (2xx), refused (any other status), or unknown (no answer). */
type Outcome = 'committed' | 'refused' | 'unknown';

type ChangeKind =
  | 'user created'
  | 'group created'
  | 'membership (with a new group)'
  | 'assignment'
  | 'membership (one join or leave)'
  | 'membership (in a bulk PATCH)'
  | 'title edit'
  | 'activation change'
  | 'group rename';

class ChangeCounts {
  readonly byKind = new Map<ChangeKind, number>();
  readonly byApi = Array.from({ length: API_PROCESSES }, () => 0);
  unknown = 0;
  unsent = 0;
  readonly refusals: string[] = [];
  bulkRequests = 0;
  /** Write requests the APIs acknowledged (a bulk PATCH is one). */
  requests = 0;

  acknowledged(kind: ChangeKind, changes: number, api: number): void {
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + changes);
    this.byApi[api] += changes;
  }

  get total(): number {
    return this.byApi.reduce((sum, n) => sum + n, 0);
  }

  perApi(): string {
    return this.byApi.map((n, i) => `API ${i + 1}: ${n}`).join(', ');
  }

  toString(): string {
    return (
      [...this.byKind].map(([kind, n]) => `${n} ${kind}`).join(', ') + ` (${this.bulkRequests} bulk PATCHes)`
    );
  }
}

/** The API processes, as the drivers reach them: their own API while it runs, else one that does. */
class Apis {
  readonly counts = new ChangeCounts();
  /** How long each answered change took, in ms. */
  readonly latencies: number[] = [];
  private readonly inFlight: Map<number, string>[];
  private nextRequest = 0;

  constructor(readonly processes: ScimflowProcess[]) {
    this.inFlight = processes.map(() => new Map());
  }

  pick(home: number): number {
    if (this.processes[home].running) return home;
    const other = this.processes.findIndex((scimflow) => scimflow.running);
    if (other < 0) throw new Error('no API process runs');
    return other;
  }

  /** A set-up call: anything but 2xx fails the test. */
  async setup<T = Record<string, unknown>>(
    home: number,
    method: Method,
    url: string,
    body?: unknown,
  ): Promise<T> {
    const answer = await this.processes[this.pick(home)].ok<T>(method, url, body);
    if (method !== 'GET') this.counts.requests++;
    return answer;
  }

  /**
   * One change. A connection refused never reached the API, so it is sent again (to a running API); any other
   * network error means the API died before, during or after the commit: the outcome is unknown.
   */
  async change<T = Record<string, unknown>>(
    home: number,
    method: Method,
    url: string,
    body: unknown,
    label: string,
  ): Promise<{ outcome: Outcome; body?: T; api: number }> {
    for (let attempt = 0; ; attempt++) {
      const api = this.pick(home);
      const key = this.nextRequest++;
      this.inFlight[api].set(key, label);
      const sentAt = Date.now();
      try {
        const response = await this.processes[api].call<T>(method, url, body);
        this.latencies.push(Date.now() - sentAt);
        if (response.status < 300) {
          this.counts.requests++;
          return { outcome: 'committed', body: response.body, api };
        }
        this.counts.refusals.push(
          `${label}: ${method} ${url} → ${response.status} ${JSON.stringify(response.body)}`,
        );
        return { outcome: 'refused', api };
      } catch (error) {
        if ((error as { code?: string }).code === 'ECONNREFUSED' && attempt < 3) {
          this.counts.unsent++;
          continue;
        }
        this.counts.unknown++;
        return { outcome: 'unknown', api };
      } finally {
        this.inFlight[api].delete(key);
      }
    }
  }

  /** "p50 … ms, p95 … ms, max … ms" of the answered changes. */
  latency(): string {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const percentile = (share: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
    return `p50 ${percentile(0.5)} ms, p95 ${percentile(0.95)} ms, max ${percentile(1)} ms`;
  }

  /** The changes on the wire to one API, for the kill log. */
  inFlightOn(api: number): string[] {
    return [...this.inFlight[api].values()];
  }
}

interface DriverPlan {
  /** Shared, Alpha and Beta: the groups this driver's users join and leave one at a time. */
  laneGroups: string[];
  /** The users whose memberships this driver changes, and what it knows of them (undefined: unknown). */
  memberships: Map<string, Map<string, boolean | undefined>>;
  /** Lane users whose title and activation this driver changes (their memberships go through the other API). */
  attributes: string[];
  /** Pool users whose title this driver changes. */
  titles: string[];
  bulk?: { groupId: string; label: string; userIds: string[] };
  rename?: { groupId: string; base: string };
}

/**
 * One driver: a loop of changes through its API — new users joining a lane group, members joining and leaving
 * one at a time, title edits, deactivations and reactivations, group renames, and (drivers 1 and 5) a bulk group
 * filled with 150 users or emptied every few seconds. Each field it changes is changed by it alone, so it knows
 * what was committed.
 */
class Driver {
  private readonly active = new Map<string, boolean | undefined>();
  private created = 0;
  private renames = 0;
  private bulkFull: boolean | undefined = false;
  private nextBulkAt = Date.now() + 2_000 + random() * 2_000;

  constructor(
    private readonly index: number,
    private readonly home: number,
    private readonly apis: Apis,
    private readonly killer: Killer,
    private readonly committed: CommittedChanges,
    private readonly plan: DriverPlan,
  ) {
    for (const id of plan.attributes) this.active.set(id, true);
  }

  async run(until: number): Promise<void> {
    while (Date.now() < until) {
      await this.nextChange();
      await sleep(PACE_MS[0] + random() * (PACE_MS[1] - PACE_MS[0]));
    }
  }

  private async nextChange(): Promise<void> {
    if (this.plan.bulk && Date.now() >= this.nextBulkAt) return this.bulkChange(this.plan.bulk);
    const roll = random();
    if (roll < 0.08) return this.newUser();
    if (roll < 0.5) return this.joinOrLeave();
    if (roll < 0.72) return this.editTitle();
    if (roll < 0.83) return this.deactivate();
    if (roll < 0.95) return this.reactivate();
    if (this.plan.rename) return this.rename(this.plan.rename);
    return this.editTitle();
  }

  private async newUser(): Promise<void> {
    const userName = `new-${this.index}-${++this.created}@multi.test`;
    const answer = await this.change<{ id: string }>(
      'POST',
      '/api/users',
      userFor(userName, 'Multi'),
      `create ${userName}`,
    );
    if (answer.outcome !== 'committed' || !answer.body) return;
    const id = answer.body.id;
    this.apis.counts.acknowledged('user created', 1, answer.api);
    this.committed.acknowledged(id, 'active', true);
    // Its memberships and attributes are this driver's alone.
    this.plan.memberships.set(id, new Map(this.plan.laneGroups.map((groupId) => [groupId, false])));
    for (const groupId of this.plan.laneGroups) this.committed.acknowledged(id, `in:${groupId}`, false);
    this.plan.attributes.push(id);
    this.active.set(id, true);
    await this.membership(id, pick(this.plan.laneGroups) as string, true);
  }

  private async joinOrLeave(): Promise<void> {
    const id = pick([...this.plan.memberships.keys()]);
    const groupId = pick(this.plan.laneGroups);
    if (!id || !groupId) return;
    const member = this.plan.memberships.get(id)?.get(groupId);
    await this.membership(id, groupId, member === undefined ? random() < 0.5 : !member);
  }

  private async membership(id: string, groupId: string, join: boolean): Promise<void> {
    const { outcome, api } = join
      ? await this.change('PUT', `/api/groups/${groupId}/members/${id}`, undefined, 'join')
      : await this.change(
          'DELETE',
          `/api/groups/${groupId}/members/${id}?confirmDeletions=true`,
          undefined,
          'leave',
        );
    this.record(id, `in:${groupId}`, join, outcome);
    if (outcome === 'committed') this.apis.counts.acknowledged('membership (one join or leave)', 1, api);
    if (outcome !== 'refused')
      this.plan.memberships.get(id)?.set(groupId, outcome === 'committed' ? join : undefined);
  }

  private async editTitle(): Promise<void> {
    const id = pick([...this.plan.attributes, ...this.plan.titles]);
    if (!id) return;
    const title = `Title ${Math.floor(random() * 1e6)}`;
    const { outcome, api } = await this.change('PATCH', `/api/users/${id}`, { title }, 'edit title');
    this.record(id, 'title', title, outcome);
    if (outcome === 'committed') this.apis.counts.acknowledged('title edit', 1, api);
  }

  private async deactivate(): Promise<void> {
    const id = pick(this.plan.attributes.filter((user) => this.active.get(user) !== false));
    if (id) await this.activation(id, false);
  }

  private async reactivate(): Promise<void> {
    const id = pick(this.plan.attributes.filter((user) => this.active.get(user) !== true));
    if (id) await this.activation(id, true);
  }

  private async activation(id: string, active: boolean): Promise<void> {
    const { outcome, api } = await this.change(
      'PATCH',
      `/api/users/${id}?confirmDeletions=true`,
      { active },
      active ? 'reactivate' : 'deactivate',
    );
    this.record(id, 'active', active, outcome);
    if (outcome === 'committed') this.apis.counts.acknowledged('activation change', 1, api);
    if (outcome !== 'refused') this.active.set(id, outcome === 'committed' ? active : undefined);
  }

  private async rename({ groupId, base }: { groupId: string; base: string }): Promise<void> {
    const displayName = `${base} v${++this.renames}`;
    const { outcome, api } = await this.change(
      'PATCH',
      `/api/groups/${groupId}`,
      { displayName },
      `rename ${base}`,
    );
    this.record(groupId, 'displayName', displayName, outcome);
    if (outcome === 'committed') this.apis.counts.acknowledged('group rename', 1, api);
  }

  /** Fills the bulk group with its 150 users, or empties it (which deprovisions them where it was their scope). */
  private async bulkChange({ groupId, label, userIds }: NonNullable<DriverPlan['bulk']>): Promise<void> {
    const [min, max] = BULK_INTERVAL_MS;
    this.nextBulkAt = Date.now() + min + random() * (max - min);
    const fill = this.bulkFull !== true;
    const what = `${fill ? 'fill' : 'empty'} ${label}`;
    const { outcome, api } = await this.change(
      'PATCH',
      `/api/groups/${groupId}?confirmDeletions=true`,
      { memberIds: fill ? userIds : [] },
      what,
    );
    for (const id of userIds) this.record(id, `in:${groupId}`, fill, outcome);
    if (outcome === 'refused') return;
    if (outcome === 'committed') {
      // From a known state every member moves; from an unknown one, count none that may not have.
      this.apis.counts.acknowledged(
        'membership (in a bulk PATCH)',
        this.bulkFull === undefined ? 0 : userIds.length,
        api,
      );
      this.apis.counts.bulkRequests++;
      this.killer.bulkAcknowledged(api, what);
    }
    this.bulkFull = outcome === 'committed' ? fill : undefined;
  }

  private record(id: string, field: Field, value: unknown, outcome: Outcome): void {
    if (outcome === 'committed') this.committed.acknowledged(id, field, value);
    else if (outcome === 'unknown') this.committed.uncertain(id, field);
  }

  private change<T = Record<string, unknown>>(method: Method, url: string, body: unknown, label: string) {
    return this.apis.change<T>(this.home, method, url, body, `${label} (driver ${this.index + 1})`);
  }
}

/** SIGKILLs one worker at 30 % of the driving time, and API 2 right after a bulk change it acknowledges later. */
class Killer {
  readonly kills: string[] = [];
  private onBulk: ((reason: string) => void) | undefined;

  constructor(
    private readonly apis: Apis,
    private readonly workers: ScimflowProcess[],
    private readonly startedAt: number,
    private readonly runningIntents: () => Promise<number>,
  ) {}

  async run(): Promise<void> {
    await sleepUntil(this.startedAt + WORKER_KILL_AT * DRIVING_MS);
    const worker = this.workers[Math.floor(random() * this.workers.length)];
    const running = await this.runningIntents().catch(() => NaN);
    const killedAt = Date.now();
    await worker.kill();
    this.kills.push(
      `${this.at(killedAt)} SIGKILL ${worker.name} (${running} intents running at the time); not restarted`,
    );

    const [from, to] = API_KILL_WINDOW;
    await sleepUntil(this.startedAt + from * DRIVING_MS);
    const reason = await Promise.race([
      new Promise<string>((resolve) => (this.onBulk = resolve)),
      sleepUntil(this.startedAt + to * DRIVING_MS).then(() => 'at the end of its window'),
    ]);
    this.onBulk = undefined;
    const api = this.apis.processes[1];
    const inFlight = this.apis.inFlightOn(1);
    const apiKilledAt = Date.now();
    await api.kill();
    this.kills.push(
      `${this.at(apiKilledAt)} SIGKILL ${api.name} ${reason}; not restarted; in flight: ` +
        `${inFlight.join(', ') || 'no request'}`,
    );
  }

  /** A bulk change was acknowledged: within 100 ms, the API that took it dies while its intents go out. */
  bulkAcknowledged(api: number, what: string): void {
    const kill = this.onBulk;
    if (api !== 1 || !kill) return;
    this.onBulk = undefined;
    setTimeout(() => kill(`right after "${what}" was acknowledged`), random() * 100);
  }

  private at(time: number): string {
    return `${at(time)} (${seconds(time - this.startedAt)} s into driving)`;
  }
}

type Field = 'active' | 'title' | 'displayName' | `in:${string}`;
const UNKNOWN = Symbol('unknown');

/**
 * What the drivers know was committed: each acknowledged change, unless a later unanswered one may have undone it.
 */
class CommittedChanges {
  private readonly expected = new Map<string, Map<Field, unknown>>();
  private readonly changes = new Map<string, string[]>();

  acknowledged(id: string, field: Field, value: unknown): void {
    this.fields(id).set(field, value);
    this.note(id, `${field}=${String(value)} acknowledged`);
  }

  uncertain(id: string, field: Field): void {
    this.fields(id).set(field, UNKNOWN);
    this.note(id, `${field} cut off by a kill`);
  }

  historyOf(id: string): string[] {
    return this.changes.get(id) ?? [];
  }

  /** Acknowledged changes the directory does not hold. */
  lostIn(directory: DirectoryView): string[] {
    const users = new Map(directory.users.map((user) => [user.id, user]));
    const groups = new Map(directory.groups.map((group) => [group.id, group]));
    const lost: string[] = [];
    for (const [id, fields] of this.expected) {
      for (const [field, value] of fields) {
        if (value === UNKNOWN) continue;
        const actual = field.startsWith('in:')
          ? groups.get(field.slice(3))?.memberIds.includes(id)
          : field === 'displayName'
            ? groups.get(id)?.displayName
            : users.get(id)?.[field as 'active' | 'title'];
        if (actual !== value)
          lost.push(`${id} ${field}: acknowledged ${String(value)}, holds ${String(actual)}`);
      }
    }
    return lost;
  }

  private note(id: string, change: string): void {
    this.changes.set(id, [...this.historyOf(id), `${at(Date.now())} ${change}`]);
  }

  private fields(id: string): Map<Field, unknown> {
    let fields = this.expected.get(id);
    if (!fields) this.expected.set(id, (fields = new Map()));
    return fields;
  }
}

/**
 * How fast the targets answer a SCIM request, as scimflow sees them: a GET of each one's ServiceProviderConfig
 * (through the same SCIM pipeline as any request), every half second, until stopped.
 */
class TargetProbe {
  private readonly times: number[] = [];
  private readonly running: Promise<void>;
  private stopped = false;

  constructor(targets: ScimTestServer[]) {
    const probe = async ({ url, token }: ScimTestServer) => {
      const sentAt = Date.now();
      await axios
        .get(`${url}/ServiceProviderConfig`, {
          headers: { authorization: `Bearer ${token}` },
          timeout: 120_000,
          validateStatus: () => true,
        })
        .catch(() => undefined);
      this.times.push(Date.now() - sentAt);
    };
    this.running = (async () => {
      while (!this.stopped) {
        await Promise.all([...targets.map(probe), sleep(500)]);
      }
    })();
  }

  /** Stops probing; answers "p50 … ms, p99 … ms, max … ms". */
  async stop(): Promise<string> {
    this.stopped = true;
    await this.running;
    const sorted = [...this.times].sort((a, b) => a - b);
    const percentile = (share: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
    return `p50 ${percentile(0.5)} ms, p99 ${percentile(0.99)} ms, max ${percentile(1)} ms`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The directory, the targets, and how they differ.

type Target = TargetUnderTest & { label: string; appId: string };

/** Users created through both APIs at once, eight at a time on each; answers their ids. */
async function createUsers(
  apis: Apis,
  prefix: string,
  count: number,
  committed: CommittedChanges,
): Promise<string[]> {
  const ids: string[] = new Array(count);
  const lanes = Array.from({ length: API_PROCESSES * 8 }, (_, lane) => lane);
  await Promise.all(
    lanes.map(async (lane) => {
      for (let i = lane; i < count; i += lanes.length) {
        const api = i % API_PROCESSES;
        const user = await apis.setup<{ id: string }>(
          api,
          'POST',
          '/api/users',
          userFor(`${prefix}-${i}@multi.test`, 'Multi'),
        );
        apis.counts.acknowledged('user created', 1, api);
        committed.acknowledged(user.id, 'active', true);
        ids[i] = user.id;
      }
    }),
  );
  return ids;
}

/** The directory users a list of differences names. */
function suspectsIn(problems: string[], directory: DirectoryView): DirectoryUserView[] {
  const named = new Set(problems.flatMap((problem) => problem.split(/[\s,:]+/)));
  return directory.users.filter((user) => named.has(user.userName.toLowerCase()) || named.has(user.userName));
}

/**
 * Waits until scimflow is idle (`idle`: nothing left to deliver or to run) on two checks a second apart — nothing
 * changes the targets after that — or until the deadline. Answers the differences left, since when the targets
 * have matched the directory without a break, and since when scimflow has been idle.
 */
async function settle(
  problemsNow: () => string[],
  idle: () => Promise<boolean>,
  deadline: number,
): Promise<{ problems: string[]; convergedAt?: number; settledAt?: number }> {
  let convergedAt: number | undefined;
  let idleSince: number | undefined;
  for (;;) {
    const now = Date.now();
    if (problemsNow().length === 0) convergedAt ??= now;
    else convergedAt = undefined;
    if (await idle()) idleSince ??= now;
    else idleSince = undefined;
    if ((idleSince !== undefined && now - idleSince >= 1_000) || now > deadline) {
      const problems = problemsNow();
      return { problems, convergedAt: problems.length ? undefined : convergedAt, settledAt: idleSince };
    }
    await sleep(500);
  }
}

function notConverged(problems: string[], diagnostics: string): string {
  return [
    `differences between the targets and the directory once scimflow was idle, or ` +
      `${CONVERGENCE_DEADLINE_MS / 1000} s after driving (${problems.length}), first 20:`,
    ...problems.slice(0, 20).map((problem) => `  ${problem}`),
    problems.length > 20 ? `  … and ${problems.length - 20} more` : '',
    diagnostics,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Temporal, the outbox, and diagnostics.

const quoted = (value: string) => `'${value}'`;

async function countIntents(client: Client, appIds: string[], clause: string): Promise<number> {
  const query = [
    `ScimAppId IN (${appIds.map(quoted).join(', ')})`,
    `ScimIntent IN (${intentNames.map(quoted).join(', ')})`,
    clause,
  ].join(' AND ');
  return (await client.workflow.count(query)).count;
}

async function reconciliationRuns(client: Client, appId: string): Promise<number> {
  const { count } = await client.workflow.count(`ScimAppId = '${appId}' AND WorkflowType = 'reconcileApp'`);
  return count;
}

async function outboxState(pg: PgClient): Promise<{ recorded: number; undelivered: number }> {
  const { rows } = await pg.query<{ recorded: string; undelivered: string }>(
    'SELECT count(*) AS recorded, count(*) FILTER (WHERE dispatched_at IS NULL) AS undelivered FROM operations',
  );
  return { recorded: Number(rows[0].recorded), undelivered: Number(rows[0].undelivered) };
}

let sharedClient: Client | undefined;
async function temporalClient(): Promise<Client> {
  if (sharedClient) return sharedClient;
  const connection = await Connection.connect({ address: process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS });
  closers.push(() => connection.close());
  return (sharedClient = new Client({ connection, namespace: 'default' }));
}

/**
 * Where the missing changes are: the outbox (PostgreSQL), the apps' runs in Temporal, and for the first few users
 * that differ, what was changed, what each target received, which intents were recorded, and what they did.
 */
async function diagnose({
  processes,
  logFiles,
  targets,
  pg,
  temporal,
  appIds,
  suspects,
  directory,
  problems,
  committed,
}: {
  processes: ScimflowProcess[];
  /** Each process's whole output, by name. */
  logFiles: Map<string, string>;
  targets: Target[];
  pg: PgClient;
  temporal: Client;
  appIds: string[];
  suspects: DirectoryUserView[];
  directory: DirectoryView;
  problems: string[];
  committed: CommittedChanges;
}): Promise<string> {
  const lines: string[] = [];
  // Group ids read as the groups' names (as they are now).
  const named = (text: string) =>
    directory.groups.reduce((result, group) => result.split(group.id).join(group.displayName), text);
  const safely = async (what: string, work: () => Promise<void>) =>
    work().catch((error) => lines.push(`${what} not readable: ${String(error)}`));
  await safely('outbox', async () => {
    const { rows } = await pg.query(
      'SELECT app_id, intent, count(*) AS n, count(*) FILTER (WHERE dispatched_at IS NULL) AS undelivered, ' +
        'count(*) FILTER (WHERE closed_at IS NULL) AS open FROM operations ' +
        'GROUP BY app_id, intent ORDER BY app_id, intent',
    );
    lines.push(`outbox: ${rows.map((row) => JSON.stringify(row)).join(', ')}`);
  });
  await safely('runs', async () => {
    for (const appId of appIds) {
      const byStatus = new Map<string, number>();
      for await (const run of temporal.workflow.list({ query: `ScimAppId = '${appId}'` })) {
        const key = `${run.type} ${run.status.name}`;
        byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
      }
      lines.push(`runs of ${appId}: ${[...byStatus].map(([key, n]) => `${key}: ${n}`).join(', ')}`);
    }
  });
  const seen = new Set<string>();
  for (const suspect of suspects.filter((user) => !seen.has(user.id) && seen.add(user.id)).slice(0, 5)) {
    lines.push(
      `${suspect.userName} (${suspect.id}): directory active ${suspect.active}, title "${String(suspect.title)}", ` +
        named(`groups ${suspect.groupIds.join(', ')}`),
    );
    for (const change of committed.historyOf(suspect.id)) lines.push(named(`  change ${change}`));
    for (const { label, scim } of targets) {
      const remotes = scim
        .users()
        .filter((user) => user.userName.toLowerCase() === suspect.userName.toLowerCase());
      for (const remote of remotes) {
        lines.push(
          `  target ${label} has ${remote.id}: active ${String(remote.active)}, title "${String(remote.title)}", ` +
            `created ${at(Date.parse(remote.meta.created))}, modified ${at(Date.parse(remote.meta.lastModified))}`,
        );
      }
      const remoteIds = new Set(remotes.map((remote) => remote.id));
      const about = (request: ScimRequestRecord) =>
        request.method === 'GET'
          ? String(request.query.filter ?? '').includes(suspect.userName)
          : (request.body as { userName?: string } | undefined)?.userName === suspect.userName ||
            remoteIds.has(request.path.split('/')[2] ?? '');
      const requests = scim.requests.flatMap((request, index) =>
        about(request)
          ? [
              `#${index} ${at(request.receivedAt)} ${request.method} ${request.path}` +
                (request.method === 'PATCH' ? ` ${JSON.stringify(request.body).slice(0, 160)}` : '') +
                ` → ${request.status ?? 'no answer'}`,
            ]
          : [],
      );
      lines.push(`  target ${label} received: ${requests.join(', ') || 'nothing about it'}`);
    }
    await safely('logs', async () => {
      for (const [name, file] of logFiles) {
        const log = (await fs.readFile(file, 'utf8').catch(() => '')).split('\n');
        const hits = log.flatMap((line, index) => (line.includes(suspect.id) ? [index] : [])).slice(0, 4);
        for (const hit of hits) {
          const context = log.slice(hit, hit + 4).map((line) => line.trim().slice(0, 300));
          lines.push(`  ${name} logged: ${context.join(' | ')}`);
        }
      }
    });
    await safely('claims', async () => {
      const { rows } = await pg.query('SELECT * FROM creation_claims WHERE local_id = $1', [suspect.id]);
      for (const row of rows) lines.push(`  creation claim left: ${JSON.stringify(row)}`);
    });
    await safely('operations', async () => {
      const { rows } = await pg.query<OperationRow>(
        'SELECT * FROM operations WHERE resource_id = $1 ORDER BY sequence',
        [suspect.id],
      );
      for (const row of rows) lines.push(...(await describeOperation(row, targets, temporal)).map(named));
    });
  }
  await safely('group syncs', async () => {
    // The membership syncs of each group a difference names, in the app it differs in.
    for (const target of targets) {
      for (const group of directory.groups) {
        if (!problems.some((problem) => problem.startsWith(`${target.label}: group ${group.displayName}:`)))
          continue;
        const { rows } = await pg.query<OperationRow>(
          "SELECT * FROM operations WHERE intent = 'syncGroupMembership' AND app_id = $1 AND resource_id = $2 " +
            'ORDER BY sequence',
          [target.appId, group.id],
        );
        lines.push(
          `${group.displayName}'s membership syncs in ${target.label} (${rows.length}), the last 6:`,
        );
        for (const row of rows.slice(-6))
          lines.push(...(await describeOperation(row, targets, temporal)).map(named));
        // What the target received for the group, the last 12 writes: each operation and how many members.
        const remoteIds = new Set(
          target.scim
            .groups()
            .filter((remote) => remote.displayName === group.displayName)
            .map((remote) => remote.id),
        );
        const writes = target.scim.requests.flatMap((request, index) =>
          request.method !== 'GET' && remoteIds.has(request.path.split('/')[2] ?? '')
            ? [
                `#${index} ${at(request.receivedAt)} ${request.method} ${patchSummary(request.body)} → ${request.status ?? 'no answer'}`,
              ]
            : [],
        );
        lines.push(`  target ${target.label} received for it: ${writes.slice(-12).join(', ') || 'no write'}`);
      }
    }
  });
  await safely('group creations', async () => {
    // A group's bulk provisioning creates its members from one reading of them: when did each run, and how long.
    const { rows } = await pg.query<OperationRow>(
      "SELECT * FROM operations WHERE intent = 'createGroup' ORDER BY sequence",
    );
    lines.push("the groups' creations (createGroup intents):");
    for (const row of rows) lines.push(...(await describeOperation(row, targets, temporal)).map(named));
  });
  for (const scimflow of processes) {
    lines.push(
      `last output of ${scimflow.name} (${scimflow.running ? 'running' : 'killed'}):\n${scimflow.output}`,
    );
  }
  return lines.join('\n');
}

/** "add members ×100, remove members ×3" of a SCIM PATCH body (or "replace" for a PUT). */
function patchSummary(body: unknown): string {
  const operations = (body as { Operations?: { op: string; path?: string; value?: unknown }[] } | undefined)
    ?.Operations;
  if (!operations) return 'replace';
  const counts = new Map<string, number>();
  for (const { op, path, value } of operations) {
    const key = `${op}${path ? ` ${path.split('[')[0]}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + (Array.isArray(value) ? value.length : 1));
  }
  return [...counts].map(([key, n]) => `${key} ×${n}`).join(', ');
}

interface OperationRow {
  sequence: string;
  workflow_id: string;
  app_id: string;
  intent: string;
  resource_id: string;
  issued_at: string;
  dispatched_at: string | null;
  closed_at: string | null;
  delivery_attempts: number;
  last_delivery_error: string | null;
}

/** An outbox row on the test's timeline, with its run's status and steps. */
async function describeOperation(row: OperationRow, targets: Target[], temporal: Client): Promise<string[]> {
  const time = (iso: string | null) => (iso ? at(Date.parse(iso)) : 'never');
  const handle = temporal.workflow.getHandle(row.workflow_id);
  const status = await handle
    .describe()
    .then((description) => description.status.name)
    .catch((error) => `not found (${String(error)})`);
  const steps = await handle
    .fetchHistory()
    .then((history) =>
      (history.events ?? []).flatMap((event) => {
        const type = (proto.api.enums.v1.EventType[event.eventType ?? 0] ?? String(event.eventType))
          .replace('EVENT_TYPE_', '')
          .toLowerCase();
        if (!/activity|marker|workflow_execution/.test(type)) return [];
        const name =
          event.activityTaskScheduledEventAttributes?.activityType?.name ??
          event.markerRecordedEventAttributes?.markerName ??
          '';
        const when = event.eventTime?.seconds
          ? at(Number(event.eventTime.seconds) * 1000 + Math.floor((event.eventTime.nanos ?? 0) / 1e6))
          : '';
        return [`${type}${name ? `(${name})` : ''} ${when}`];
      }),
    )
    .catch((error) => [`history not readable: ${String(error)}`]);
  return [
    `  #${row.sequence} ${row.intent} ${row.resource_id} → ` +
      `${targets.find((target) => target.appId === row.app_id)?.label ?? row.app_id}: ` +
      `issued ${time(row.issued_at)}, delivered ${time(row.dispatched_at)} (${row.delivery_attempts} attempts` +
      `${row.last_delivery_error ? `, last error ${row.last_delivery_error}` : ''}), recorded closed ` +
      `${time(row.closed_at)}; ${status}`,
    `    ${steps.join(', ')}`,
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers.

async function temporaryDirectory(): Promise<string> {
  const directory = await fs.mkdtemp(path.join(process.env.SCIMFLOW_TEST_TMP ?? os.tmpdir(), 'multi-'));
  temporaryDirectories.push(directory);
  return directory;
}

function report(text: string): void {
  console.log(`multi-process test:\n${text}`);
}

function cpuMs({ user, system }: NodeJS.CpuUsage): number {
  return (user + system) / 1000;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function pick<T>(items: T[]): T | undefined {
  return items.length ? items[Math.floor(random() * items.length)] : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sleepUntil(time: number): Promise<void> {
  return sleep(Math.max(0, time - Date.now()));
}
