import { profiles } from '../../../src/provisioning/profiles';
import { defaultUserRules } from '../../../src/scim/diff';
import type { DirectoryApp } from '../../../src/directory/model';
import { runLimited } from '../../../src/provisioning/concurrency';
import {
  createOrAdopt,
  memberWrites,
  renameRemoteGroup,
  unlessGone,
  updateRemoteUser,
} from '../../../src/provisioning/remoteWrites';
import type { Target } from '../../../src/provisioning/targets';
import type { ScimClient } from '../../../src/scim/client';
import { ScimError } from '../../../src/scim/errors';

/** A target that records the calls it receives; what it holds is given by the test. */
function target(options: { patch: boolean; membershipBatchSize?: number; held?: Record<string, unknown> }) {
  const calls: { call: string; body?: unknown }[] = [];
  const client = {
    patchUser: async (id: string, body: unknown) => void calls.push({ call: `PATCH /Users/${id}`, body }),
    replaceUser: async (id: string, body: unknown) => void calls.push({ call: `PUT /Users/${id}`, body }),
    getUser: async (id: string) => {
      calls.push({ call: `GET /Users/${id}` });
      return { id, ...options.held };
    },
    patchGroup: async (id: string, body: unknown) => void calls.push({ call: `PATCH /Groups/${id}`, body }),
    replaceGroup: async (id: string, body: unknown) => void calls.push({ call: `PUT /Groups/${id}`, body }),
    getGroup: async (id: string) => {
      calls.push({ call: `GET /Groups/${id}` });
      return { id, displayName: 'Eng', ...options.held };
    },
  } as unknown as ScimClient;
  const app = { id: 'acme', membershipBatchSize: options.membershipBatchSize ?? 100 } as DirectoryApp;
  const acme: Target = {
    app,
    profile: { ...profiles.generic, membershipBatchSize: app.membershipBatchSize as number },
    userRules: defaultUserRules(),
    patches: async () => options.patch,
    client,
    capabilities: async () => ({ patch: options.patch, filter: true, bulk: false, etag: false }),
  };
  return { acme, calls };
}

const eng = { id: 'eng', displayName: 'Eng' };
const members = (...ids: string[]) => ids.map((value) => ({ value }));

describe('remote writes: PATCH when the app takes it, else read–change–write PUT', () => {
  test('given an app with PATCH, when a user is updated, then only the operations are sent', async () => {
    const { acme, calls } = target({ patch: true });
    const operations = [{ op: 'replace' as const, path: 'title', value: 'CTO' }];

    await updateRemoteUser(acme, 'r-alice', operations, () => ({ unused: true }));

    expect(calls).toEqual([{ call: 'PATCH /Users/r-alice', body: operations }]);
  });

  test('given an app without PATCH, when a user is updated, then what it holds is read, changed and PUT back', async () => {
    const { acme, calls } = target({
      patch: false,
      held: { userName: 'alice', nickName: 'al', meta: { version: 'W/1' } },
    });

    await updateRemoteUser(acme, 'r-alice', [], (current) => ({ ...current, title: 'CTO' }));

    expect(calls).toEqual([
      { call: 'GET /Users/r-alice' },
      {
        call: 'PUT /Users/r-alice',
        body: { id: 'r-alice', userName: 'alice', nickName: 'al', title: 'CTO' },
      },
    ]);
  });

  test('given the user as just listed, when the app has no PATCH, then the PUT starts from it without a read', async () => {
    const { acme, calls } = target({ patch: false });

    await updateRemoteUser(acme, 'r-alice', [], (current) => ({ ...current, active: false }), {
      id: 'r-alice',
      userName: 'alice',
      meta: { version: 'W/2' },
    });

    expect(calls).toEqual([
      { call: 'PUT /Users/r-alice', body: { id: 'r-alice', userName: 'alice', active: false } },
    ]);
  });

  test('given an app without PATCH, when a group is renamed, then its members survive the PUT', async () => {
    const { acme, calls } = target({ patch: false, held: { members: members('r-alice', 'r-stranger') } });

    await renameRemoteGroup(acme, 'r-eng', { id: 'eng', displayName: 'Engineering' });

    expect(calls.map((c) => c.call)).toEqual(['GET /Groups/r-eng', 'PUT /Groups/r-eng']);
    expect(calls[1].body).toMatchObject({
      displayName: 'Engineering',
      externalId: 'eng',
      members: members('r-alice', 'r-stranger'),
    });
  });

  test('given an app with PATCH, when members change, then adds and removes go in batches of the app’s size', async () => {
    const { acme, calls } = target({ patch: true, membershipBatchSize: 2 });

    const writes = await memberWrites(acme, 'r-eng', eng, { add: ['a', 'b', 'c'], remove: ['x'] });
    for (const write of writes) await write.send();

    expect(writes.map(({ add, remove }) => ({ add, remove }))).toEqual([
      { add: ['a', 'b'], remove: [] },
      { add: ['c'], remove: [] },
      { add: [], remove: ['x'] },
    ]);
    expect(calls.map((c) => c.body)).toEqual([
      [{ op: 'add', path: 'members', value: members('a', 'b') }],
      [{ op: 'add', path: 'members', value: members('c') }],
      [{ op: 'remove', path: 'members[value eq "x"]' }],
    ]);
  });

  test('given an app without PATCH, when members change, then one PUT keeps the members scimflow does not manage', async () => {
    const { acme, calls } = target({
      patch: false,
      held: { members: members('r-alice', 'r-carol', 'r-stranger') },
    });

    const writes = await memberWrites(acme, 'r-eng', eng, { add: ['r-bob'], remove: ['r-carol'] });
    for (const write of writes) await write.send();

    expect(calls.map((c) => c.call)).toEqual(['GET /Groups/r-eng', 'PUT /Groups/r-eng']);
    expect(calls[1].body).toMatchObject({ members: members('r-alice', 'r-stranger', 'r-bob') });
  });

  test('given every member the directory wants, when the app has no PATCH, then the PUT restates them all', async () => {
    const { acme, calls } = target({ patch: false, held: { members: members('r-stranger') } });

    const writes = await memberWrites(acme, 'r-eng', eng, { add: [], remove: [], wanted: ['r-alice'] });
    for (const write of writes) await write.send();

    expect(calls[1].body).toMatchObject({ members: members('r-stranger', 'r-alice') });
  });

  test('given no member change, then no request is made, with or without PATCH', async () => {
    for (const patch of [true, false]) {
      const { acme, calls } = target({ patch });
      expect(await memberWrites(acme, 'r-eng', eng, { add: [], remove: [] }, [])).toEqual([]);
      expect(calls).toEqual([]);
    }
  });
});

