import type { ScimRequestRecord } from './support/scimServer';
import { Harness } from './support/harness';

/*
 * Assigning many overlapping groups at once, as a real directory has them: each user is a member of several of the
 * groups, and every group's creation provisions its members in bulk. What a user checks is the target: each user
 * once, each group with its members, and how many calls it took — one POST per user and per group, the members in
 * PATCHes of 100, and a few list pages instead of a filtered GET per user.
 */
describe('bulk provisioning of overlapping groups', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('given 300 users in 6 groups (each user in 3), when the 6 groups are assigned to an app at once, then the target holds each user once and every membership, after 300 POST /Users, 6 POST /Groups, batched PATCHes and a few list pages, with no filtered GET', async () => {
    const app = await h.createApp({ name: 'Overlapping' });
    const users = await inBatches(
      Array.from({ length: 300 }, (_, i) => `bulk${String(i).padStart(3, '0')}@example.com`),
      (userName) => h.createUser(userName),
    );
    const groups = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((g) =>
        h.ok<{ id: string; displayName: string }>('POST', '/api/groups', {
          displayName: `Bulk ${g}`,
          memberIds: users.filter((_, i) => [0, 1, 2].some((k) => (i + k) % 6 === g)).map((u) => u.id),
        }),
      ),
    );
    const before = h.scim.requests.length;

    const changes = await Promise.all(
      groups.map((group) => h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`)),
    );

    expect(changes.flatMap((change) => change.settled).filter((s) => s.status !== 'completed')).toEqual([]);
    const remoteUsers = h.scim.users().filter((user) => user.userName.startsWith('bulk'));
    expect(remoteUsers.map((user) => user.userName).sort()).toEqual(
      users.map((user) => user.userName).sort(),
    );
    const remoteIdOf = new Map(remoteUsers.map((user) => [user.externalId, user.id]));
    for (const group of groups) {
      const { memberIds } = await h.ok<{ memberIds: string[] }>('GET', `/api/groups/${group.id}`);
      expect(memberIds).toHaveLength(150);
      expect((h.remoteGroup(group.displayName)?.members ?? []).map((m) => m.value).sort()).toEqual(
        memberIds.map((id) => remoteIdOf.get(id)).sort(),
      );
    }

    const calls = tally(h.scim.requests.slice(before));
    console.log('bulk provisioning of 300 users in 6 overlapping groups:', calls);
    expect(calls.filteredUserGets).toBe(0);
    expect(calls.filteredGroupGets).toBe(0);
    expect(calls.postUsers).toBe(300);
    expect(calls.postGroups).toBe(6);
    expect(calls.patchGroups).toBe(6 * Math.ceil(150 / 100));
    // One listing of the users (the target was empty: one page) and one of the groups, shared by the six groups.
    expect(calls.userLists + calls.groupLists).toBeLessThanOrEqual(Math.ceil(300 / 100) + 3);
    expect(calls.total).toBeLessThanOrEqual(300 + 6 + Math.ceil(900 / 100) + Math.ceil(300 / 100) + 3);
  });

  it('given 40 of 100 users already in the target (created by hand, unlinked), when their two overlapping groups are assigned at once, then the 40 are adopted from a listing of the target without a POST or a filtered GET, and only the 60 others are created', async () => {
    const app = await h.createApp({ name: 'Partly there' });
    const users = await inBatches(
      Array.from({ length: 100 }, (_, i) => `there${String(i).padStart(3, '0')}@example.com`),
      (userName) => h.createUser(userName),
    );
    const preexisting = users
      .slice(0, 40)
      .map((user) => h.scim.seedUser({ userName: user.userName.toUpperCase(), active: true }));
    const groups = await Promise.all(
      [0, 1].map((g) =>
        h.ok<{ id: string; displayName: string }>('POST', '/api/groups', {
          displayName: `There ${g}`,
          // Both hold users 25–74; the first also 0–24, the second also 75–99.
          memberIds: users.filter((_, i) => (g === 0 ? i < 75 : i >= 25)).map((u) => u.id),
        }),
      ),
    );
    const before = h.scim.requests.length;

    const changes = await Promise.all(
      groups.map((group) => h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`)),
    );

    expect(changes.flatMap((change) => change.settled).filter((s) => s.status !== 'completed')).toEqual([]);
    const remote = h.scim.users().filter((user) => user.userName.toLowerCase().startsWith('there'));
    expect(remote).toHaveLength(100);
    const links = await h.store.getLinks(
      app.id,
      'User',
      users.map((user) => user.id),
    );
    expect(links.filter((link) => link.remoteId)).toHaveLength(100);
    const linkOf = new Map(links.map((link) => [link.localId, link.remoteId]));
    expect(users.slice(0, 40).map((user) => linkOf.get(user.id))).toEqual(preexisting.map((seed) => seed.id));
    const since = h.scim.requests.slice(before);
    const calls = tally(since);
    console.log('bulk provisioning with 40 of 100 users already in the target:', calls);
    // Should a look-up happen after all, say which user and how its creation went (a POST lost on the wire
    // is looked up before it is sent again, after its claim has been quiet for ~30 s).
    for (const lookUp of since.filter((r) => r.method === 'GET' && r.query.filter !== undefined)) {
      const userName = /"([^"]+)"/.exec(String(lookUp.query.filter))?.[1]?.toLowerCase() ?? '';
      const posts = since.filter(
        (r) => r.method === 'POST' && JSON.stringify(r.body).toLowerCase().includes(userName),
      );
      console.log('filtered GET', lookUp.query.filter, {
        at: lookUp.receivedAt,
        posts: posts.map((p) => [p.status, p.receivedAt]),
      });
    }
    expect(calls.filteredUserGets).toBe(0);
    expect(calls.postUsers).toBe(60);
    expect(calls.postGroups).toBe(2);
    expect(calls.patchGroups).toBe(2);
  });
});

/** The target's calls by kind. */
function tally(requests: ScimRequestRecord[]) {
  const count = (test: (request: ScimRequestRecord) => boolean) => requests.filter(test).length;
  const on = (request: ScimRequestRecord, method: string, resource: RegExp) =>
    request.method === method && resource.test(request.path);
  const filtered = (request: ScimRequestRecord) => request.query.filter !== undefined;
  return {
    total: requests.length,
    filteredUserGets: count((r) => on(r, 'GET', /\/Users$/) && filtered(r)),
    filteredGroupGets: count((r) => on(r, 'GET', /\/Groups$/) && filtered(r)),
    userLists: count((r) => on(r, 'GET', /\/Users$/) && !filtered(r)),
    groupLists: count((r) => on(r, 'GET', /\/Groups$/) && !filtered(r)),
    postUsers: count((r) => on(r, 'POST', /\/Users$/)),
    postGroups: count((r) => on(r, 'POST', /\/Groups$/)),
    patchGroups: count((r) => on(r, 'PATCH', /\/Groups\/[^/]+$/)),
    other: count(
      (r) => !/\/(Users|Groups)(\/[^/]+)?$/.test(r.path) || !['GET', 'POST', 'PATCH'].includes(r.method),
    ),
  };
}

/** Runs `work` over `items`, ten at a time, in order. */
async function inBatches<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += 10)
    results.push(...(await Promise.all(items.slice(i, i + 10).map(work))));
  return results;
}
