import type { ReconciliationReport } from '../src/directory/model';
import { groupKey, userKey } from '../src/provisioning/links';
import { Harness, type Operation } from './support/harness';

/** What the API answers to a change of a group or of an assignment. */
interface Changed {
  appIds: string[];
  operations: Operation[];
}

/*
 * A target that accepts a second user with a userName in use (and a second group with a displayName in use) never
 * answers 409, so nothing on its side stops two paths that create the same user at once: the provisionUser intent
 * on the user's lane, each assigned group's bulk member provisioning, a reconciliation. Only scimflow's creation
 * claims keep one remote object per directory object.
 */
describe('one remote object per directory object, whatever runs at once', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ scim: { uniqueness: false } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('given four groups sharing their 200 members (each user in two), when all four are assigned to an app at once and, while their members are being provisioned, one more user joins two of them at the same moment, then the never-409 target holds each user once and each group with its members', async () => {
    const app = await h.createApp({ name: 'Never 409' });
    const users = await inBatches(
      Array.from({ length: 200 }, (_, i) => `shared${String(i).padStart(3, '0')}@example.com`),
      (userName) => h.createUser(userName),
    );
    const late = await h.createUser('late@example.com');
    const groups = await Promise.all(
      [0, 1, 2, 3].map((g) =>
        h.ok<{ id: string; displayName: string }>('POST', '/api/groups', {
          displayName: `Shared ${g}`,
          memberIds: users.filter((_, i) => i % 4 === g || (i + 1) % 4 === g).map((user) => user.id),
        }),
      ),
    );

    // The four assignments race each other; each is committed (its intents recorded) once the API answers.
    const assignments = await Promise.all(
      groups.map((group) => h.ok<Changed>('PUT', `/api/apps/${app.id}/groups/${group.id}`)),
    );
    // Their groups' members are still being created when the late user joins two assigned groups at once.
    const joins = await Promise.all(
      [groups[0], groups[1]].map((group) =>
        h.ok<Changed>('PUT', `/api/groups/${group.id}/members/${late.id}`),
      ),
    );
    expect(joins.map((join) => join.appIds)).toEqual([[app.id], [app.id]]);
    const settled = await h.settle([...assignments, ...joins].flatMap((change) => change.operations));

    expect(settled.filter((s) => s.status !== 'completed')).toEqual([]);
    const remoteUsers = h.scim.users();
    const copies = new Map<string, number>();
    for (const user of remoteUsers) copies.set(user.userName, (copies.get(user.userName) ?? 0) + 1);
    expect([...copies.entries()].filter(([, count]) => count > 1)).toEqual([]);
    expect([...copies.keys()].sort()).toEqual([...users, late].map((user) => user.userName).sort());

    const remoteIdOf = new Map(remoteUsers.map((user) => [user.externalId, user.id]));
    const remoteGroups = h.scim.groups();
    expect(remoteGroups.map((group) => group.displayName).sort()).toEqual(
      groups.map((group) => group.displayName).sort(),
    );
    for (const [g, group] of groups.entries()) {
      const { memberIds } = await h.ok<{ memberIds: string[] }>('GET', `/api/groups/${group.id}`);
      if (g < 2) expect(memberIds).toContain(late.id);
      const remote = remoteGroups.find((candidate) => candidate.displayName === group.displayName);
      expect((remote?.members ?? []).map((member) => member.value).sort()).toEqual(
        memberIds.map((id) => remoteIdOf.get(id)).sort(),
      );
    }
  });

  it('given Erin and her group Ops deleted in the target by hand and another path about to create them anew (holding their creation claims), when the app is reconciled, then both are left to that path and reported deferred; once the claims are let go, the next run creates each once', async () => {
    const app = await h.createApp({ name: 'Claimed elsewhere' });
    const erin = await h.createUser('erin@example.com');
    const ops = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Ops claimed',
      memberIds: [erin.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${ops.id}`);
    h.scim.deleteGroupDirectly(h.remoteGroup('Ops claimed')!.id);
    h.scim.deleteUserDirectly(h.remoteUser(erin.userName)!.id);
    // Another path saw the 404s, forgot the links, and is about to create both anew.
    const elsewhere = 'updateUser:elsewhere/2';
    for (const key of [userKey(app.id, erin.id), groupKey(app.id, ops.id)]) {
      await h.store.deleteLink(key.appId, key.resourceType, key.localId);
      expect(await h.store.claimCreation(key, elsewhere, 60_000)).toMatchObject({ outcome: 'claimed' });
    }
    const before = h.scim.requests.length;

    const deferred = await reconcile(app.id);

    expect(deferred.counts).toMatchObject({ deferred: 2, created: 0, errors: 0 });
    expect(deferred.objects.deferred?.map((o) => [o.name, o.detail])).toEqual(
      expect.arrayContaining([
        [erin.userName, expect.stringContaining(`being created by ${elsewhere}`)],
        ['Ops claimed', expect.stringContaining(`being created by ${elsewhere}`)],
      ]),
    );
    expect(h.writesSince(before)).toEqual([]);

    await h.store.releaseCreationClaim(userKey(app.id, erin.id), elsewhere);
    await h.store.releaseCreationClaim(groupKey(app.id, ops.id), elsewhere);
    const repaired = await reconcile(app.id);

    expect(repaired.counts).toMatchObject({ deferred: 0, errors: 0 });
    expect(h.scim.users().filter((user) => user.userName === erin.userName)).toHaveLength(1);
    expect(h.scim.groups().filter((group) => group.displayName === 'Ops claimed')).toHaveLength(1);
    expect(h.remoteGroup('Ops claimed')?.members?.map((member) => member.value)).toEqual([
      h.remoteUser(erin.userName)?.id,
    ]);
  });

  /** Runs one reconciliation through the API and answers its report. */
  async function reconcile(appId: string): Promise<ReconciliationReport> {
    const started = await h.ok<{ workflowId: string }>('POST', `/api/apps/${appId}/reconcile`);
    return (await h.temporal.workflow.getHandle(started.workflowId).result()) as ReconciliationReport;
  }
});

/** Runs `work` over `items`, ten at a time, in order. */
async function inBatches<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += 10)
    results.push(...(await Promise.all(items.slice(i, i + 10).map(work))));
  return results;
}
