import { recordIntents } from '../../../src/directory/outbox';
import { SqliteDirectoryStore } from '../../../src/directory/sqlite/sqliteStore';
import { Keyring } from '../../../src/security/keyring';

describe('outbox leases', () => {
  let store: SqliteDirectoryStore;
  beforeEach(async () => {
    store = await SqliteDirectoryStore.open(':memory:', { keyring: new Keyring(Keyring.generateKey()) });
  });
  afterEach(async () => {
    await store.close();
  });

  const record = (count: number) =>
    store.transaction((tx) =>
      recordIntents(
        tx,
        Array.from({ length: count }, (_, n) => ({
          intent: 'updateUser' as const,
          input: { appId: 'app', userId: `user-${n % 2}` },
          summary: `update ${n}`,
        })),
      ),
    );

  it('a leased operation cannot be leased again until its lease expires, and is not offered meanwhile', async () => {
    const [first, second] = await record(2);
    expect(await store.leaseOperation(first.sequence, 60_000)).toBe(true);
    expect(await store.leaseOperation(first.sequence, 60_000)).toBe(false);
    expect((await store.deliverableOperations(10)).map((op) => op.sequence)).toEqual([second.sequence]);

    expect(await store.leaseOperation(second.sequence, -1)).toBe(true);
    // An expired lease (its holder died) is offered and taken again.
    expect((await store.deliverableOperations(10)).map((op) => op.sequence)).toEqual([second.sequence]);
    expect(await store.leaseOperation(second.sequence, 60_000)).toBe(true);
  });

  it('a released lease keeps the error and counts the attempt; a delivered operation is never leased again', async () => {
    const [op] = await record(1);
    expect(await store.leaseOperation(op.sequence, 60_000)).toBe(true);
    await store.releaseOperation(op.sequence, 'Temporal unreachable');
    const [offered] = await store.deliverableOperations(10);
    expect(offered).toMatchObject({ deliveryAttempts: 1, lastDeliveryError: 'Temporal unreachable' });

    expect(await store.leaseOperation(op.sequence, 60_000)).toBe(true);
    await store.markOperationDispatched(op.sequence);
    expect(await store.leaseOperation(op.sequence, -1)).toBe(false);
    expect(await store.deliverableOperations(10)).toEqual([]);
  });

  it('lane order: an operation waits while an earlier one of its lane is undelivered', async () => {
    const [a, , c] = await record(3);
    // a and c share the lane of user-0.
    expect(await store.hasUndispatchedBefore(c.laneId, c.sequence)).toBe(true);
    await store.markOperationDispatched(a.sequence);
    expect(await store.hasUndispatchedBefore(c.laneId, c.sequence)).toBe(false);
  });

  it('a change that throws records none of its intents', async () => {
    await expect(
      store.transaction(async (tx) => {
        await recordIntents(tx, [
          { intent: 'updateUser', input: { appId: 'app', userId: 'u' }, summary: 'lost with the change' },
        ]);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await store.deliverableOperations(10)).toEqual([]);
  });
});
