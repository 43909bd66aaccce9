import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client, Connection } from '@temporalio/client';
import { type FaultProxy, startFaultProxy } from './support/faultProxy';
import { ScimflowProcess } from './support/scimflowProcess';
import {
  createsIn,
  type DirectoryView,
  duplicatedUsersIn,
  duplicatesIn,
  groupBy,
  mulberry32,
  readDirectory,
  targetProblems,
  userFor,
} from './support/targetState';
import { type ScimRequestRecord, type ScimTestServer, startScimServer } from './support/scimServer';

/**
 * Crash tests: scimflow is SIGKILLed at random moments while directory changes are in flight, started again on
 * the same data directory, and must still bring the target to the directory's final state — no lost intent, no
 * duplicate — without any reconciliation. scimflow runs as operators run it, in processes of its own; the SCIM
 * target lives in this process, so it survives every kill and remembers every request it received.
 */

const TOKEN = 'crash-test-token-0123456789abcdef';
/** Reconciliation must not repair what the outbox lost: the longest interval puts the first run a week away. */
const NO_RECONCILIATION = { intervalMinutes: 10_080 };
/** How long changes are driven (and the process killed) in the all-in-one test. */
const DRIVING_MS = Number(process.env.SCIMFLOW_CRASH_DRIVING_MS ?? 50_000);
/**
 * A kill 0.5–2.5 s after each restart while driving (some land while the restarted process is still handing over
 * what the last one left), or right after a bulk change.
 */
const KILL_INTERVAL_MS: [number, number] = [500, 2_500];
const BULK_GROUP_SIZE = 200;
/**
 * A target that never answers 409 (it takes a second user with a userName in use, as some real targets do): a
 * create sent twice leaves two remote users instead of being refused, so every duplicate shows.
 */
const NEVER_409 = { uniqueness: false };
/** Generous: after the last kill, leases and activity timeouts must expire before everything is redelivered. */
const CONVERGENCE_DEADLINE_MS = 180_000;

const seed = Number(process.env.SCIMFLOW_CRASH_SEED ?? Date.now() % 1_000_000);
const random = mulberry32(seed);

const temporaryDirectories: string[] = [];
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  // Kill first, even when a test failed: nothing may outlive the run.
  await ScimflowProcess.killAll();
  for (const close of closers) await close().catch(() => undefined);
  for (const directory of temporaryDirectories) await fs.rm(directory, { recursive: true, force: true });
});

