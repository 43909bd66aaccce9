import { Harness, type Operation } from './support/harness';
import type { Fault } from './support/faultProxy';

interface View {
  workflowId: string;
  status: string;
  attempt?: number;
  lastError?: string | null;
  retryingActivity?: string;
  lastAttemptAt?: string | null;
  nextAttemptAt?: string | null;
}

/**
 * An intent whose target is down keeps retrying its activity for up to an hour. The API has to say so: the
 * operation is `retrying`, with the attempt and the last error, and not a silent `running`.
 */
describe('the status of an operation whose target is down', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => h.proxy.clearFaults());

  const operationPath = (workflowId: string) => `/api/operations/${encodeURIComponent(workflowId)}`;

  /** Polls until `accept` holds, failing with the last value seen after a generous deadline. */
  async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const value = await read();
      if (accept(value)) return value;
      if (Date.now() > deadline) throw new Error(`still not there: ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function listed(appId: string, status: string): Promise<View[]> {
    const { items } = await h.ok<{ items: View[] }>('GET', `/api/operations?appId=${appId}&status=${status}`);
    return items;
  }

  /** Given an app with an assigned group, when the target fails every request and a user joins the group… */
  async function provisionWhileTargetFails(userName: string, fault: Fault) {
    const { app, group } = await h.appWithAssignedGroup();
    const user = await h.createUser(userName);
    h.proxy.failNext({}, fault, 1_000_000);
    const body = await h.ok<{ operations: Operation[] }>('PUT', `/api/groups/${group.id}/members/${user.id}`);
    expect(body.operations).toEqual([expect.objectContaining({ intent: 'provisionUser', appId: app.id })]);
    return { app, operation: body.operations[0] };
  }

  /** Given an app and a group with members, when the next `times` requests meet `fault` and the group is assigned… */
  async function assignGroupWhileTargetFails(userNames: string[], fault: Fault, times = 1_000_000) {
    const app = await h.createApp();
    const members = await Promise.all(userNames.map((userName) => h.createUser(userName)));
    const group = await h.ok<{ id: string; displayName: string }>('POST', '/api/groups', {
      displayName: `Assigned ${app.id.slice(0, 8)}`,
      memberIds: members.map((member) => member.id),
    });
    h.proxy.failNext({}, fault, times);
    const body = await h.ok<{ operations: Operation[] }>('PUT', `/api/apps/${app.id}/groups/${group.id}`);
    expect(body.operations).toEqual([expect.objectContaining({ intent: 'createGroup', appId: app.id })]);
    return { app, group, operation: body.operations[0] };
  }

  it('a target answering 503 shows the operation retrying with the attempt and the error; once healed it completes', async () => {
    const { app, operation } = await provisionWhileTargetFails('una@example.com', {
      type: 'status',
      status: 503,
    });

    const retrying = await eventually(
      () => h.ok<View>('GET', operationPath(operation.workflowId)),
      (view) => view.status === 'retrying' && (view.attempt ?? 0) >= 2,
    );
    expect(retrying).toMatchObject({
      retryingActivity: expect.any(String),
      lastError: expect.stringContaining('503'),
      lastAttemptAt: expect.any(String),
    });
    const inRetrying = await eventually(
      () => listed(app.id, 'retrying'),
      (items) => items.some((item) => item.workflowId === operation.workflowId),
    );
    expect(inRetrying.find((item) => item.workflowId === operation.workflowId)).toMatchObject({
      status: 'retrying',
      attempt: expect.any(Number),
      lastError: expect.stringContaining('503'),
    });
    expect((await listed(app.id, 'running')).map((item) => item.workflowId)).not.toContain(
      operation.workflowId,
    );

    h.proxy.clearFaults();

    const [settled] = await h.settle([operation]);
    expect(settled).toMatchObject({ status: 'completed', result: { outcome: 'written' } });
    const done = await h.ok<View>('GET', operationPath(operation.workflowId));
    expect(done.status).toBe('completed');
    expect(done).not.toHaveProperty('lastError');
    expect(h.remoteUser('una@example.com')).toBeDefined();
  });

  it('a target that drops every connection shows the group assignment retrying with the network error', async () => {
    const { app, group, operation } = await assignGroupWhileTargetFails(['vic@example.com'], {
      type: 'timeout',
      ms: 0,
    });

    const retrying = await eventually(
      () => h.ok<View>('GET', operationPath(operation.workflowId)),
      (view) => view.status === 'retrying' && (view.attempt ?? 0) >= 2,
    );
    expect(retrying.lastError).toEqual(expect.stringContaining('failed'));
    await eventually(
      () => listed(app.id, 'retrying'),
      (items) => items.some((item) => item.workflowId === operation.workflowId),
    );

    h.proxy.clearFaults();

    const [settled] = await h.settle([operation]);
    expect(settled).toMatchObject({ status: 'completed' });
    expect(h.remoteGroup(group.displayName)?.members).toEqual([
      expect.objectContaining({ value: h.remoteUser('vic@example.com')?.id }),
    ]);
  });

  it('an operation that only runs, without failing, is listed running and never retrying', async () => {
    // Slow, not failing (the app's timeout is 15 s): the first attempt is still in flight while we look.
    const { app, operation } = await assignGroupWhileTargetFails(
      ['wes@example.com'],
      { type: 'delay', ms: 8000 },
      1,
    );

    const running = await eventually(
      () => listed(app.id, 'running'),
      (items) => items.some((item) => item.workflowId === operation.workflowId),
    );
    expect(running.find((item) => item.workflowId === operation.workflowId)).not.toHaveProperty('attempt');
    expect(await h.ok<View>('GET', operationPath(operation.workflowId))).toMatchObject({ status: 'running' });
    expect((await listed(app.id, 'retrying')).map((item) => item.workflowId)).not.toContain(
      operation.workflowId,
    );

    const [settled] = await h.settle([operation]);
    expect(settled).toMatchObject({ status: 'completed' });
  });
});
