import { openTestStore } from '../../support/testStore';
import {
  appInputSchema,
  type DirectoryUser,
  type ProvisioningSwitches,
  type ReconcileSettings,
} from '../../../src/directory/model';
import type { DirectoryStore, ReconciliationItem } from '../../../src/directory/store';
import { desiredScimUser } from '../../../src/provisioning/mapping';
import { type BusyResources, Reconciliation } from '../../../src/provisioning/reconciliation';
import { Targets } from '../../../src/provisioning/targets';
import type { ScimClient } from '../../../src/scim/client';
import type { ScimGroup, ScimUser } from '../../../src/scim/schemas';

/**
 * The app as a SCIM client sees it, in memory: list pages and group reads only. Compare is read-only, so any
 * other call fails the test.
 */
class InMemoryApp {
  users: ScimUser[] = [];
  groups: ScimGroup[] = [];
  /** As AWS IAM Identity Center does: list pages leave group members out (`members: null`). */
  listsMembers = true;
  readonly calls: string[] = [];

  readonly client = {
    listPages: (resourceType: 'Users' | 'Groups', options: { pageSize?: number; startIndex?: number }) =>
      this.listPages(resourceType, options),
    getGroup: async (id: string) => {
      this.calls.push(`GET /Groups/${id}`);
      const group = this.groups.find((g) => g.id === id);
      if (!group) throw new Error(`no group ${id}`);
      return group;
    },
  } as unknown as ScimClient;

  private async *listPages(
    resourceType: 'Users' | 'Groups',
    options: { pageSize?: number; startIndex?: number },
  ) {
    const all: (ScimUser | ScimGroup)[] =
      resourceType === 'Users'
        ? this.users
        : this.groups.map((group) => (this.listsMembers ? group : { ...group, members: null }));
    const count = options.pageSize ?? 100;
    for (let startIndex = options.startIndex ?? 1; ;) {
      this.calls.push(`GET /${resourceType}?startIndex=${startIndex}`);
      const resources = all.slice(startIndex - 1, startIndex - 1 + count);
      const nextStartIndex = startIndex + resources.length;
      const last = resources.length === 0 || nextStartIndex > all.length;
      yield { startIndex, nextStartIndex, totalResults: all.length, last, resources };
      if (last) return;
      startIndex = nextStartIndex;
    }
  }
}

class InMemoryTargets extends Targets {
  constructor(
    store: DirectoryStore,
    private readonly remote: InMemoryApp,
  ) {
    super(store);
  }

  override clientFor(): ScimClient {
    return this.remote.client;
  }
}

const idle: BusyResources = { users: new Set(), groups: new Set() };