describe('crashes', () => {
  it(
    'given an app with two assigned groups, when the process holding the API, the worker and the outbox is ' +
      'SIGKILLed again and again while changes are in flight, then every committed change reaches the target ' +
      'once, without reconciliation',
    async () => {
      const scim = await startScimServer(NEVER_409);
      closers.push(() => scim.close());
      const dataDir = await temporaryDirectory();
      const scimflow = await ScimflowProcess.launch({
        role: 'all',
        dataDir,
        taskQueue: `crash-${randomUUID()}`,
        token: TOKEN,
      });

      // Given: an app that provisions the members of Core (20 users to begin with) and of Bulk (empty for now;
      // 200 users wait outside it).
      const app = await scimflow.ok<{ id: string }>('POST', '/api/apps', {
        name: 'Crash target',
        baseUrl: scim.url,
        auth: { type: 'bearer', token: scim.token },
        reconcile: NO_RECONCILIATION,
      });
      const coreUsers = await createUsers(scimflow, 'core', 20);
      const bulkUsers = await createUsers(scimflow, 'bulk', BULK_GROUP_SIZE);
      const core = await scimflow.ok<{ id: string }>('POST', '/api/groups', {
        displayName: 'Core',
        memberIds: coreUsers.map((user) => user.id),
      });
      const bulk = await scimflow.ok<{ id: string }>('POST', '/api/groups', { displayName: 'Bulk' });
      await scimflow.ok('PUT', `/api/apps/${app.id}/groups/${core.id}`);
      await scimflow.ok('PUT', `/api/apps/${app.id}/groups/${bulk.id}`);

      // When: three drivers change the directory (each owns its users, so each knows what it committed) while
      // the killer SIGKILLs the process every few seconds and right after some bulk changes.
      const committed = new CommittedChanges();
      const killer = new Killer(scimflow);
      const drivingUntil = Date.now() + DRIVING_MS;
      const drivers = [0, 1, 2].map(
        (index) =>
          new Driver(index, scimflow, killer, committed, {
            core: core.id,
            bulk: bulk.id,
            owned: coreUsers.filter((_, i) => i % 3 === index).map((user) => user.id),
            bulkUsers: index === 0 ? bulkUsers.map((user) => user.id) : [],
          }),
      );
      for (const user of coreUsers) committed.acknowledged(user.id, 'core', true);
      await Promise.all([killer.run(drivingUntil), ...drivers.map((driver) => driver.run(drivingUntil))]);
      const drivenFor = Date.now() - (drivingUntil - DRIVING_MS);

      // Then: the directory holds every acknowledged change, and the target comes to match it.
      const settleStarted = Date.now();
      const directory = await readDirectory(scimflow, [core.id, bulk.id]);
      const lostCommits = committed.lostIn(directory);
      const assigned = new Set([core.id, bulk.id]);
      const problems = await converge(() => targetProblems(directory, { scim, assigned }));
      const convergedIn = Date.now() - settleStarted;
      const duplicates = duplicatesIn({ scim, assigned });
      const diagnostics =
        problems.length || duplicates.length
          ? await diagnose({
              api: scimflow,
              processes: [scimflow],
              dataDir,
              appId: app.id,
              suspects: [
                ...duplicatedUsersIn({ scim, assigned }, directory),
                ...suspectsIn(problems, directory),
              ],
              scim,
              committed,
            })
          : '';
      const changes = drivers.reduce((sum, driver) => sum.add(driver.counts), new ChangeCounts());
      report(
        'all-in-one',
        [
          `seed ${seed}; drove ${(drivenFor / 1000).toFixed(0)} s: ${changes}; ` +
            `acknowledged changes the directory lost: ${lostCommits.length}`,
          `${killer.kills.length} SIGKILLs (trials):`,
          ...killer.kills.map((kill) => `  ${kill}`),
          `target ${problems.length ? 'did NOT converge' : 'converged'} ${(convergedIn / 1000).toFixed(1)} s ` +
            `after driving stopped; differences left (lost intents): ${problems.length}; ` +
            `duplicates: ${duplicates.length}; the target ${createsIn(scim.requests)}`,
        ].join('\n'),
      );

      expect(scimflow.crashes).toEqual([]);
      expect(lostCommits).toEqual([]);
      // A kill 0.5–2.5 s after each restart, which takes 2–8 s.
      expect(killer.kills.length).toBeGreaterThanOrEqual(Math.floor(DRIVING_MS / 10_000));
      if (duplicates.length) throw new Error(`duplicates: ${duplicates.join(', ')}\n${diagnostics}`);
      if (problems.length) throw new Error(notConverged(problems, diagnostics));
      expect(await reconciliationRuns(app.id)).toBe(0);
    },
    DRIVING_MS + CONVERGENCE_DEADLINE_MS + 120_000,
  );

  it(
    'given the API and a worker in separate processes and a slow target, when the worker is SIGKILLed with ' +
      "creates on the wire (of users joining a group, and of a newly assigned group's members), some of those " +
      'users leave meanwhile and a new worker starts, then the target converges with no duplicate',
    async () => {
      const scim = await startScimServer(NEVER_409);
      const proxy = await startFaultProxy(scim.url);
      closers.push(
        () => proxy.close(),
        () => scim.close(),
      );
      const dataDir = await temporaryDirectory();
      const options = {
        dataDir,
        taskQueue: `crash-worker-${randomUUID()}`,
        token: TOKEN,
        // Apart from `npm start`, scimflow creates no key of its own: both processes are given the same one.
        env: { SCIMFLOW_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
      };
      const api = await ScimflowProcess.launch({ role: 'api', ...options });
      const worker = await ScimflowProcess.launch({ role: 'worker', ...options });

      // Given: an app with an assigned group (Lane, empty), and a group not yet assigned (Bulk, 8 members).
      const app = await api.ok<{ id: string }>('POST', '/api/apps', {
        name: 'Slow target',
        baseUrl: proxy.url,
        auth: { type: 'bearer', token: scim.token },
        reconcile: NO_RECONCILIATION,
      });
      const lane = await api.ok<{ id: string }>('POST', '/api/groups', { displayName: 'Lane' });
      await api.ok('PUT', `/api/apps/${app.id}/groups/${lane.id}`);
      await until('the remote group exists', () => scim.groups().length === 1);
      const joiners = await createUsers(api, 'joiner', 12);
      const bulkMembers = await createUsers(api, 'member', 8);
      const bulk = await api.ok<{ id: string }>('POST', '/api/groups', {
        displayName: 'Bulk',
        memberIds: bulkMembers.map((user) => user.id),
      });

      // When: creates take 8 s at the target (other requests 1 s); Bulk is assigned (its members are created in
      // one bulk activity) and 12 users join Lane (each created by its own intent); the worker is killed while
      // their creates are on the wire — the target still commits them, nobody hears the answer.
      proxy.failNext({ method: 'POST', pathPrefix: '/Users' }, { type: 'delay', ms: 8_000 }, 10_000);
      proxy.failNext({}, { type: 'delay', ms: 1_000 }, 10_000);
      await api.ok('PUT', `/api/apps/${app.id}/groups/${bulk.id}`);
      await api.ok('PATCH', `/api/groups/${lane.id}`, { memberIds: joiners.map((user) => user.id) });
      await until(
        'creates of both kinds are on the wire',
        () => inFlight(proxy, 'POST', '/Users').length >= 14,
        60_000,
      );
      const onTheWire = proxy.received.filter((request) => request.status === null && !request.targetStatus);
      await worker.kill();
      const killedAt = Date.now();
      // Changes keep coming while no worker runs: six joiners get a title, six of Bulk's members leave it.
      for (const user of joiners.slice(0, 6)) {
        await api.ok('PATCH', `/api/users/${user.id}`, { title: 'Written after the crash' });
      }
      for (const user of bulkMembers.slice(0, 6)) {
        await api.ok('DELETE', `/api/groups/${bulk.id}/members/${user.id}?confirmDeletions=true`);
      }
      proxy.clearFaults();
      await worker.restart();

      // Then: one remote user per user that was ever created, right for the directory as it is now: the joiners
      // active with their titles and in Lane, the leavers deactivated, Bulk's two remaining members in it.
      const directory = await readDirectory(api, [lane.id, bulk.id]);
      const assigned = new Set([lane.id, bulk.id]);
      const problems = await converge(() => targetProblems(directory, { scim, assigned }));
      const convergedIn = Date.now() - killedAt;
      const duplicates = duplicatesIn({ scim, assigned });
      const committedAfterTheKill = onTheWire.filter(
        (request) =>
          request.method !== 'GET' && request.targetStatus !== undefined && request.targetStatus < 300,
      ).length;
      report(
        'worker only',
        [
          `SIGKILL with ${onTheWire.length} requests on the wire (${countedRequests(onTheWire)}); ` +
            `${committedAfterTheKill} writes among them committed by the target after the worker died`,
          `target ${problems.length ? 'did NOT converge' : 'converged'} ${(convergedIn / 1000).toFixed(1)} s ` +
            `after the kill; differences left (lost intents): ${problems.length}; ` +
            `duplicates: ${duplicates.length}; the target ${createsIn(scim.requests)}`,
        ].join('\n'),
      );

      expect(api.crashes).toEqual([]);
      expect(worker.crashes).toEqual([]);
      expect(duplicates).toEqual([]);
      if (problems.length) {
        const suspects = suspectsIn(problems, directory);
        const diagnostics = await diagnose({
          api,
          processes: [api, worker],
          dataDir,
          appId: app.id,
          suspects,
          scim,
        });
        throw new Error(notConverged(problems, diagnostics));
      }
      expect(await reconciliationRuns(app.id)).toBe(0);
    },
    CONVERGENCE_DEADLINE_MS + 120_000,
  );
});

// ---------------------------------------------------------------------------------------------------------
// Driving changes, and killing.

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a change request came to: committed (2xx), refused (any other status), or unknown (no answer). */
type Outcome = 'committed' | 'refused' | 'unknown';

class ChangeCounts {
  committed = 0;
  refused = 0;
  unknown = 0;
  bulk = 0;

  add(other: ChangeCounts): ChangeCounts {
    this.committed += other.committed;
    this.refused += other.refused;
    this.unknown += other.unknown;
    this.bulk += other.bulk;
    return this;
  }

  toString(): string {
    return (
      `${this.committed} changes acknowledged (${this.bulk} of them bulk changes of ${BULK_GROUP_SIZE} ` +
      `members), ${this.unknown} cut off by a kill, ${this.refused} refused`
    );
  }
}

/**
 * One driver: a loop of directory changes over the users it owns — new users joining Core, members leaving
 * and rejoining, attribute edits, deactivations — and, for driver 0, the Core renames and the Bulk group
 * filled with its 200 users or emptied.
 */
class Driver {
  readonly counts = new ChangeCounts();
  private readonly members = new Set<string>();
  private readonly leavers = new Set<string>();
  private readonly inactive = new Set<string>();
  private created = 0;
  private renames = 0;
  private bulkFull = false;
  private nextBulkAt = Date.now() + 4_000;

  constructor(
    private readonly index: number,
    private readonly scimflow: ScimflowProcess,
    private readonly killer: Killer,
    private readonly committed: CommittedChanges,
    private readonly ids: { core: string; bulk: string; owned: string[]; bulkUsers: string[] },
  ) {
    for (const id of ids.owned) this.members.add(id);
  }

  async run(until: number): Promise<void> {
    while (Date.now() < until) {
      await this.killer.ready();
      await this.nextChange();
      await sleep(20 + random() * 100);
    }
  }

  private async nextChange(): Promise<void> {
    if (this.ids.bulkUsers.length && Date.now() >= this.nextBulkAt) return this.bulkChange();
    const roll = random();
    if (roll < 0.25) return this.newMember();
    if (roll < 0.4) return this.leave();
    if (roll < 0.5) return this.rejoin();
    if (roll < 0.75) return this.edit();
    if (roll < 0.85) return this.deactivate();
    if (roll < 0.95) return this.reactivate();
    if (this.index === 0) return this.renameCore();
  }

  private async newMember(): Promise<void> {
    const userName = `core-${this.index}-new-${++this.created}@crash.test`;
    const user = await this.change<{ id: string }>(
      'POST',
      '/api/users',
      userFor(userName, 'Crash'),
      `create ${userName}`,
    );
    if (user.outcome !== 'committed' || !user.body) return;
    const id = user.body.id;
    this.committed.acknowledged(id, 'active', true);
    this.committed.acknowledged(id, 'core', false);
    if ((await this.join(id)) === 'committed') this.members.add(id);
  }

  private async leave(): Promise<void> {
    const id = pick([...this.members]);
    if (!id) return;
    const { outcome } = await this.change(
      'DELETE',
      `/api/groups/${this.ids.core}/members/${id}`,
      undefined,
      'leave Core',
    );
    this.record(id, 'core', false, outcome);
    if (outcome === 'committed') {
      this.members.delete(id);
      this.leavers.add(id);
    }
  }

  private async rejoin(): Promise<void> {
    const id = pick([...this.leavers]);
    if (!id) return;
    if ((await this.join(id)) !== 'committed') return;
    this.leavers.delete(id);
    this.members.add(id);
  }

  private async join(id: string): Promise<Outcome> {
    const { outcome } = await this.change(
      'PUT',
      `/api/groups/${this.ids.core}/members/${id}`,
      undefined,
      'join Core',
    );
    this.record(id, 'core', true, outcome);
    return outcome;
  }

  private async edit(): Promise<void> {
    const id = pick([...this.members, ...this.leavers]);
    if (!id) return;
    const title = `Title ${Math.floor(random() * 1e6)}`;
    const { outcome } = await this.change('PATCH', `/api/users/${id}`, { title }, 'edit title');
    this.record(id, 'title', title, outcome);
  }

  private async deactivate(): Promise<void> {
    const id = pick([...this.members].filter((member) => !this.inactive.has(member)));
    if (!id) return;
    const { outcome } = await this.change('PATCH', `/api/users/${id}`, { active: false }, 'deactivate');
    this.record(id, 'active', false, outcome);
    if (outcome === 'committed') this.inactive.add(id);
  }

  private async reactivate(): Promise<void> {
    const id = pick([...this.inactive]);
    if (!id) return;
    const { outcome } = await this.change('PATCH', `/api/users/${id}`, { active: true }, 'reactivate');
    this.record(id, 'active', true, outcome);
    if (outcome === 'committed') this.inactive.delete(id);
  }

  private async renameCore(): Promise<void> {
    const displayName = `Core v${++this.renames}`;
    const { outcome } = await this.change(
      'PATCH',
      `/api/groups/${this.ids.core}`,
      { displayName },
      'rename Core',
    );
    this.record(this.ids.core, 'displayName', displayName, outcome);
  }

  /** Fills Bulk with its 200 users, or empties it; half the time the process is killed right after the answer. */
  private async bulkChange(): Promise<void> {
    this.nextBulkAt = Date.now() + 6_000 + random() * 6_000;
    const fill = !this.bulkFull;
    const memberIds = fill ? this.ids.bulkUsers : [];
    const label = `${fill ? 'fill' : 'empty'} Bulk`;
    // Emptying it deprovisions 200 users: more than the app's deletion threshold, so the operator confirms.
    const url = `/api/groups/${this.ids.bulk}${fill ? '' : '?confirmDeletions=true'}`;
    const { outcome } = await this.change('PATCH', url, { memberIds }, label);
    for (const id of this.ids.bulkUsers) this.record(id, 'bulk', fill, outcome);
    if (outcome !== 'committed') return;
    this.counts.bulk++;
    this.bulkFull = fill;
    if (random() < 0.5) this.killer.killSoon(`right after "${label}" was acknowledged`);
  }

  private record(id: string, field: Field, value: unknown, outcome: Outcome): void {
    if (outcome === 'committed') this.committed.acknowledged(id, field, value);
    else if (outcome === 'unknown') this.committed.uncertain(id, field);
  }

  private async change<T = Record<string, unknown>>(
    method: Method,
    url: string,
    body: unknown,
    label: string,
  ): Promise<{ outcome: Outcome; body?: T }> {
    const done = this.killer.inFlight(`${label} (driver ${this.index})`);
    try {
      const response = await this.scimflow.call<T>(method, url, body);
      const outcome = response.status < 300 ? 'committed' : 'refused';
      this.counts[outcome]++;
      return { outcome, body: response.body };
    } catch {
      // No answer: the process died before, during or after the commit.
      this.counts.unknown++;
      return { outcome: 'unknown' };
    } finally {
      done();
    }
  }
}

/** SIGKILLs the process a moment after each restart (or at once when asked), and starts it again on the same data. */
class Killer {
  readonly kills: string[] = [];
  private readonly startedAt = Date.now();
  private running: Promise<void> = Promise.resolve();
  private wake: ((reason: string) => void) | undefined;
  private readonly requests = new Map<number, string>();
  private nextRequest = 0;

  constructor(private readonly scimflow: ScimflowProcess) {}

  async run(until: number): Promise<void> {
    while (Date.now() < until) {
      const [min, max] = KILL_INTERVAL_MS;
      const reason = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('timer'), min + random() * (max - min));
        this.wake = (why) => {
          clearTimeout(timer);
          resolve(why);
        };
      });
      this.wake = undefined;
      if (Date.now() >= until) break;
      const inFlight = [...this.requests.values()];
      let restarted = () => undefined as void;
      this.running = new Promise((resolve) => (restarted = resolve));
      const killedAt = Date.now();
      try {
        await this.scimflow.restart();
      } finally {
        restarted();
      }
      this.kills.push(
        `t=${((killedAt - this.startedAt) / 1000).toFixed(1)}s ${reason}, back after ` +
          `${((Date.now() - killedAt) / 1000).toFixed(1)} s; in flight: ${inFlight.join(', ') || 'no request'}`,
      );
    }
  }

  /** The drivers wait here while the process is down. */
  ready(): Promise<void> {
    return this.running;
  }

  killSoon(reason: string): void {
    // Within 100 ms: the intents of the change are being handed over, or the lanes have just begun.
    setTimeout(() => this.wake?.(reason), random() * 100);
  }

  /** Notes a request on the wire, for the kill-point log; call the result when it is answered. */
  inFlight(label: string): () => void {
    const key = this.nextRequest++;
    this.requests.set(key, label);
    return () => this.requests.delete(key);
  }
}

