import { Client, Connection } from '@temporalio/client';
import { OutboxDispatcher } from '../src/client';
import { IntentPlanner } from '../src/directory/intentPlanner';
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
    expect(queued.status).toBe('queued');
    expect(h.remoteUser('wes@example.com')?.title).toBeUndefined();

    expect(await h.dispatcher.deliverPending()).toBe(2);
    const settled = await h.settle([...first, ...second]);
    expect(settled.map((s) => s.status)).toEqual(['completed', 'completed']);
    expect(h.remoteUser('wes@example.com')?.title).toBe('Offline edit');
    await unreachable.connection.close().catch(() => undefined);
  });
});
