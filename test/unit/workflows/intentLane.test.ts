import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { QueuedIntent } from '../../../src/shared/intents';
import { enqueueIntent, intentLane } from '../../../src/workflows/intentLane';
import { userPlan } from '../support/plans';
import { scimFailure, workflowTestEnvironment } from '../support/testEnvironment';

const workflows = workflowTestEnvironment();

/** Each test its own app, so that its workflow ids (fixed per intent, duplicates rejected) are its own. */
let appId: string;
beforeEach(() => {
  appId = `acme-${randomUUID()}`;
});

/** An intent for Alice in the app, numbered as the outbox numbers them. */
function aliceIntent(intent: 'updateUser' | 'deprovisionUser', n: number): QueuedIntent {
  return {
    intent,
    input: { appId, userId: 'alice' },
    summary: `${intent} alice@example.com → Acme`,
    workflowId: `${intent}:${appId}:alice:${n}`,
  };
}

const laneOfAlice = () => `lane:${appId}:User:alice`;

const callingWorkflow = () => Context.current().info.workflowExecution?.workflowId;

/** The workflows in the order their activity calls finished, each listed once per uninterrupted run of calls. */
function runs(calls: { workflowId: string }[]): string[] {
  return calls
    .map((call) => call.workflowId)
    .filter((workflowId, i, ids) => i === 0 || ids[i - 1] !== workflowId);
}

describe('intentLane', () => {
  test('given an intent still running, when two more arrive, then they run after it, one at a time, in the order issued', async () => {
    const [first, second, third] = [
      aliceIntent('updateUser', 1),
      aliceIntent('deprovisionUser', 2),
      aliceIntent('updateUser', 3),
    ];
    let firstStarted!: () => void;
    const firstIsRunning = new Promise<void>((resolve) => (firstStarted = resolve));
    let releaseFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (releaseFirst = resolve));

    const { calls } = await workflows.withActivities(
      {
        loadUserPlan: async () => {
          if (callingWorkflow() === first.workflowId) {
            firstStarted();
            await firstMayFinish;
          }
          return userPlan({ inScope: false });
        },
        deactivateRemoteUser: async () => ({ written: true, gone: false }),
      },
      async ({ env, taskQueue }) => {
        const lane = await env.client.workflow.signalWithStart(intentLane, {
          workflowId: laneOfAlice(),
          taskQueue,
          args: [[]],
          signal: enqueueIntent,
          signalArgs: [first],
        });
        await firstIsRunning;
        await lane.signal(enqueueIntent, second);
        await lane.signal(enqueueIntent, third);
        releaseFirst();
        await lane.result();
      },
    );

    expect(runs(calls)).toEqual([first.workflowId, second.workflowId, third.workflowId]);
  });

  test('given an intent delivered twice (the outbox redelivers), when the lane runs, then it runs once and the next intent still runs', async () => {
    const first = aliceIntent('deprovisionUser', 1);
    const next = aliceIntent('updateUser', 2);

    const { calls } = await workflows.withActivities(
      {
        loadUserPlan: async () => userPlan({ inScope: false }),
        deactivateRemoteUser: async () => ({ written: true, gone: false }),
      },
      ({ env, taskQueue }) =>
        env.client.workflow.execute(intentLane, {
          workflowId: laneOfAlice(),
          taskQueue,
          args: [[first, first, next]],
        }),
    );

    expect(runs(calls)).toEqual([first.workflowId, next.workflowId]);
    expect(calls.filter((call) => call.name === 'deactivateRemoteUser')).toHaveLength(1);
  });

  test('given an intent that fails, when the lane runs, then that intent keeps its failure and the next intent still runs', async () => {
    const failing = aliceIntent('deprovisionUser', 1);
    const next = aliceIntent('updateUser', 2);

    const { value: failedStatus, calls } = await workflows.withActivities(
      {
        loadUserPlan: async () => userPlan({ inScope: false }),
        deactivateRemoteUser: async () => {
          throw scimFailure('rejected');
        },
        recordUserFailure: async () => undefined,
      },
      async ({ env, taskQueue }) => {
        await env.client.workflow.execute(intentLane, {
          workflowId: laneOfAlice(),
          taskQueue,
          args: [[failing, next]],
        });
        return (await env.client.workflow.getHandle(failing.workflowId).describe()).status.name;
      },
    );

    expect(failedStatus).toBe('FAILED');
    expect(runs(calls)).toEqual([failing.workflowId, next.workflowId]);
  });

  test('given an intent, when the lane runs it, then its child workflow carries the app, resource and intent for search', async () => {
    const intent = aliceIntent('updateUser', 1);

    const { value: searchAttributes } = await workflows.withActivities(
      { loadUserPlan: async () => userPlan({ inScope: false }) },
      async ({ env, taskQueue }) => {
        await env.client.workflow.execute(intentLane, {
          workflowId: laneOfAlice(),
          taskQueue,
          args: [[intent]],
        });
        return (await env.client.workflow.getHandle(intent.workflowId).describe()).searchAttributes;
      },
    );

    // (and TemporalChangeVersion, which the SDK sets for the versions the intent's code took)
    expect(searchAttributes).toMatchObject({
      ScimAppId: [appId],
      ScimResourceType: ['User'],
      ScimResourceId: ['alice'],
      ScimIntent: ['updateUser'],
    });
  });
});