describe('Reconciliation.compare: what each object of the app needs', () => {
  let store: DirectoryStore;
  let remote: InMemoryApp;
  let runs = 0;
  beforeEach(async () => {
    store = await openTestStore();
    remote = new InMemoryApp();
  });
  afterEach(() => store.close());

  /** Acme, with Eng assigned and holding the given users (created active unless said otherwise). */
  async function acme(
    options: {
      switches?: Partial<ProvisioningSwitches>;
      reconcile?: Partial<ReconcileSettings>;
      deprovisionMode?: 'deactivate' | 'delete';
    } = {},
  ) {
    const app = await store.createApp(
      appInputSchema.parse({
        name: 'Acme',
        baseUrl: 'https://acme.example.com/scim/v2',
        auth: { type: 'bearer', token: 't' },
        provisioning: options.switches ?? {},
        reconcile: options.reconcile ?? {},
        deprovisionMode: options.deprovisionMode ?? 'deactivate',
      }),
    );
    const eng = await store.createGroup({ displayName: 'Eng' });
    await store.assignGroup(app.id, eng.id);
    return { app, eng };
  }

  async function user(userName: string, attributes: { displayName?: string; active?: boolean } = {}) {
    return store.createUser({ userName, active: true, ...attributes });
  }

  /** The user as scimflow would have provisioned it: in the app as desired, and linked. */
  async function provisioned(
    appId: string,
    directoryUser: DirectoryUser,
    edits: Record<string, unknown> = {},
  ) {
    const desired = desiredScimUser(directoryUser);
    const remoteUser = { id: `r-${directoryUser.userName}`, ...desired, ...edits } as ScimUser;
    remote.users.push(remoteUser);
    await store.saveLink({
      appId,
      resourceType: 'User',
      localId: directoryUser.id,
      remoteId: remoteUser.id,
      lastPushed: desired,
      status: 'synced',
      lastError: null,
    });
    return remoteUser;
  }

  /** The group as scimflow would have provisioned it, holding these remote members. */
  async function provisionedGroup(appId: string, groupId: string, displayName: string, members: string[]) {
    const remoteGroup: ScimGroup = {
      id: `r-${displayName}`,
      displayName,
      members: members.map((value) => ({ value })),
    };
    remote.groups.push(remoteGroup);
    await store.saveLink({
      appId,
      resourceType: 'Group',
      localId: groupId,
      remoteId: remoteGroup.id,
      lastPushed: { displayName },
      status: 'synced',
      lastError: null,
    });
    return remoteGroup;
  }

  async function compare(appId: string, busy: BusyResources = idle) {
    const run = {
      workflowId: `reconcileApp:${appId}:${++runs}`,
      appId,
      dryRun: true,
      confirmDeletions: false,
    };
    const comparison = await new Reconciliation(store, new InMemoryTargets(store, remote)).compare(run, {
      busy,
    });
    const items = await store.reconciliationItems(run.workflowId, { limit: 1000 });
    return { comparison, items };
  }

  /** Each item as `<name>: <action> (<state>) <detail>`, sorted, for readable expectations. */
  const actions = (items: ReconciliationItem[]) =>
    items
      .map((i) => `${i.name}: ${i.action} (${i.state})${i.detail ? ` ${i.detail}` : ''}`)
      .sort((a, b) => a.localeCompare(b));

  test('given the app holds exactly the directory state, then every object is unchanged and only list pages are read', async () => {
    const { app, eng } = await acme();
    const alice = await user('alice');
    await store.addGroupMember(eng.id, alice.id);
    const remoteAlice = await provisioned(app.id, alice);
    await provisionedGroup(app.id, eng.id, 'Eng', [remoteAlice.id]);
    await store.addRemoteMembers(app.id, eng.id, [alice.id]);

    const { comparison, items } = await compare(app.id);

    expect(actions(items)).toEqual(['alice: unchanged (noted)', 'Eng: unchanged (noted)']);
    expect(comparison).toEqual({
      planned: 0,
      safeguard: {
        wouldDeprovision: 0,
        wouldDeleteGroups: 0,
        wouldRemoveMemberships: 0,
        total: 0,
        appUsers: 1,
        limit: 5,
        exceeded: false,
      },
    });
    expect(remote.calls).toEqual(['GET /Users?startIndex=1', 'GET /Groups?startIndex=1']);
  });

  test('given a directory user the app lacks, and one whose remote object is gone, then both are to be created', async () => {
    const { app, eng } = await acme();
    const [bob, dan] = [await user('bob'), await user('dan')];
    await store.updateGroup(eng.id, { memberIds: [bob.id, dan.id] });
    await provisioned(app.id, dan);
    remote.users = [];

    const { items } = await compare(app.id);

    expect(actions(items.filter((i) => i.resourceType === 'User'))).toEqual([
      'bob: create (planned) create',
      'dan: create (planned) re-create: gone from the app',
    ]);
    expect(items.find((i) => i.name === 'bob')?.key).toBe(`local:${bob.id}`);
  });

  test('given a user edited by hand in the app, then it is to be updated with the attributes that differ', async () => {
    const { app, eng } = await acme();
    const alice = await user('alice', { displayName: 'Alice' });
    await store.addGroupMember(eng.id, alice.id);
    await provisioned(app.id, alice, { displayName: 'Changed by hand' });

    const { items } = await compare(app.id);

    expect(actions(items)).toContain('alice: update (planned) displayName');
    const update = items.find((i) => i.action === 'update');
    expect(update?.remote).toMatchObject({ id: 'r-alice', displayName: 'Changed by hand' });
  });

  test('given a linked user who left the scope, then it is to be deprovisioned, and the safeguard counts it within the minimum', async () => {
    const { app } = await acme();
    const carl = await user('carl');
    await provisioned(app.id, carl);

    const { comparison, items } = await compare(app.id);

    expect(actions(items)).toEqual([
      'carl: deprovision (planned) deactivate',
      'Eng: create (planned) create',
    ]);
    expect(comparison.safeguard).toMatchObject({ wouldDeprovision: 1, total: 1, appUsers: 1, limit: 5 });
    expect(comparison.safeguard.exceeded).toBe(false);
  });

  test('given a linked user out of scope and already deactivated in the app, then it is unchanged', async () => {
    const { app } = await acme();
    const carl = await user('carl');
    await provisioned(app.id, carl, { active: false });

    const { items } = await compare(app.id);

    expect(actions(items)).toContain('carl: unchanged (planned) out of scope, deactivated');
  });

  test('given the app’s group lacks a member and holds a managed user who left it, then one members item each', async () => {
    const { app, eng } = await acme();
    const [alice, bob, carol] = [await user('alice'), await user('bob'), await user('carol')];
    const ops = await store.createGroup({ displayName: 'Ops', memberIds: [carol.id] });
    await store.assignGroup(app.id, ops.id);
    await store.updateGroup(eng.id, { memberIds: [alice.id, bob.id] });
    const [remoteAlice, , remoteCarol] = [
      await provisioned(app.id, alice),
      await provisioned(app.id, bob),
      await provisioned(app.id, carol),
    ];
    const stranger = { id: 'r-stranger', userName: 'stranger' };
    remote.users.push(stranger);
    await provisionedGroup(app.id, eng.id, 'Eng', [remoteAlice.id, remoteCarol.id, stranger.id]);
    await provisionedGroup(app.id, ops.id, 'Ops', [remoteCarol.id]);

    const { items } = await compare(app.id);

    expect(actions(items.filter((i) => i.action === 'members'))).toEqual([
      'Eng: members (planned) add bob',
      'Eng: members (planned) remove carol',
    ]);
    expect(actions(items.filter((i) => i.action === 'unmanaged'))).toEqual(['stranger: unmanaged (noted)']);
  });

  test('given a group to delete, a member to remove who stays in the app and one who leaves it, then the safeguard counts each deletion once', async () => {
    const { app, eng } = await acme({
      reconcile: { deletionThreshold: { percent: 10, count: 500, minimum: 2 } },
    });
    const [alice, carol, dave] = [await user('alice'), await user('carol'), await user('dave')];
    const ops = await store.createGroup({ displayName: 'Ops', memberIds: [carol.id] });
    await store.assignGroup(app.id, ops.id);
    await store.updateGroup(eng.id, { memberIds: [alice.id] });
    const [remoteAlice, remoteCarol, remoteDave] = [
      await provisioned(app.id, alice),
      await provisioned(app.id, carol),
      await provisioned(app.id, dave),
    ];
    // Carol stays in the app (through Ops); dave leaves it; Old is linked but no longer assigned.
    await provisionedGroup(app.id, eng.id, 'Eng', [remoteAlice.id, remoteCarol.id, remoteDave.id]);
    await provisionedGroup(app.id, ops.id, 'Ops', [remoteCarol.id]);
    const old = await store.createGroup({ displayName: 'Old' });
    await provisionedGroup(app.id, old.id, 'Old', []);

    const { comparison, items } = await compare(app.id);

    expect(actions(items.filter((i) => i.action === 'deprovision' || i.action === 'members'))).toEqual([
      'dave: deprovision (planned) deactivate',
      'Eng: members (planned) remove carol',
      'Eng: members (planned) remove dave',
      'Old: deprovision (planned) delete',
    ]);
    expect(comparison.safeguard).toEqual({
      wouldDeprovision: 1,
      wouldDeleteGroups: 1,
      // carol's; dave's removal comes with his deprovisioning and is counted there.
      wouldRemoveMemberships: 1,
      total: 3,
      appUsers: 3,
      limit: 2,
      exceeded: true,
    });
  });

  test('given deleteUsers off, then a user who left the group stays in the app, and their removal from it is counted', async () => {
    const { app, eng } = await acme({ switches: { deleteUsers: false } });
    const [alice, carl] = [await user('alice'), await user('carl')];
    await store.addGroupMember(eng.id, alice.id);
    const [remoteAlice, remoteCarl] = [await provisioned(app.id, alice), await provisioned(app.id, carl)];
    await provisionedGroup(app.id, eng.id, 'Eng', [remoteAlice.id, remoteCarl.id]);

    const { comparison, items } = await compare(app.id);

    expect(actions(items)).toContain('carl: skipped (noted) out of scope; deleteUsers is off');
    expect(comparison.safeguard).toMatchObject({ wouldDeprovision: 0, wouldRemoveMemberships: 1, total: 1 });
  });

  test('given objects of the app that no directory record claims, then they are unmanaged and never planned', async () => {
    const { app } = await acme();
    remote.users.push({ id: 'r-stranger', userName: 'stranger@example.com' });
    remote.groups.push({ id: 'r-sales', displayName: 'Sales', members: [] });

    const { items } = await compare(app.id);

    expect(actions(items)).toEqual([
      'Eng: create (planned) create',
      'Sales: unmanaged (noted)',
      'stranger@example.com: unmanaged (noted)',
    ]);
  });

  test('given an unlinked app user offering an in-scope user’s match key, then it is to be adopted, not duplicated', async () => {
    const { app, eng } = await acme();
    const alice = await user('alice@example.com', { displayName: 'Alice' });
    await store.addGroupMember(eng.id, alice.id);
    remote.users.push({ id: 'r-found', userName: 'ALICE@example.com', active: true });
    remote.groups.push({ id: 'r-eng', displayName: 'eng', members: [] });

    const { items } = await compare(app.id);

    expect(actions(items)).toEqual([
      // userName compares without case (RFC 7643 §4.1.1: caseExact false): it is not rewritten.
      'alice@example.com: create (planned) adopt; differs: externalId, displayName',
      'Eng: create (planned) adopt',
    ]);
    expect(items.find((i) => i.action === 'create' && i.resourceType === 'User')).toMatchObject({
      key: 'r-found',
      localId: alice.id,
      remoteId: 'r-found',
    });
  });

  test('given users and groups with an intent queued or running, then they are deferred to their lanes', async () => {
    const { app, eng } = await acme();
    const [alice, bob] = [await user('alice'), await user('bob')];
    await store.updateGroup(eng.id, { memberIds: [alice.id, bob.id] });
    await provisioned(app.id, alice, { displayName: 'Changed by hand' });
    await provisionedGroup(app.id, eng.id, 'Eng', []);

    const { items } = await compare(app.id, {
      users: new Set([alice.id, bob.id]),
      groups: new Set([eng.id]),
    });

    expect(actions(items)).toEqual([
      'alice: deferred (noted) an intent for it is queued or running',
      'bob: deferred (noted) create; an intent for it is queued or running',
      'Eng: deferred (noted) an intent for it is queued or running',
    ]);
  });

  test('given switches that forbid the write, then the objects are skipped and say which switch', async () => {
    const { app, eng } = await acme({
      switches: { createUsers: false, updateUsers: false, deleteUsers: false, groupMembership: false },
    });
    const [alice, bob, carl] = [
      await user('alice', { displayName: 'Alice' }),
      await user('bob'),
      await user('carl'),
    ];
    await store.updateGroup(eng.id, { memberIds: [alice.id, bob.id] });
    const remoteAlice = await provisioned(app.id, alice, { displayName: 'Changed by hand' });
    await provisioned(app.id, carl);
    await provisionedGroup(app.id, eng.id, 'Eng', [remoteAlice.id]);

    const { comparison, items } = await compare(app.id);

    expect(actions(items)).toEqual([
      'alice: skipped (noted) differs: displayName; updateUsers is off',
      'bob: skipped (noted) create; createUsers is off',
      'carl: skipped (noted) out of scope; deleteUsers is off',
      'Eng: unchanged (noted)',
    ]);
    expect(comparison.planned).toBe(0);
  });

  test('given a group listed without its members while the directory expects some, then that group alone is read', async () => {
    const { app, eng } = await acme();
    const alice = await user('alice');
    await store.addGroupMember(eng.id, alice.id);
    const remoteAlice = await provisioned(app.id, alice);
    const remoteEng = await provisionedGroup(app.id, eng.id, 'Eng', [remoteAlice.id]);
    const empty = await store.createGroup({ displayName: 'Empty' });
    await store.assignGroup(app.id, empty.id);
    await provisionedGroup(app.id, empty.id, 'Empty', []);
    remote.listsMembers = false;

    const { items } = await compare(app.id);

    expect(actions(items)).toEqual([
      'alice: unchanged (noted)',
      'Empty: unchanged (noted)',
      'Eng: unchanged (noted)',
    ]);
    expect(remote.calls.filter((call) => call.startsWith('GET /Groups/'))).toEqual([
      `GET /Groups/${remoteEng.id}`,
    ]);
  });

  test('given more users than a page holds, then every page is read and each user classified once', async () => {
    const { app, eng } = await acme({ reconcile: { pageSize: 2 } });
    const users = [await user('u1'), await user('u2'), await user('u3'), await user('u4'), await user('u5')];
    await store.updateGroup(eng.id, { memberIds: users.map((u) => u.id) });
    for (const u of users) await provisioned(app.id, u);

    const { items } = await compare(app.id);

    expect(items.filter((i) => i.resourceType === 'User').map((i) => `${i.name} ${i.action}`)).toEqual(
      ['u1', 'u2', 'u3', 'u4', 'u5'].map((name) => `${name} unchanged`),
    );
    expect(remote.calls.filter((call) => call.startsWith('GET /Users'))).toEqual([
      'GET /Users?startIndex=1',
      'GET /Users?startIndex=3',
      'GET /Users?startIndex=5',
    ]);
  });
});
