import { openTestStore } from '../../support/testStore';
import type { DirectoryStore } from '../../../src/directory/store';
import { recordIntents } from '../../../src/directory/outbox';

describe('outbox leases', () => {
  let store: DirectoryStore;
  beforeEach(async () => {
    store = await openTestStore();
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

  it('lane order: an operation waits until every earlier one of its lane is delivered and seen closed', async () => {
    const [a, b, c] = await record(3);
    // a and c share the lane of user-0; b is alone in the lane of user-1.
    const offered = async () => (await store.deliverableOperations(10)).map((op) => op.sequence);
    expect(await offered()).toEqual([a.sequence, b.sequence]);
    expect((await store.openOperationBefore(c.laneId, c.sequence))?.sequence).toBe(a.sequence);

    await store.markOperationDispatched(a.sequence);
    // Delivered, still running: c waits on it, and the dispatcher is told to ask about a.
    expect(await offered()).toEqual([b.sequence]);
    expect((await store.awaitedOperations(10)).map((op) => op.sequence)).toEqual([a.sequence]);

    await store.markOperationClosed(a.sequence);
    expect(await store.openOperationBefore(c.laneId, c.sequence)).toBeNull();
    expect(await offered()).toEqual([b.sequence, c.sequence]);
    expect(await store.awaitedOperations(10)).toEqual([]);
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
