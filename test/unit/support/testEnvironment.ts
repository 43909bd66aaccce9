import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import {
  ActivityFailure,
  ApplicationFailure,
  type Workflow,
  type WorkflowResultType,
} from '@temporalio/common';
import { WorkflowFailedError, type WorkflowStartOptions } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { Activities } from '../../../src/activities';
import { type ScimFailureKind, scimFailureTypes } from '../../../src/shared/failureTypes';
import { customSearchAttributes } from '../../../src/shared/searchAttributes';
import { findTestServer } from './testServer';

const { IndexedValueType } = temporal.api.enums.v1;

/** What an intent workflow may call; a test hands in the ones its story needs. */
export type ActivityMocks = Partial<Activities>;

/**
 * The activities the intent workflows call, all registered on the worker. Each one a test does not mock fails at
 * once (non-retryable), so a workflow that takes an unexpected turn fails its test instead of retrying until the
 * test times out.
 */
const activityNames = [
  'loadUserPlan',
  'planUserProvisioning',
  'findAndLinkRemoteUser',
  'createAndLinkRemoteUser',
  'pushUserChanges',
  'joinRemoteGroups',
  'recordUserFailure',
  'deactivateRemoteUser',
  'deleteRemoteUser',
  'forgetRemoteUser',
  'loadGroupPlan',
  'findAndLinkRemoteGroup',
  'createAndLinkRemoteGroup',
  'provisionGroupMembers',
  'syncGroupMembers',
  'renameRemoteGroup',
  'deleteRemoteGroup',
  'forgetRemoteGroup',
  'recordGroupFailure',
] as const satisfies readonly (keyof Activities)[];
type ActivityName = (typeof activityNames)[number];

/**
 * One activity call as the worker saw it, listed when it finished (returned or threw), so that the list shows
 * whether one workflow's calls overlapped another's.
 */
export interface ActivityCall {
  name: string;
  args: unknown[];
  /** The workflow that called it. */
  workflowId: string;
}

/**
 * The time-skipping test server and one worker, per test file, with the workflows bundled once (the bundle and
 * the worker are most of the start-up cost). Register it at the top of a test file:
 * `const workflows = workflowTestEnvironment();`. Tests in a file run one after the other (time skipping is
 * global to the server), each with its own activity mocks.
 */
export function workflowTestEnvironment() {
  let started:
    | { env: TestWorkflowEnvironment; worker: Worker; running: Promise<void>; stopped: Promise<never> }
    | undefined;
  const taskQueue = `unit-${randomUUID()}`;
  /** The mocks of the test that runs now, and the calls they saw. */
  let current: { mocks: ActivityMocks; calls: ActivityCall[] } | undefined;

  beforeAll(async () => {
    installQuietRuntime();
    const [env, bundle] = await Promise.all([
      createTimeSkippingEnvironment(),
      bundleWorkflowCode({
        workflowsPath: require.resolve('../../../src/workflows'),
        logger: new DefaultLogger('WARN'),
      }),
    ]);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { code: bundle.code },
      // A mock that never answers (a test that already failed on its deadline) must not hold up the shutdown.
      shutdownForceTime: '3s',
      activities: Object.fromEntries(
        activityNames.map((name) => [name, (...args: unknown[]) => callMock(name, args)]),
      ),
    });
    const running = worker.run();
    // A test races this, so that a worker that dies fails the test at once, with its error.
    const stopped = running.then(() => {
      throw new Error('the worker stopped during the test');
    });
    stopped.catch(() => undefined);
    started = { env, worker, running, stopped };
  });

  afterAll(async () => {
    if (!started) return;
    started.worker.shutdown();
    try {
      await started.running;
    } finally {
      await started.env.teardown();
    }
  });

  async function callMock(name: ActivityName, args: unknown[]): Promise<unknown> {
    const test = current;
    if (!test) throw notMocked(name);
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? '(no workflow)';
    try {
      const mock = test.mocks[name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
      if (!mock) throw notMocked(name);
      return await mock(...args);
    } finally {
      test.calls.push({ name, args, workflowId });
    }
  }

  /** Runs `fn` while the worker serves these activities on `taskQueue`; records every activity call. */
  async function withActivities<T>(
    mocks: ActivityMocks,
    fn: (context: { env: TestWorkflowEnvironment; taskQueue: string }) => Promise<T>,
  ): Promise<{ value: T; calls: ActivityCall[] }> {
    if (!started) throw new Error('the test environment did not start (see beforeAll)');
    const unknown = Object.keys(mocks).filter((name) => !(activityNames as readonly string[]).includes(name));
    if (unknown.length > 0)
      throw new Error(`add ${unknown.join(', ')} to activityNames in testEnvironment.ts`);
    const calls: ActivityCall[] = [];
    current = { mocks, calls };
    try {
      const value = await withinDeadline(
        Promise.race([fn({ env: started.env, taskQueue }), started.stopped]),
      );
      return { value, calls };
    } finally {
      current = undefined;
    }
  }

  /** Runs one workflow to its end with these activities: its result (or failure), and the activity calls. */
  async function execute<W extends Workflow>(
    workflow: W,
    args: Parameters<W>,
    mocks: ActivityMocks,
  ): Promise<{ result: WorkflowResultType<W>; calls: ActivityCall[] }> {
    const { value, calls } = await withActivities(mocks, ({ env, taskQueue }) =>
      env.client.workflow.execute(workflow, startOptions(workflow, args, taskQueue)),
    );
    return { result: value, calls };
  }

  /** Runs one workflow that is to fail: how it failed, and the activity calls it made before. */
  async function executeFailing<W extends Workflow>(
    workflow: W,
    args: Parameters<W>,
    mocks: ActivityMocks,
  ): Promise<{ error: WorkflowFailedError; calls: ActivityCall[] }> {
    const { value, calls } = await withActivities(mocks, ({ env, taskQueue }) =>
      env.client.workflow.execute(workflow, startOptions(workflow, args, taskQueue)).then(
        (result) => new Error(`expected ${workflow.name} to fail, but it returned ${JSON.stringify(result)}`),
        (error: unknown) => error,
      ),
    );
    if (!(value instanceof WorkflowFailedError)) throw value;
    return { error: value, calls };
  }

  return { execute, executeFailing, withActivities };
}

