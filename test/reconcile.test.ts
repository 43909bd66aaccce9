import type { ReconciliationReport } from '../src/directory/model';
import { Harness } from './support/harness';

/**
 * Drift is made directly in the target (the scimmy server's own store, behind scimflow's back) or by changing
 * the directory without the intents that would follow (lost events); a reconciliation must then repair exactly
 * what scimflow manages, and only report the rest.
 */
describe('reconcileApp: the app brought back in line with the directory', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => h.proxy.clearFaults());

  /** Runs one reconciliation through the API, waits for it, and answers the report the API serves. */
  async function reconcile(appId: string, body?: Record<string, unknown>): Promise<ReconciliationReport> {
    const started = await h.ok<{ workflowId: string }>('POST', `/api/apps/${appId}/reconcile`, body);
    const returned = (await h.temporal.workflow
      .getHandle(started.workflowId)
      .result()) as ReconciliationReport;
    const served = await h.ok<ReconciliationReport>(
      'GET',
      `/api/apps/${appId}/reconciliations/${encodeURIComponent(started.workflowId)}`,
    );
    expect(served).toMatchObject({
      workflowId: started.workflowId,
      status: returned.status,
      counts: returned.counts,
    });
    return served;
  }

  const names = (report: ReconciliationReport, category: keyof ReconciliationReport['counts']) =>
    (report.objects[category] ?? []).map((o) => `${o.name}${o.detail ? `: ${o.detail}` : ''}`).sort();

  /** An app with Eng (the given users) and Ops (carol) assigned and provisioned. */
  async function provisionedApp(tag: string, engUsers: string[], settings: Record<string, unknown> = {}) {
    const app = await h.createApp({ name: `Reconcile ${tag}`, ...settings });
    const users = await Promise.all(
      [...engUsers, 'carol'].map((name) =>
        h.createUser(`${name}-${tag}@example.com`, { displayName: `${name} ${tag}` }),
      ),
    );
    const carol = users.pop() as { id: string; userName: string };
    const eng = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `Eng ${tag}`,
      memberIds: users.map((u) => u.id),
    });
    const ops = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: `Ops ${tag}`,
      memberIds: [carol.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${eng.id}`);
    await h.change('PUT', `/api/apps/${app.id}/groups/${ops.id}`);
    return { app, users, carol, eng, ops };
  }

  const remoteMembers = (displayName: string) =>
    (h.remoteGroup(displayName)?.members ?? []).map((m) => m.value).sort();

  it('given drift made in the target — a user deleted, an attribute changed, a member added, an unmanaged user added — then exactly the managed drift is repaired and the unmanaged user is reported and left alone', async () => {
    const { app, users, carol, eng } = await provisionedApp('drift', ['alice', 'bob']);
    const [alice, bob] = users;
    const remoteAlice = h.remoteUser(alice.userName)!;
    const remoteBob = h.remoteUser(bob.userName)!;
    const remoteCarol = h.remoteUser(carol.userName)!;
    const remoteEng = h.remoteGroup('Eng drift')!;

    h.scim.deleteUserDirectly(remoteBob.id);
    h.scim.updateUserDirectly(remoteAlice.id, { displayName: 'Changed by hand' });
    const stranger = h.scim.seedUser({ userName: 'stranger@example.com', active: true });
    h.scim.updateGroupDirectly(remoteEng.id, {
      members: [{ value: remoteAlice.id }, { value: remoteCarol.id }, { value: stranger.id }],
    });
    const strangerBefore = h.scim.users().find((u) => u.id === stranger.id);
    const before = h.scim.requests.length;

    const report = await reconcile(app.id);

    expect(report).toMatchObject({ status: 'completed', dryRun: false, error: null });
    expect(report.counts).toMatchObject({
      created: 1,
      updated: 1,
      deprovisioned: 0,
      membershipsFixed: 2,
      unchanged: 3, // carol, and the groups Eng and Ops themselves
      unmanaged: 1,
      errors: 0,
    });
    expect(names(report, 'created')).toEqual([`${bob.userName}: re-create: gone from the app`]);
    expect(names(report, 'updated')).toEqual([`${alice.userName}: displayName`]);
    expect(names(report, 'membershipsFixed')).toEqual([
      `Eng drift: add ${bob.userName}`,
      `Eng drift: remove ${carol.userName}`,
    ]);
    expect(report.objects.unmanaged).toEqual([
      { resourceType: 'User', id: null, remoteId: stranger.id, name: 'stranger@example.com' },
    ]);

    const newBob = h.remoteUser(bob.userName)!;
    expect(newBob).toMatchObject({ externalId: bob.id, active: true });
    expect(h.remoteUser(alice.userName)?.displayName).toBe('alice drift');
    // The unmanaged user keeps its membership and is not changed in any way.
    expect(remoteMembers('Eng drift')).toEqual([remoteAlice.id, newBob.id, stranger.id].sort());
    expect(remoteMembers('Ops drift')).toEqual([remoteCarol.id]);
    expect(h.scim.users().find((u) => u.id === stranger.id)).toEqual(strangerBefore);

    const writes = h.writesSince(before).map((w) => `${w.method} ${w.path}`);
    expect(writes.sort()).toEqual(
      [
        'POST /Users',
        `PATCH /Users/${remoteAlice.id}`,
        `PATCH /Groups/${remoteEng.id}`,
        `PATCH /Groups/${remoteEng.id}`,
      ].sort(),
    );
    const links = await h.ok<{ items: { localId: string; remoteId: string }[] }>(
      'GET',
      `/api/apps/${app.id}/links`,
    );
    expect(links.items.find((l) => l.localId === bob.id)?.remoteId).toBe(newBob.id);
    expect((await h.store.remoteMemberIds(app.id, eng.id)).sort()).toEqual([alice.id, bob.id].sort());

    // Nothing left to repair: the next run makes one list call per page and writes nothing.
    const again = h.scim.requests.length;
    const second = await reconcile(app.id);
    expect(second.counts).toMatchObject({
      created: 0,
      updated: 0,
      membershipsFixed: 0,
      unchanged: 5,
      unmanaged: 1,
    });
    expect(second.requests).toEqual({ list: 2, read: 0, write: 0 });
    expect(h.scim.requests.slice(again).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /Users',
      'GET /Groups',
    ]);
  });

  it('a dry run sends no write at all and reports what it would do', async () => {
    const { app, users } = await provisionedApp('dry', ['dora', 'dan']);
    const [dora, dan] = users;
    h.scim.updateUserDirectly(h.remoteUser(dora.userName)!.id, { displayName: 'Edited remotely' });
    h.scim.deleteUserDirectly(h.remoteUser(dan.userName)!.id);
    const before = h.scim.requests.length;

    const report = await reconcile(app.id, { dryRun: true });

    expect(h.scim.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
    expect(report).toMatchObject({ status: 'completed', dryRun: true });
    expect(report.counts).toMatchObject({ created: 1, updated: 1, membershipsFixed: 1, errors: 0 });
    expect(names(report, 'updated')).toEqual([`${dora.userName}: displayName`]);
    expect(names(report, 'created')).toEqual([`${dan.userName}: re-create: gone from the app`]);
    expect(h.remoteUser(dora.userName)?.displayName).toBe('Edited remotely');
    expect(h.remoteUser(dan.userName)).toBeUndefined();
  });

  it('the deletion safeguard stops a run that would deprovision too many users, and confirmDeletions lets it proceed', async () => {
    // One deletion goes through unconfirmed, however small the app.
    const { app, users, eng } = await provisionedApp('guard', ['gil', 'gus', 'gwen'], {
      reconcile: { deletionThreshold: { minimum: 1 } },
    });
    // Two users leave Eng without their intents (lost events): 2 of the app's 4 users would be deactivated.
    await h.store.removeGroupMember(eng.id, users[0].id);
    await h.store.removeGroupMember(eng.id, users[1].id);
    const before = h.scim.requests.length;

    const stopped = await reconcile(app.id);

    expect(stopped.status).toBe('needs-confirmation');
    expect(stopped.deletionSafeguard).toEqual({
      wouldDeprovision: 2,
      wouldDeleteGroups: 0,
      // Their removals from Eng come with their deprovisioning: not counted twice.
      wouldRemoveMemberships: 0,
      total: 2,
      appUsers: 4,
      limit: 1,
      exceeded: true,
    });
    expect(stopped.counts.deprovisioned).toBe(2);
    expect(h.scim.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
    expect(h.remoteUser(users[0].userName)?.active).toBe(true);

    const confirmed = await reconcile(app.id, { confirmDeletions: true });

    expect(confirmed.status).toBe('completed');
    expect(confirmed.counts).toMatchObject({ deprovisioned: 2, membershipsFixed: 2, errors: 0 });
    expect(names(confirmed, 'deprovisioned')).toEqual(
      [`${users[0].userName}: deactivated`, `${users[1].userName}: deactivated`].sort(),
    );
    expect(h.remoteUser(users[0].userName)?.active).toBe(false);
    expect(h.remoteUser(users[1].userName)?.active).toBe(false);
    expect(h.remoteUser(users[2].userName)?.active).toBe(true);
    expect(remoteMembers('Eng guard')).toEqual([h.remoteUser(users[2].userName)!.id]);
  });

  it('a threshold raised on the app lets the same kind of run go ahead; a PATCH keeps the settings it does not name', async () => {
    const { app, users, eng } = await provisionedApp('threshold', ['tia', 'tom', 'ted'], {
      reconcile: { deletionThreshold: { minimum: 0 } },
    });
    const patched = await h.ok<{ reconcile: Record<string, unknown> }>('PATCH', `/api/apps/${app.id}`, {
      reconcile: { deletionThreshold: { percent: 50 } },
    });
    expect(patched.reconcile).toEqual({
      intervalMinutes: 60,
      pageSize: 100,
      deletionThreshold: { percent: 50, count: 500, minimum: 0 },
    });
    await h.store.removeGroupMember(eng.id, users[0].id);

    const report = await reconcile(app.id);

    expect(report.status).toBe('completed');
    expect(report.deletionSafeguard).toMatchObject({ wouldDeprovision: 1, limit: 2, exceeded: false });
    expect(h.remoteUser(users[0].userName)?.active).toBe(false);
  });

  it('given a small app with the default threshold, then a single leaver is deprovisioned without confirmation', async () => {
    const { app, users, eng } = await provisionedApp('small', ['sam', 'sia', 'sol']);
    await h.store.removeGroupMember(eng.id, users[0].id);

    const report = await reconcile(app.id);

    // 1 of 4 users is 25 %, but the minimum (5) lets it through: one leaver is not a mass deletion.
    expect(report.status).toBe('completed');
    expect(report.deletionSafeguard).toMatchObject({
      wouldDeprovision: 1,
      total: 1,
      limit: 5,
      exceeded: false,
    });
    expect(h.remoteUser(users[0].userName)?.active).toBe(false);
  });

  it('given group deletions and membership removals alone over the limit, then the run stops and writes nothing, and confirmDeletions lets it proceed', async () => {
    const { app, users, carol } = await provisionedApp('groups', ['gia', 'gus'], {
      reconcile: { deletionThreshold: { minimum: 1 } },
    });
    const [gia, gus] = users;
    const leads = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Leads groups',
      memberIds: [gia.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${leads.id}`);
    const [remoteGia, remoteGus, remoteCarol] = [gia, gus, carol].map((u) => h.remoteUser(u.userName)!.id);
    // Gia and gus were added to the app's Ops by hand; Leads was unassigned without its intent (a lost event).
    // Nobody leaves the app: gia and gus stay through Eng.
    h.scim.updateGroupDirectly(h.remoteGroup('Ops groups')!.id, {
      members: [{ value: remoteCarol }, { value: remoteGia }, { value: remoteGus }],
    });
    await h.store.unassignGroup(app.id, leads.id);
    const before = h.scim.requests.length;

    const stopped = await reconcile(app.id);

    expect(stopped.status).toBe('needs-confirmation');
    expect(stopped.deletionSafeguard).toEqual({
      wouldDeprovision: 0,
      wouldDeleteGroups: 1,
      wouldRemoveMemberships: 2,
      total: 3,
      appUsers: 3,
      limit: 1,
      exceeded: true,
    });
    expect(h.writesSince(before)).toEqual([]);
    expect(h.remoteGroup('Leads groups')).toBeDefined();
    expect(remoteMembers('Ops groups')).toEqual([remoteCarol, remoteGia, remoteGus].sort());

    const confirmed = await reconcile(app.id, { confirmDeletions: true });

    expect(confirmed.status).toBe('completed');
    expect(confirmed.counts).toMatchObject({ deprovisioned: 1, membershipsFixed: 2, errors: 0 });
    expect(h.remoteGroup('Leads groups')).toBeUndefined();
    expect(remoteMembers('Ops groups')).toEqual([remoteCarol]);
    expect(h.remoteUser(gia.userName)?.active).toBe(true);
  });

  it('a user in scope whose link was lost is adopted by its match attribute, not created twice', async () => {
    const { app, users } = await provisionedApp('adopt', ['ada']);
    const remoteId = h.remoteUser(users[0].userName)!.id;
    await h.store.deleteLink(app.id, 'User', users[0].id);
    const before = h.scim.requests.length;

    const report = await reconcile(app.id);

    expect(names(report, 'created')).toEqual([`${users[0].userName}: adopted`]);
    expect(h.writesSince(before)).toEqual([]);
    expect(h.scim.users().filter((u) => u.userName === users[0].userName)).toHaveLength(1);
    expect((await h.store.getLink(app.id, 'User', users[0].id))?.remoteId).toBe(remoteId);
  });

  it('a user whose lane has an intent waiting is left to that intent and reported deferred', async () => {
    const { app, users } = await provisionedApp('defer', ['dee']);
    const [dee] = users;
    const remoteDee = h.remoteUser(dee.userName)!;
    h.scim.updateUserDirectly(remoteDee.id, { displayName: 'Changed by hand' });
    // An intent still in the outbox for dee (Temporal could not take it yet: a delivery holds its lease, so the
    // API's outbox pass leaves it there for the length of this test).
    const queued = await h.store.recordOperation(
      {
        appId: app.id,
        intent: 'updateUser',
        resourceType: 'User',
        resourceId: dee.id,
        laneId: `lane:${app.id}:User:${dee.id}`,
      },
      (sequence) => {
        const workflowId = `updateUser:${app.id}:${dee.id}:${sequence}`;
        return {
          workflowId,
          request: {
            intent: 'updateUser',
            input: { appId: app.id, userId: dee.id },
            summary: 'queued',
            workflowId,
          },
        };
      },
    );
    expect(await h.store.leaseOperation(queued.sequence, 10 * 60_000)).toBe(true);
    const before = h.scim.requests.length;

    const report = await reconcile(app.id);

    expect(report.counts).toMatchObject({ deferred: 1, updated: 0, errors: 0 });
    expect(report.objects.deferred).toEqual([
      expect.objectContaining({
        id: dee.id,
        name: dee.userName,
        detail: 'an intent for it is queued or running',
      }),
    ]);
    expect(h.writesSince(before)).toEqual([]);
  });

  it('a page read that fails is retried from that page: the pages before it are not read again', async () => {
    const app = await h.createApp({ name: 'Paged', reconcile: { pageSize: 2 } });
    const members = await Promise.all(
      ['pa', 'pb', 'pc', 'pd', 'pe'].map((n) => h.createUser(`${n}@paged.example.com`)),
    );
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Paged',
      memberIds: members.map((m) => m.id),
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    h.scim.resetRequests();
    const proxyStart = h.proxy.received.length;
    // The first page goes through; the second answers 503 once.
    h.proxy.failNext({ method: 'GET', pathPrefix: '/Users' }, { type: 'delay', ms: 0 });
    h.proxy.failNext({ method: 'GET', pathPrefix: '/Users' }, { type: 'status', status: 503 });

    const report = await reconcile(app.id);

    expect(report.status).toBe('completed');
    expect(report.counts).toMatchObject({ unchanged: 6, errors: 0 });
    // The target saw each page once, in order; the proxy saw the failed one twice.
    const pages = h.scim.requests
      .filter((r) => r.method === 'GET' && r.path === '/Users')
      .map((r) => Number(r.query.startIndex));
    expect(pages).toEqual(pages.map((_, i) => 1 + 2 * i));
    const proxied = h.proxy.received
      .slice(proxyStart)
      .filter((r) => r.method === 'GET' && r.path === '/Users');
    expect(proxied.map((r) => r.status)).toContain(503);
    expect(proxied.length).toBe(pages.length + 1);
  });

  it('refuses to start a second run of an app while one runs', async () => {
    const app = await h.createApp({ name: 'Busy' });
    h.proxy.failNext({ method: 'GET', pathPrefix: '/Users' }, { type: 'delay', ms: 2_000 });
    const first = await h.ok<{ workflowId: string }>('POST', `/api/apps/${app.id}/reconcile`);
    for (let i = 0; i < 50 && !(await h.store.getReconciliation(first.workflowId)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const second = await h.call<{ error: string; workflowId: string }>(
      'POST',
      `/api/apps/${app.id}/reconcile`,
    );

    expect(second).toMatchObject({ status: 409, body: { error: 'conflict', workflowId: first.workflowId } });
    await h.temporal.workflow.getHandle(first.workflowId).result();
    expect((await h.call('POST', `/api/apps/${app.id}/reconcile`, { dryRun: true })).status).toBe(202);
  });

  it('lists the runs of an app, newest first, and refuses unknown apps and runs of other apps', async () => {
    const { app } = await provisionedApp('list', ['liv']);
    const first = await reconcile(app.id, { dryRun: true });
    const second = await reconcile(app.id);
    const listed = await h.ok<{
      items: { workflowId: string; status: string; counts: object; objects?: unknown }[];
    }>('GET', `/api/apps/${app.id}/reconciliations`);
    expect(listed.items.map((i) => i.workflowId)).toEqual([second.workflowId, first.workflowId]);
    expect(listed.items[0]).not.toHaveProperty('objects');
    // Runs are not operations: the operations list of the app holds its intents only.
    const operations = await h.ok<{ items: { workflowId: string; intent: string }[] }>(
      'GET',
      `/api/operations?appId=${app.id}`,
    );
    expect(operations.items.length).toBeGreaterThan(0);
    expect(operations.items.filter((o) => o.workflowId.startsWith('reconcile:'))).toEqual([]);

    const other = await h.createApp();
    expect(
      (await h.call('GET', `/api/apps/${other.id}/reconciliations/${encodeURIComponent(first.workflowId)}`))
        .status,
    ).toBe(404);
    expect((await h.call('POST', '/api/apps/nope/reconcile', {})).status).toBe(404);
    expect((await h.call('POST', `/api/apps/${app.id}/reconcile`, { dryRun: 'yes' })).status).toBe(400);
    const spec = await h.ok<{ paths: Record<string, unknown> }>('GET', '/api/openapi.json');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/apps/{id}/reconcile',
        '/api/apps/{id}/reconciliations/{workflowId}',
        '/api/apps/{id}/schedule/pause',
        '/api/apps/{id}/import',
      ]),
    );
  });
});