type Field = 'core' | 'bulk' | 'active' | 'title' | 'displayName';
const UNKNOWN = Symbol('unknown');

/** What the drivers know was committed: each acknowledged change, unless a later unanswered one may have undone it. */
class CommittedChanges {
  private readonly expected = new Map<string, Map<Field, unknown>>();
  private readonly changes = new Map<string, string[]>();
  private readonly startedAt = Date.now();

  acknowledged(id: string, field: Field, value: unknown): void {
    this.fields(id).set(field, value);
    this.note(id, `${field}=${String(value)} acknowledged`);
  }

  uncertain(id: string, field: Field): void {
    this.fields(id).set(field, UNKNOWN);
    this.note(id, `${field} cut off by a kill`);
  }

  /** A moment as the change log counts it (seconds since driving began). */
  at(iso: string): string {
    return `t=${((Date.parse(iso) - this.startedAt) / 1000).toFixed(1)}s`;
  }

  /** The changes made to one user (or group), for failure messages. */
  historyOf(id: string): string[] {
    return this.changes.get(id) ?? [];
  }

  private note(id: string, change: string): void {
    const at = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    this.changes.set(id, [...this.historyOf(id), `t=${at}s ${change}`]);
  }

  /** Acknowledged changes the directory does not hold. */
  lostIn(directory: DirectoryView): string[] {
    const users = new Map(directory.users.map((user) => [user.id, user]));
    const groups = new Map(directory.groups.map((group) => [group.id, group]));
    const [core, bulk] = directory.groups;
    const lost: string[] = [];
    for (const [id, fields] of this.expected) {
      for (const [field, value] of fields) {
        if (value === UNKNOWN) continue;
        const user = users.get(id);
        const actual =
          field === 'displayName'
            ? groups.get(id)?.displayName
            : field === 'core'
              ? core.memberIds.includes(id)
              : field === 'bulk'
                ? bulk.memberIds.includes(id)
                : user?.[field];
        if (actual !== value)
          lost.push(`${id} ${field}: acknowledged ${String(value)}, holds ${String(actual)}`);
      }
    }
    return lost;
  }