function startOptions<W extends Workflow>(
  workflow: W,
  args: Parameters<W>,
  taskQueue: string,
): WorkflowStartOptions<W> {
  // The SDK types `args` conditionally on the workflow's arity, which a generic W cannot satisfy.
  const options = { args, taskQueue, workflowId: `${workflow.name}-${randomUUID()}` };
  return options as unknown as WorkflowStartOptions<W>;
}

/**
 * The time-skipping server from the pinned PyPI package (see testServer.ts), not the SDK's GitHub download, with
 * scimflow's search attributes registered: without them the server never starts a lane's child workflows.
 */
export async function createTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const path = await findTestServer();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
  // The test server has no ListSearchAttributes, so ensureSearchAttributes (src/temporal) cannot serve here.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      customSearchAttributes.map((key) => [key.name, IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]]),
    ),
  });
  return env;
}

/**
 * Time is skipped, so a workflow that does not end within seconds waits for something that never comes (a signal,
 * an activity that keeps failing). Failing here, before jest's timeout, lets the worker shut down cleanly.
 */
const WORKFLOW_DEADLINE_MS = 20_000;

function withinDeadline<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(
          `the workflow did not finish within ${WORKFLOW_DEADLINE_MS / 1000} s although time is skipped: ` +
            'it waits for something that never comes (a signal, an activity that keeps failing)',
        ),
      );
    }, WORKFLOW_DEADLINE_MS);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function notMocked(name: string): Error {
  return ApplicationFailure.create({
    type: 'UnexpectedActivity',
    message: `${name} was called, but this test does not expect it`,
    nonRetryable: true,
  });
}

/** What an activity throws when the target answered with a final SCIM error (as activities/index.ts does). */
export function scimFailure(
  kind: ScimFailureKind,
  message = `the target answered ${kind}`,
): ApplicationFailure {
  return ApplicationFailure.create({ type: scimFailureTypes[kind], message, nonRetryable: true });
}

/** The failure type a workflow ended with: the ApplicationFailure behind the activity failure that ended it. */
export function failureTypeOf(error: unknown): string | undefined {
  if (!(error instanceof WorkflowFailedError)) return undefined;
  const cause = error.cause instanceof ActivityFailure ? error.cause.cause : error.cause;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

let runtimeInstalled = false;
function installQuietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    // Expected failures (a 409, a 404) are logged as warnings, and the core warns on every worker that the test
    // server lacks a newer server's heartbeat capability (no workflow here heartbeats): keep the console for errors.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
    });
  } catch {
    // Installed already in this jest worker process.
  }
}
