import { profiles } from '../../../src/provisioning/profiles';
import { defaultUserRules } from '../../../src/scim/diff';
import type { DirectoryApp, RemoteLink } from '../../../src/directory/model';
import { REMOTE_INDEX_TTL_MS, RemoteIndex } from '../../../src/provisioning/remoteIndex';
import type { Target } from '../../../src/provisioning/targets';
import type { ScimClient } from '../../../src/scim/client';

interface Remote {
  id: string;
  userName?: string;
  displayName?: string;
}

/** A target holding `users` and `groups`, answering list pages of at most `pageSize`, recording each request. */
function target(held: { users?: Remote[]; groups?: Remote[]; pageSize?: number; failFirst?: boolean }) {
  const requests: string[] = [];
  let failures = held.failFirst ? 1 : 0;
  const client = {
    async *listPages(
      resourceType: 'Users' | 'Groups',
      options: { pageSize?: number; startIndex?: number; excludedAttributes?: string },
    ) {
      const all = (resourceType === 'Users' ? held.users : held.groups) ?? [];
      const count = options.pageSize ?? 100;
      for (let startIndex = options.startIndex ?? 1; ;) {
        requests.push(
          `GET /${resourceType}?startIndex=${startIndex}` +
            (options.excludedAttributes ? `&excludedAttributes=${options.excludedAttributes}` : ''),
        );
        // Each request is answered on a later turn, as over HTTP.
        await new Promise((resolve) => setImmediate(resolve));
        if (failures-- > 0) throw new Error('503');
        const resources = all.slice(startIndex - 1, startIndex - 1 + count);
        const nextStartIndex = startIndex + resources.length;
        const last = resources.length === 0 || nextStartIndex > all.length;
        yield { startIndex, nextStartIndex, totalResults: all.length, last, resources };
        if (last) return;
        startIndex = nextStartIndex;
      }
    },
  } as unknown as ScimClient;
  const app = {
    id: 'acme',
    userMatchAttribute: 'userName',
    reconcile: { pageSize: held.pageSize ?? 100 },
  } as DirectoryApp;
  const acme: Target = {
    app,
    profile: profiles.generic,
    userRules: defaultUserRules(),
    patches: async () => true,
    client,
    capabilities: async () => ({ patch: true, filter: true, bulk: false, etag: false }),
  };
  return { acme, requests };
}

const users = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: `r${i}`, userName: `User${i}@Example.com` }));
const links = (...pairs: [string, string][]) => ({
  listLinks: async () =>
    pairs.map(([localId, remoteId]) => ({ resourceType: 'User', localId, remoteId }) as RemoteLink),
});
const noLinks = links();

describe('RemoteIndex: one listing of an app, shared by the bulk calls of a process', () => {
  test('given an app with 250 users (3 pages), when 10 bulk calls with 50 users each to find ask at once, then the users are listed once, 3 requests in all', async () => {
    const { acme, requests } = target({ users: users(250) });
    const index = new RemoteIndex(noLinks);

    const listings = await Promise.all(Array.from({ length: 10 }, () => index.usersFor(acme, 50)));

    expect(new Set(listings).size).toBe(1);
    expect(listings[0]?.size).toBe(250);
    expect(requests).toEqual([
      'GET /Users?startIndex=1',
      'GET /Users?startIndex=101',
      'GET /Users?startIndex=201',
    ]);
  });

  test('given an app with 250 users (3 pages), when a call has only 2 users to find, then it gets no listing after the first page and looks them up one by one', async () => {
    const { acme, requests } = target({ users: users(250) });
    const index = new RemoteIndex(noLinks);

    expect(await index.usersFor(acme, 2)).toBeNull();
    expect(requests).toEqual(['GET /Users?startIndex=1']);

    // A later call with more to find lists the rest, starting after the page already read.
    expect((await index.usersFor(acme, 3))?.size).toBe(250);
    expect(requests).toEqual([
      'GET /Users?startIndex=1',
      'GET /Users?startIndex=101',
      'GET /Users?startIndex=201',
    ]);
    // And once listed, even a small call uses it.
    expect(await index.usersFor(acme, 1)).not.toBeNull();
    expect(requests).toHaveLength(3);
  });

  test('given a listing, when users are matched, then userName compares as the directory compares names, and a remote user is never handed to two directory users nor to one while it is linked to another', async () => {
    const { acme } = target({ users: users(3) });
    const index = new RemoteIndex(links(['bob', 'r1']));
    const listing = await index.usersFor(acme, 3);

    expect(listing?.take('user0@example.com', 'alice')?.id).toBe('r0');
    expect(listing?.take('user0@example.com', 'mallory')).toBeNull();
    expect(listing?.take('user0@example.com', 'alice')?.id).toBe('r0');
    expect(listing?.take('user1@example.com', 'carol')).toBeNull();
    expect(listing?.take('user1@example.com', 'bob')?.id).toBe('r1');
    expect(listing?.take('nobody@example.com', 'dave')).toBeNull();
    expect(listing?.take(null, 'erin')).toBeNull();
  });

  test(`given a listing, when ${REMOTE_INDEX_TTL_MS / 1000} s have passed, then the next call lists again`, async () => {
    const { acme, requests } = target({ users: users(5) });
    let now = 1_000_000;
    const index = new RemoteIndex(noLinks, () => now);
    const first = await index.usersFor(acme, 5);

    now += REMOTE_INDEX_TTL_MS - 1;
    expect(await index.usersFor(acme, 5)).toBe(first);
    now += 1;
    expect(await index.usersFor(acme, 5)).not.toBe(first);
    expect(requests).toHaveLength(2);
  });

  test('given a listing whose page fails, when the callers waiting on it are answered with the failure, then the next call asks again', async () => {
    const { acme, requests } = target({ users: users(5), failFirst: true });
    const index = new RemoteIndex(noLinks);

    const answers = await Promise.allSettled([index.usersFor(acme, 5), index.usersFor(acme, 5)]);
    expect(answers.map((answer) => answer.status)).toEqual(['rejected', 'rejected']);
    expect((await index.usersFor(acme, 5))?.size).toBe(5);
    expect(requests).toHaveLength(2);
  });

  test('given an app whose groups fit one page, when 100 group creations look their group up at once, then one request without members serves them all', async () => {
    const { acme, requests } = target({ groups: [{ id: 'g1', displayName: 'Engineering' }] });
    const index = new RemoteIndex(noLinks);

    const listings = await Promise.all(Array.from({ length: 100 }, () => index.groupsFor(acme)));

    expect(new Set(listings).size).toBe(1);
    expect(listings[0]?.take('engineering', 'eng')?.id).toBe('g1');
    expect(requests).toEqual(['GET /Groups?startIndex=1&excludedAttributes=members']);
  });

  test('given an app with more groups than a page, when groups are looked up, then no listing is kept (filtered GETs are used) and that is remembered too; a 409 makes the next look-up list again', async () => {
    const groups = Array.from({ length: 3 }, (_, i) => ({ id: `g${i}`, displayName: `G${i}` }));
    const { acme, requests } = target({ groups, pageSize: 2 });
    const index = new RemoteIndex(noLinks);

    expect(await index.groupsFor(acme)).toBeNull();
    expect(await index.groupsFor(acme)).toBeNull();
    expect(requests).toHaveLength(1);

    index.forgetGroups();
    await index.groupsFor(acme);
    expect(requests).toHaveLength(2);
  });
});
