import type { Payload } from '@temporalio/common';
import { Client, Connection } from '@temporalio/client';
import { OutboxDispatcher } from '../src/client';
import { IntentPlanner } from '../src/directory/intentPlanner';
import { recordIntents } from '../src/directory/outbox';
import { EncryptionCodec } from '../src/temporal/payloadCodec';
import { Harness } from './support/harness';

describe('the intent outbox', () => {
  let h: Harness;
  beforeAll(async () => {
    // The API's own outbox loop is slowed down so that the test decides when delivery happens.
    h = await Harness.start({ outboxIntervalMs: 3_600_000 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('given Temporal is unreachable when a change is made, the intents wait in the outbox and run in order once it answers', async () => {
    const app = await h.createApp();
    const wes = await h.createUser('wes@example.com');
    const group = await h.ok<{ id: string }>('POST', '/api/groups', {
      displayName: 'Outbox',
      memberIds: [wes.id],
    });
    await h.change('PUT', `/api/apps/${app.id}/groups/${group.id}`);

    // A client whose Temporal is down: nothing listens on port 9.
    const unreachable = new Client({
      connection: Connection.lazy({ address: '127.0.0.1:9', connectTimeout: 300 }),
    });
    const failures: string[] = [];
    const offline = new OutboxDispatcher(unreachable, h.store, {
      taskQueue: 'unused',
      onDeliveryFailure: (workflowId) => failures.push(workflowId),
      deliveryTimeoutMs: 500,
    });
    const planner = new IntentPlanner(h.store);
    const change = await planner.before([wes.id]);
    await h.store.updateUser(wes.id, { title: 'Offline edit' });
    const first = await offline.dispatch(
      await change.intentsFor({ reason: 'removed-from-group', updatedUserIds: [wes.id] }),
    );
    const second = await h.dispatcher.dispatch([
      { intent: 'updateUser', input: { appId: app.id, userId: wes.id }, summary: 'after the outage' },
    ]);

    expect(failures).toEqual(first.map((op) => op.workflowId));
    // The second intent must not overtake the first: it waits in the outbox too.
    const queued = await h.ok<{ status: string }>(
      'GET',
      `/api/operations/${encodeURIComponent(second[0].workflowId)}`,
    );
    expect(queued).toMatchObject({ status: 'queued', queuedIn: 'outbox' });
    // The first one tried and failed: the operation says so.
    const blocked = await h.ok('GET', `/api/operations/${encodeURIComponent(first[0].workflowId)}`);
    expect(blocked).toMatchObject({ status: 'queued', queuedIn: 'outbox', deliveryAttempts: 1 });
    expect(String(blocked.lastDeliveryError)).not.toBe('');
    expect(h.remoteUser('wes@example.com')?.title).toBeUndefined();

    expect(await h.dispatcher.deliverPending()).toBe(2);
    const settled = await h.settle([...first, ...second]);
    expect(settled.map((s) => s.status)).toEqual(['completed', 'completed']);
    expect(h.remoteUser('wes@example.com')?.title).toBe('Offline edit');
    await unreachable.connection.close().catch(() => undefined);
  });

  it('a change issuing many intents is answered once they are recorded, and they are delivered in the background', async () => {
    const h2 = await Harness.start();
    try {
      const { group } = await h2.appWithAssignedGroup();
      const users = [];
      for (let i = 0; i < 60; i++) users.push(await h2.createUser(`bulk-${i}@example.com`));
      const answer = await h2.ok<{
        operations: { workflowId: string; appId: string; intent: string; status: string }[];
      }>('PATCH', `/api/groups/${group.id}`, { memberIds: users.map((user) => user.id) });
      expect(answer.operations).toHaveLength(60);
      expect(answer.operations.every((op) => op.intent === 'provisionUser' && op.status === 'queued')).toBe(
        true,
      );
      const settled = await h2.settle(answer.operations);
      expect(settled.every((s) => s.status === 'completed')).toBe(true);
      expect(h2.scim.users().filter((u) => u.userName.startsWith('bulk-'))).toHaveLength(60);
      expect(await h2.store.deliverableOperations(10)).toEqual([]);
    } finally {
      await h2.close();
    }
  });

  it('two delivery passes at once hand each intent over exactly once, in lane order', async () => {
    const app = await h.createApp();
    const users = [];
    for (let i = 0; i < 10; i++) users.push(await h.createUser(`lease-${i}@example.com`));
    // Three intents per user, recorded but not yet delivered, as after a crash.
    const requests = users.flatMap((user) =>
      [1, 2, 3].map((n) => ({
        intent: 'updateUser' as const,
        input: { appId: app.id, userId: user.id },
        summary: `update ${n}`,
      })),
    );
    const recorded = await h.store.transaction((tx) => recordIntents(tx, requests));
    const second = new OutboxDispatcher(h.temporal, h.store, { taskQueue: 'unused-never-started' });
    const [a, b] = await Promise.all([h.dispatcher.deliverPending(), second.deliverPending()]);
    // The second dispatcher may start lanes on its own task queue name, but each intent goes exactly once.
    expect(a + b).toBe(30);
    // Signals that arrive while a lane's workflow task runs enter its history after it: let the intents run first.
    await h.settle(recorded);
    for (const user of users) {
      const laneId = `lane:${app.id}:User:${user.id}`;
      const history = await h.temporal.workflow.getHandle(laneId).fetchHistory();
      const codec = new EncryptionCodec(h.keyring);
      const signalled = (history.events ?? [])
        .flatMap(
          (event) => event.workflowExecutionSignaledEventAttributes?.input?.payloads?.slice(0, 1) ?? [],
        )
        .map((payload) => {
          const { data } = codec.decodeOne(payload as Payload);
          return (JSON.parse(Buffer.from(data as Uint8Array).toString()) as { workflowId: string })
            .workflowId;
        });
      const expected = recorded.filter((op) => op.laneId === laneId).map((op) => op.workflowId);
      expect(signalled).toEqual(expected);
    }
  });
});