  private fields(id: string): Map<Field, unknown> {
    let fields = this.expected.get(id);
    if (!fields) this.expected.set(id, (fields = new Map()));
    return fields;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The directory, the target, and how they differ.

async function createUsers(scimflow: ScimflowProcess, prefix: string, count: number) {
  const users: { id: string; userName: string }[] = [];
  for (let offset = 0; offset < count; offset += 10) {
    const batch = Array.from(
      { length: Math.min(10, count - offset) },
      (_, i) => `${prefix}-${offset + i}@crash.test`,
    );
    users.push(
      ...(await Promise.all(
        batch.map((userName) =>
          scimflow.ok<{ id: string; userName: string }>('POST', '/api/users', userFor(userName, 'Crash')),
        ),
      )),
    );
  }
  return users;
}

async function converge(problemsNow: () => string[]): Promise<string[]> {
  const deadline = Date.now() + CONVERGENCE_DEADLINE_MS;
  for (;;) {
    const problems = problemsNow();
    if (problems.length === 0 || Date.now() > deadline) return problems;
    await sleep(1_000);
  }
}

function notConverged(problems: string[], diagnostics: string): string {
  return [
    `The target did not reach the directory's state within ${CONVERGENCE_DEADLINE_MS / 1000} s ` +
      `(${problems.length} differences):`,
    ...problems.slice(0, 40).map((problem) => `  ${problem}`),
    problems.length > 40 ? `  … and ${problems.length - 40} more` : '',
    diagnostics,
  ].join('\n');
}

/**
 * Where the missing changes are: the outbox (the SQLite file), the app's runs in Temporal, and for the first few
 * users that differ, what was changed, which intents were recorded, and what they did.
 */
async function diagnose({
  api,
  processes,
  dataDir,
  appId,
  suspects,
  scim,
  committed,
}: {
  /** Whose API reads the runs. */
  api: ScimflowProcess;
  /** Whose output ends the message. */
  processes: ScimflowProcess[];
  dataDir: string;
  appId: string;
  suspects: { id: string; userName: string }[];
  scim: ScimTestServer;
  committed?: CommittedChanges;
}): Promise<string> {
  const lines: string[] = [];
  let operationsOf = (_userId: string): OperationRow[] => [];
  let claimsOf = (_userId: string): unknown[] => [];
  let membershipsOf = (_userId: string): string[] => [];
  let db: Database.Database | undefined;
  try {
    db = new Database(path.join(dataDir, 'scimflow.db'), { readonly: true, fileMustExist: true });
    const count = (sql: string) => (db?.prepare(sql).get(appId) as { n: number }).n;
    lines.push(
      `outbox: ${count('SELECT count(*) AS n FROM operations WHERE app_id = ?')} operations recorded, ` +
        `${count('SELECT count(*) AS n FROM operations WHERE app_id = ? AND dispatched_at IS NULL')} undelivered`,
    );
    const statement = db.prepare(
      'SELECT sequence, workflow_id, intent, issued_at, dispatched_at FROM operations ' +
        'WHERE app_id = ? AND resource_id = ? ORDER BY sequence',
    );
    operationsOf = (userId) => statement.all(appId, userId) as OperationRow[];
    // A claim left behind means a POST may have been sent whose answer nobody recorded.
    const claims = db.prepare(
      "SELECT claimant, claimed_at, expires_at FROM creation_claims WHERE app_id = ? AND resource_type = 'User' AND local_id = ?",
    );
    claimsOf = (userId) => claims.all(appId, userId);
    // What scimflow believes the target's groups hold of the user, and member writes it never settled.
    const memberships = db.prepare(
      'SELECT group_id FROM remote_memberships WHERE app_id = ? AND user_id = ?',
    );
    const unsettled = db.prepare(
      'SELECT group_id FROM member_writes_in_flight WHERE app_id = ? AND user_id = ?',
    );
    membershipsOf = (userId) => [
      `recorded remote memberships: ${JSON.stringify(memberships.all(appId, userId))}`,
      `member writes in flight: ${JSON.stringify(unsettled.all(appId, userId))}`,
    ];
  } catch (error) {
    lines.push(`outbox not readable: ${String(error)}`);
  }

  const client = await temporalClient();
  const byStatus = new Map<string, number>();
  for await (const run of client.workflow.list({ query: `ScimAppId = '${appId}'` })) {
    const key = `${run.type} ${run.status.name}`;
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  lines.push(`runs: ${[...byStatus].map(([key, n]) => `${key}: ${n}`).join(', ')}`);

  for (const suspect of suspects.slice(0, 5)) {
    lines.push(`${suspect.userName} (${suspect.id}):`);
    for (const change of committed?.historyOf(suspect.id) ?? []) lines.push(`  change ${change}`);
    const remotes = scim.users().filter((user) => user.userName === suspect.userName);
    for (const remote of remotes) {
      lines.push(
        `  remote ${remote.id}: active ${String(remote.active)}, created ${committed?.at(remote.meta.created) ?? remote.meta.created}` +
          `, last modified ${committed?.at(remote.meta.lastModified) ?? remote.meta.lastModified}`,
      );
    }
    const remoteIds = new Set(remotes.map((remote) => remote.id));
    const about = (request: ScimRequestRecord) =>
      request.method === 'GET'
        ? String(request.query.filter ?? '').includes(suspect.userName)
        : (request.body as { userName?: string } | undefined)?.userName === suspect.userName ||
          remoteIds.has(request.path.split('/')[2] ?? '') ||
          // A group's membership PATCH that adds or removes the user.
          (request.path.startsWith('/Groups/') &&
            [...remoteIds].some((id) => JSON.stringify(request.body ?? '').includes(id)));
    const opsOf = (request: ScimRequestRecord) =>
      request.path.startsWith('/Groups/')
        ? ` ${JSON.stringify((request.body as { Operations?: { op: string; path?: string }[] })?.Operations?.map((o) => `${o.op} ${o.path ?? ''}`))}`
        : '';
    const writes = scim.requests.flatMap((request, index) =>
      about(request)
        ? [
            `#${index} ${committed?.at(new Date(request.receivedAt).toISOString()) ?? ''} ${request.method} ` +
              `${request.path}${opsOf(request)} → ${request.status ?? 'no answer'}`,
          ]
        : [],
    );
    lines.push(
      `  writes to the target: ${writes.join(', ') || 'none'} (of ${scim.requests.length} requests)`,
    );
    for (const claim of claimsOf(suspect.id)) lines.push(`  creation claim left: ${JSON.stringify(claim)}`);
    for (const line of membershipsOf(suspect.id)) lines.push(`  ${line}`);
    for (const operation of operationsOf(suspect.id)) {
      // The API reads the run (and decodes its result) as an operator would.
      const view = await api
        .call<{ status: string; result?: { outcome: string; detail: string }; error?: string }>(
          'GET',
          `/api/operations/${encodeURIComponent(operation.workflow_id)}`,
        )
        .then(
          ({ body }) =>
            `${body.status} ${body.result ? `${body.result.outcome}: ${body.result.detail}` : (body.error ?? '')}`,
        )
        .catch((error) => `not readable: ${String(error)}`);
      lines.push(
        `  #${operation.sequence} ${operation.intent} issued ${operation.issued_at}, delivered ` +
          `${operation.dispatched_at ?? 'never'}: ${view}`,
        `    steps: ${await stepsOf(client, operation.workflow_id)}`,
      );
    }
  }
  db?.close();
  for (const scimflow of processes) lines.push(`last output of scimflow:\n${scimflow.output}`);
  return lines.join('\n');
}

/** A run's history in short: each event's type, with the activity it schedules or the marker it records. */
async function stepsOf(client: Client, workflowId: string): Promise<string> {
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? [])
      .map((event) => {
        const type = String(event.eventType ?? '').replace('EVENT_TYPE_', '');
        const activity = event.activityTaskScheduledEventAttributes?.activityType?.name;
        const marker = event.markerRecordedEventAttributes?.markerName;
        const time = event.eventTime?.seconds ? ` @${String(event.eventTime.seconds)}` : '';
        return `${type}${activity ? `(${activity})` : ''}${marker ? `(${marker})` : ''}${time}`;
      })
      .join(' ');
  } catch (error) {
    return `history not readable: ${String(error)}`;
  }
}

interface OperationRow {
  sequence: number;
  workflow_id: string;
  intent: string;
  issued_at: string;
  dispatched_at: string | null;
}

/** The users a list of differences names, for `diagnose`. */
function suspectsIn(problems: string[], directory: DirectoryView): { id: string; userName: string }[] {
  return directory.users.filter((user) =>
    problems.some(
      (problem) =>
        problem.startsWith(`${user.userName}:`) ||
        // "group Core v3: members missing: a@crash.test, b@crash.test"
        (problem.startsWith('group ') && problem.split(/[:,] /).includes(user.userName)),
    ),
  );
}

async function reconciliationRuns(appId: string): Promise<number> {
  const client = await temporalClient();
  const { count } = await client.workflow.count(`ScimAppId = '${appId}' AND WorkflowType = 'reconcileApp'`);
  return count;
}

let sharedClient: Client | undefined;
async function temporalClient(): Promise<Client> {
  if (sharedClient) return sharedClient;
  const connection = await Connection.connect({ address: process.env.SCIMFLOW_TEST_TEMPORAL_ADDRESS });
  closers.push(() => connection.close());
  return (sharedClient = new Client({ connection, namespace: 'default' }));
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers.

/** "7× POST /Users, 2× GET /Users" */
function countedRequests(requests: { method: string; path: string }[]): string {
  const counts = groupBy(
    requests,
    (request) => `${request.method} ${request.path.split('/').slice(0, 2).join('/')}`,
  );
  return [...counts].map(([request, list]) => `${list.length}× ${request}`).join(', ');
}

function inFlight(proxy: FaultProxy, method: string, pathPrefix: string) {
  return proxy.received.filter(
    (request) =>
      request.method === method &&
      request.path.startsWith(pathPrefix) &&
      request.status === null &&
      !request.targetStatus,
  );
}

async function until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

async function temporaryDirectory(): Promise<string> {
  const directory = await fs.mkdtemp(path.join(process.env.SCIMFLOW_TEST_TMP ?? os.tmpdir(), 'crash-'));
  temporaryDirectories.push(directory);
  return directory;
}

function report(test: string, text: string): void {
  console.log(`crash test, ${test}:\n${text}`);
}

function pick<T>(items: T[]): T | undefined {
  return items.length ? items[Math.floor(random() * items.length)] : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
