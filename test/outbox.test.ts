import { Client, Connection } from '@temporalio/client';
import { OutboxDispatcher } from '../src/client';
import { IntentPlanner } from '../src/directory/intentPlanner';
import { recordIntents } from '../src/directory/outbox';
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

    // The first goes now; the second once the first has closed.
    expect(await h.dispatcher.deliverPending()).toBe(1);
    const settled = await h.settle([...first, ...second]);
    expect(settled.map((s) => s.status)).toEqual(['completed', 'completed']);
    const [ran, ranNext] = await Promise.all(
      [...first, ...second].map((op) => h.temporal.workflow.getHandle(op.workflowId).describe()),
    );
    expect(ranNext.startTime.getTime()).toBeGreaterThanOrEqual(ran.closeTime!.getTime());
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

  it("two dispatchers at once start each intent exactly once, and a lane's intents one after the other", async () => {
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
    const second = new OutboxDispatcher(h.temporal, h.store, { taskQueue: h.taskQueue });
    // Both dispatchers start workflows through this client. Temporal itself refuses a second start of a workflow
    // id (and the dispatcher takes that refusal as delivered), so only the starts asked for show a double delivery.
    const starts = jest.spyOn(h.temporal.workflow, 'start');
    const startsOf = new Map<string, number>();
    try {
      // Each pass starts what is free (the first intent of each lane); the watches of both start the rest.
      await Promise.all([h.dispatcher.deliverPending(), second.deliverPending()]);
      const settled = await h.settle(recorded);
      expect(settled.every((s) => s.status === 'completed')).toBe(true);
    } finally {
      await second.idle();
      for (const [, options] of starts.mock.calls) {
        startsOf.set(options.workflowId, (startsOf.get(options.workflowId) ?? 0) + 1);
      }
      starts.mockRestore();
    }
    // Each intent was handed to Temporal once, by one dispatcher: the lease kept the other off it.
    expect(recorded.map((op) => [op.workflowId, startsOf.get(op.workflowId)])).toEqual(
      recorded.map((op) => [op.workflowId, 1]),
    );
    for (const op of recorded) {
      expect(await h.store.getOperation(op.workflowId)).toMatchObject({ deliveryAttempts: 1 });
    }
    for (const user of users) {
      const lane = recorded.filter((op) => op.laneId === `lane:${app.id}:User:${user.id}`);
      const runs = [];
      for (const op of lane) {
        for await (const run of h.temporal.workflow.list({ query: `WorkflowId = '${op.workflowId}'` })) {
          runs.push(run);
        }
      }
      // One run per intent (Temporal's id rule holds that whatever the lease does), none started before the one
      // ahead of it in the lane had closed.
      expect(runs).toHaveLength(3);
      const described = await Promise.all(
        lane.map((op) => h.temporal.workflow.getHandle(op.workflowId).describe()),
      );
      for (let i = 1; i < described.length; i++) {
        expect(described[i].startTime.getTime()).toBeGreaterThanOrEqual(
          described[i - 1].closeTime!.getTime(),
        );
      }
    }
  });
});
