import { openTestStore, testStoreKind } from '../../support/testStore';
import { DuplicateError, UnknownReferenceError } from '../../../src/directory/errors';
import type { DirectoryStore } from '../../../src/directory/store';

describe(`the directory store (${testStoreKind()})`, () => {
  let store: DirectoryStore;
  beforeEach(async () => {
    store = await openTestStore();
  });
  afterEach(() => store.close());

  test('given user alice@example.com, when ALICE@example.com is created, then it is a duplicate (userName ignores case)', async () => {
    await store.createUser({ userName: 'alice@example.com', active: true });

    await expect(store.createUser({ userName: 'ALICE@example.com', active: true })).rejects.toThrow(
      new DuplicateError('user', 'userName', 'ALICE@example.com'),
    );
    expect((await store.findUserByUserName('Alice@Example.com'))?.userName).toBe('alice@example.com');
  });

  test('given permission billing.read, when it is created again, then it is a duplicate (its key is the primary key)', async () => {
    await store.createPermission({ key: 'billing.read' });

    await expect(store.createPermission({ key: 'billing.read' })).rejects.toBeInstanceOf(DuplicateError);
  });

  test('given a member id that does not exist, when a group is created with it, then nothing is created', async () => {
    const alice = await store.createUser({ userName: 'alice', active: true });

    await expect(store.createGroup({ displayName: 'Eng', memberIds: [alice.id, 'ghost'] })).rejects.toThrow(
      new UnknownReferenceError('user', ['ghost']),
    );
    expect(await store.findGroupByDisplayName('Eng')).toBeNull();
    expect(await store.groupIdsOfUser(alice.id)).toEqual([]);
  });

  test('given groups Eng and Ops, when Eng is renamed to ops and given new members, then neither change is made', async () => {
    const [alice, bob] = await Promise.all([
      store.createUser({ userName: 'alice', active: true }),
      store.createUser({ userName: 'bob', active: true }),
    ]);
    const eng = await store.createGroup({ displayName: 'Eng', memberIds: [alice.id] });
    await store.createGroup({ displayName: 'Ops' });

    await expect(
      store.updateGroup(eng.id, { displayName: 'ops', memberIds: [bob.id] }),
    ).rejects.toBeInstanceOf(DuplicateError);
    expect(await store.getGroup(eng.id)).toMatchObject({ displayName: 'Eng', memberIds: [alice.id] });
  });

  test('given the store, when a method is taken off it, then it still works (methods are closures, not bound to `this`)', async () => {
    const { createUser, getUser } = store;

    const alice = await createUser({ userName: 'alice', active: true });

    expect((await getUser(alice.id))?.userName).toBe('alice');
  });
});

describe('the directory queries inside a transaction the caller opened', () => {
  let store: DirectoryStore;
  beforeEach(async () => {
    store = await openTestStore();
  });
  afterEach(() => store.close());

  test('given a transaction, when a group is created in it and the transaction rolls back, then the group is gone', async () => {
    const alice = await store.createUser({ userName: 'alice', active: true });

    await expect(
      store.transaction(async (inside) => {
        // createGroup writes several rows in a transaction of its own; given one, it joins it.
        await inside.createGroup({ displayName: 'Eng', memberIds: [alice.id] });
        expect(await inside.findGroupByDisplayName('Eng')).not.toBeNull();
        throw new Error('the change behind it failed');
      }),
    ).rejects.toThrow('the change behind it failed');

    expect(await store.findGroupByDisplayName('Eng')).toBeNull();
  });

  test('given a transaction, when several changes are made in it and it commits, then all of them are kept', async () => {
    await store.transaction(async (inside) => {
      const alice = await inside.createUser({ userName: 'alice', active: true });
      const eng = await inside.createGroup({ displayName: 'Eng', memberIds: [alice.id] });
      await inside.updateUser(alice.id, { title: 'Engineer' });
      await inside.updateGroup(eng.id, { displayName: 'Engineering' });
    });

    const alice = await store.findUserByUserName('alice');
    expect(alice?.title).toBe('Engineer');
    expect((await store.findGroupByDisplayName('Engineering'))?.memberIds).toEqual([alice?.id]);
  });
});
