import { IntentPlanner } from '../../../src/directory/intentPlanner';
import { appInputSchema, type ProvisioningSwitches } from '../../../src/directory/model';
import { SqliteDirectoryStore } from '../../../src/directory/sqlite/sqliteStore';
import type { DirectoryStore } from '../../../src/directory/store';

/** The planner's scope decisions against a real in-memory directory: no Temporal, no SCIM. */
describe('IntentPlanner', () => {
  let store: DirectoryStore;
  beforeEach(async () => {
    store = await SqliteDirectoryStore.open(':memory:');
  });
  afterEach(() => store.close());

  async function acmeWithEng(switches: Partial<ProvisioningSwitches> = {}) {
    const app = await store.createApp(
      appInputSchema.parse({
        name: 'Acme',
        baseUrl: 'https://acme.example.com/scim/v2',
        auth: { type: 'bearer', token: 't' },
      }),
    );
    if (Object.keys(switches).length) await store.updateApp(app.id, { provisioning: switches });
    const bob = await store.createUser({ userName: 'bob', active: true });
    const eng = await store.createGroup({ displayName: 'Eng', memberIds: [bob.id] });
    await store.assignGroup(app.id, eng.id);
    return { app, bob, eng };
  }

  test('given Eng assigned to Acme, when Bob leaves Eng, then Bob is deprovisioned and Eng’s members synced', async () => {
    const { app, bob, eng } = await acmeWithEng();
    const change = await new IntentPlanner(store).before([bob.id]);

    await store.removeGroupMember(eng.id, bob.id);
    const intents = await change.intentsFor({
      reason: 'removed-from-group',
      membershipChanges: [{ groupId: eng.id, userIds: [bob.id] }],
    });

    expect(intents.map(({ intent, input }) => ({ intent, input }))).toEqual([
      { intent: 'deprovisionUser', input: { appId: app.id, userId: bob.id, reason: 'removed-from-group' } },
      { intent: 'syncGroupMembership', input: { appId: app.id, groupId: eng.id } },
    ]);
  });

  test('given Acme does not delete users, when Bob leaves Eng, then only Eng’s members are synced', async () => {
    const { bob, eng } = await acmeWithEng({ deleteUsers: false });
    const change = await new IntentPlanner(store).before([bob.id]);

    await store.removeGroupMember(eng.id, bob.id);
    const intents = await change.intentsFor({
      reason: 'removed-from-group',
      membershipChanges: [{ groupId: eng.id, userIds: [bob.id] }],
    });

    expect(intents.map((request) => request.intent)).toEqual(['syncGroupMembership']);
  });

  test('given Bob in Eng, when Bob is deactivated, then he leaves Acme’s scope and is deprovisioned', async () => {
    const { app, bob } = await acmeWithEng();
    const change = await new IntentPlanner(store).before([bob.id]);

    await store.updateUser(bob.id, { active: false });
    const intents = await change.intentsFor({ reason: 'user-deactivated', updatedUserIds: [bob.id] });

    expect(intents.map(({ intent, input }) => ({ intent, input }))).toEqual([
      { intent: 'deprovisionUser', input: { appId: app.id, userId: bob.id, reason: 'user-deactivated' } },
    ]);
  });

  test('given an inactive user, when Carol joins Eng, then nothing is provisioned (only Eng’s members synced)', async () => {
    const { eng } = await acmeWithEng();
    const carol = await store.createUser({ userName: 'carol', active: false });
    const change = await new IntentPlanner(store).before([carol.id]);

    await store.addGroupMember(eng.id, carol.id);
    const intents = await change.intentsFor({
      membershipChanges: [{ groupId: eng.id, userIds: [carol.id] }],
    });

    expect(intents.map((request) => request.intent)).toEqual(['syncGroupMembership']);
  });
});
