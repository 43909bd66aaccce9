import { openTestStore } from '../../support/testStore';
import { appInputSchema, type DirectoryApp, userAttributesSchema } from '../../../src/directory/model';
import type { DirectoryStore } from '../../../src/directory/store';
import { GroupProvisioning } from '../../../src/provisioning/groups';
import { userKey } from '../../../src/provisioning/links';
import { Targets } from '../../../src/provisioning/targets';
import { UserProvisioning } from '../../../src/provisioning/users';
import type { ScimClient } from '../../../src/scim/client';
import type { ScimUser } from '../../../src/scim/schemas';

/** An app's SCIM service provider in memory: what it holds, and every request it received. */
class FakeTarget {
  readonly users: ScimUser[] = [];
  readonly requests: string[] = [];

  client(): ScimClient {
    const answer = () => new Promise((resolve) => setTimeout(resolve, 1));
    return {
      listPages: async function* (this: FakeTarget) {
        this.requests.push('GET /Users');
        await answer();
        const resources = [...this.users];
        yield {
          startIndex: 1,
          nextStartIndex: resources.length + 1,
          totalResults: resources.length,
          last: true,
          resources,
        };
      }.bind(this),
      findUser: async (_attribute: string, value: string) => {
        this.requests.push(`GET /Users?filter=${value}`);
        await answer();
        return this.users.find((user) => user.userName === value) ?? null;
      },
      createUser: async (user: ScimUser) => {
        this.requests.push(`POST /Users ${user.userName}`);
        await answer();
        const created = { ...user, id: `r-${user.userName}` };
        this.users.push(created);
        return created;
      },
    } as unknown as ScimClient;
  }
}

class FakeTargets extends Targets {
  constructor(
    store: DirectoryStore,
    private readonly fake: FakeTarget,
  ) {
    super(store);
  }
  override clientFor(_app: DirectoryApp): ScimClient {
    return this.fake.client();
  }
}