describe('remote writes: what a 409 and a 404 mean', () => {
  const conflict = new ScimError('conflict', 'POST /Users answered 409', { status: 409 });
  const notFound = new ScimError('not-found', 'PATCH /Users/r-1 answered 404', { status: 404 });

  test('given a create answered 409, when the object is found, then it is adopted', async () => {
    const result = await createOrAdopt(
      async () => Promise.reject(conflict),
      async () => ({ remoteId: 'r-found' }),
    );
    expect(result).toEqual({ linked: { remoteId: 'r-found' }, adopted: true });
  });

  test('given a create answered 409, when nothing is found, then the conflict stands', async () => {
    await expect(
      createOrAdopt(
        async () => Promise.reject(conflict),
        async () => null,
      ),
    ).rejects.toBe(conflict);
  });

  test('given a create that fails otherwise, then nothing is looked up', async () => {
    const adopt = jest.fn(async () => ({ remoteId: 'r-found' }));
    const rejected = new ScimError('rejected', 'POST /Users answered 400', { status: 400 });
    await expect(createOrAdopt(async () => Promise.reject(rejected), adopt)).rejects.toBe(rejected);
    expect(adopt).not.toHaveBeenCalled();
  });

  test('given a write answered 404, then the object is gone; any other failure stays a failure', async () => {
    expect(await unlessGone(async () => Promise.reject(notFound))).toBe('gone');
    expect(await unlessGone(async () => undefined)).toBe('done');
    await expect(unlessGone(async () => Promise.reject(conflict))).rejects.toBe(conflict);
  });
});

describe('runLimited: bounded concurrency', () => {
  test('given more items than the limit, then no more than the limit run at once, and results keep their order', async () => {
    let inFlight = 0;
    let most = 0;
    const { results, failure } = await runLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return n * 10;
    });
    expect(most).toBe(3);
    expect(results).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(failure).toBeUndefined();
  });

  test('given a failure, then no further item starts, those in flight finish, and the failure is answered', async () => {
    const started: number[] = [];
    const boom = new Error('boom');
    const { results, failure } = await runLimited([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      if (n === 1) throw boom;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return n;
    });
    expect(started).toEqual([1, 2]);
    expect(results).toEqual([undefined, 2, undefined, undefined, undefined]);
    expect(failure).toEqual({ error: boom });
  });
});