describe('reconcileApp against a target without PATCH', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ scim: { patch: false } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('repairs with PUTs of what the target holds, keeping attributes and members scimflow does not manage', async () => {
    const app = await h.createApp({ name: 'No PATCH' });
    const [uma, vic] = await Promise.all(
      ['uma', 'vic'].map((n) => h.createUser(`${n}@noPatch.example`, { title: 'Pilot' })),
    );
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Crew',
      memberIds: [uma.id, vic.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    const remoteUma = h.remoteUser(uma.userName)!;
    const remoteVic = h.remoteUser(vic.userName)!;
    const crew = h.remoteGroup('Crew')!;
    const stranger = h.scim.seedUser({ userName: 'stranger@noPatch.example', active: true });
    h.scim.updateUserDirectly(remoteUma.id, { title: 'Edited', nickName: 'Kept' });
    h.scim.updateGroupDirectly(crew.id, {
      displayName: 'Crew (renamed)',
      members: [{ value: remoteUma.id }, { value: stranger.id }],
    });
    const before = h.scim.requests.length;

    const started = await h.ok<{ workflowId: string }>('POST', `/api/apps/${app.id}/reconcile`);
    const report = (await h.temporal.workflow.getHandle(started.workflowId).result()) as ReconciliationReport;

    expect(report.counts).toMatchObject({ updated: 2, membershipsFixed: 1, errors: 0 });
    const writes = h.writesSince(before);
    expect(writes.map((w) => w.method)).not.toContain('PATCH');
    expect(h.remoteUser(uma.userName)).toMatchObject({ nickName: 'Kept' });
    expect(h.remoteUser(uma.userName)?.title).toBe('Pilot');
    const repaired = h.scim.groups().find((g) => g.id === crew.id);
    expect(repaired?.displayName).toBe('Crew');
    expect((repaired?.members ?? []).map((m) => m.value).sort()).toEqual(
      [remoteUma.id, remoteVic.id, stranger.id].sort(),
    );
  });
});