describe('bulk member provisioning of overlapping groups', () => {
  let store: DirectoryStore;
  let target: FakeTarget;
  let groups: GroupProvisioning;
  let appId: string;
  beforeEach(async () => {
    store = await openTestStore();
    appId = (
      await store.createApp(
        appInputSchema.parse({
          name: 'Acme',
          baseUrl: 'https://acme.example.com/scim/v2',
          auth: { type: 'bearer', token: 't' },
        }),
      )
    ).id;
    target = new FakeTarget();
    const targets = new FakeTargets(store, target);
    groups = new GroupProvisioning(store, targets, new UserProvisioning(store, targets));
  });
  afterEach(() => store.close());

  async function group(displayName: string, userNames: string[]) {
    const members = [];
    for (const userName of userNames) {
      members.push(
        (await store.findUserByUserName(userName)) ??
          (await store.createUser(userAttributesSchema.parse({ userName }))),
      );
    }
    const created = await store.createGroup({ displayName, memberIds: members.map((member) => member.id) });
    await store.assignGroup(appId, created.id);
    return created;
  }

  test('given three groups sharing 40 users, when their members are provisioned at once, then each user is POSTed once, nobody is looked up with a filtered GET, and no call fails on another call’s claim', async () => {
    const userNames = Array.from({ length: 40 }, (_, i) => `u${String(i).padStart(2, '0')}`);
    const [a, b, c] = [await group('A', userNames), await group('B', userNames), await group('C', userNames)];

    const results = await Promise.all(
      [a, b, c].map((g) => groups.provisionMembers(appId, g.id, `createGroup:${g.displayName}/1`)),
    );

    expect(results.map((r) => r.created + r.adopted)).toEqual([40, 40, 40]);
    expect(results.reduce((sum, r) => sum + r.created, 0)).toBe(40);
    expect(target.requests.filter((r) => r.startsWith('POST'))).toHaveLength(40);
    expect(target.requests.filter((r) => r.includes('filter'))).toEqual([]);
    expect(target.requests.filter((r) => r === 'GET /Users')).toHaveLength(1);
  });

  test('given Bob’s creation claimed by another process, when his group’s members are provisioned, then the call waits for it, heartbeating, and adopts Bob once the other has linked him, with no request for him', async () => {
    const eng = await group('Eng', ['alice', 'bob']);
    const bob = eng.memberIds[1];
    await store.claimCreation(userKey(appId, bob), 'provisionUser:bob/1', 60_000);
    const heartbeats: number[] = [];

    const provisioning = groups.provisionMembers(appId, eng.id, 'createGroup:eng/1', {
      onProgress: (done) => heartbeats.push(done),
    });
    await new Promise((resolve) => setTimeout(resolve, 700));
    await store.saveLink({
      appId,
      resourceType: 'User',
      localId: bob,
      remoteId: 'r-bob-elsewhere',
      lastPushed: {},
      status: 'synced',
      lastError: null,
    });
    await store.releaseCreationClaim(userKey(appId, bob), 'provisionUser:bob/1');

    expect(await provisioning).toEqual({ linked: 0, created: 1, adopted: 1, skipped: 0 });
    expect(target.requests).toEqual(['GET /Users', 'POST /Users alice']);
    expect(heartbeats.length).toBeGreaterThanOrEqual(2);
    expect(heartbeats.at(-1)).toBe(2);
  });

  test('given Carol already in the target, unlinked, and Dave linked to a remote user of the same userName as Erin, when their group is provisioned, then Carol is adopted from the listing and Erin is created, not given Dave’s remote user', async () => {
    target.users.push({ id: 'r-carol', userName: 'CAROL' } as ScimUser);
    const ops = await group('Ops', ['carol', 'erin', 'dave']);
    const [carol, erin, dave] = ops.memberIds;
    // Dave was renamed in the directory; his remote user still carries the name Erin has now.
    target.users.push({ id: 'r-dave', userName: 'erin' } as ScimUser);
    await store.saveLink({
      appId,
      resourceType: 'User',
      localId: dave,
      remoteId: 'r-dave',
      lastPushed: {},
      status: 'synced',
      lastError: null,
    });

    const result = await groups.provisionMembers(appId, ops.id, 'createGroup:ops/1');

    expect(result).toEqual({ linked: 1, created: 1, adopted: 1, skipped: 0 });
    expect((await store.getLink(appId, 'User', carol))?.remoteId).toBe('r-carol');
    expect((await store.getLink(appId, 'User', erin))?.remoteId).not.toBe('r-dave');
    expect(target.requests).toEqual(['GET /Users', 'POST /Users erin']);
  });
  test('given Bob leaves the group while its provisioning waits for another creator of his, when that creator lets go without creating him, then the provisioning does not create him (he is no longer in the app)', async () => {
    const eng = await group('Eng', ['alice', 'bob']);
    const [alice, bob] = eng.memberIds as [string, string];
    await store.claimCreation(userKey(appId, bob), 'provisionUser:bob/1', 60_000);

    const provisioning = groups.provisionMembers(appId, eng.id, 'createGroup:eng/1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await store.updateGroup(eng.id, { memberIds: [alice] });
    await store.releaseCreationClaim(userKey(appId, bob), 'provisionUser:bob/1');

    expect(await provisioning).toMatchObject({ created: 1, skipped: 1 });
    expect(target.requests.filter((request) => request.startsWith('POST'))).toEqual(['POST /Users alice']);
    expect(await store.hasCreationClaim(userKey(appId, bob))).toBe(false);
  });

  test('given members not provisioned yet (one active, one inactive) and one linked, when the group’s membership is synced, then the active one is answered for its own provisioning, which joins it to all its groups', async () => {
    const eng = await group('Eng', ['alice', 'bob', 'carol']);
    const [alice, bob, carol] = eng.memberIds as [string, string, string];
    await store.updateUser(bob, { active: false });
    await store.saveLink({
      appId,
      resourceType: 'Group',
      localId: eng.id,
      remoteId: 'r-eng',
      lastPushed: null,
      status: 'synced',
    });
    await store.saveLink({
      appId,
      resourceType: 'User',
      localId: carol,
      remoteId: 'r-carol',
      lastPushed: null,
      status: 'synced',
    });
    await store.addRemoteMembers(appId, eng.id, [carol]);

    const change = await groups.syncMembers(appId, eng.id);

    expect(change).toEqual({ added: 0, removed: 0, requests: 0, unprovisioned: [alice] });
  });
});
